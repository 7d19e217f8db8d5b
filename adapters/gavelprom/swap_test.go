package gavelprom_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
	"github.com/gavelrtb/gavel/auctiontest"
)

// swapRig makes Auctions observed by one Metrics, whose events all go to
// a closed sink, so that every auction counts in Stats.EventWriteErrors.
type swapRig struct {
	m    *gavelprom.Metrics
	sink *gavel.AsyncSink
}

func newSwapRig(t *testing.T) *swapRig {
	t.Helper()
	m, err := gavelprom.New()
	require.NoError(t, err)
	sink, err := gavel.NewAsyncSink(&auctiontest.EventRecorder{})
	require.NoError(t, err)
	require.NoError(t, sink.Close(context.Background()))
	return &swapRig{m: m, sink: sink}
}

func (r *swapRig) auction(t *testing.T, bidder string) *gavel.Auction {
	t.Helper()
	a, err := gavel.New(gavel.WithBidders(auctiontest.Fixed(bidder, auctiontest.Bid("b", "1", 2))),
		gavel.WithEventSink(r.sink), gavel.WithHooks(r.m))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return a
}

func run(t *testing.T, a *gavel.Auction, n int) {
	t.Helper()
	for range n {
		_, err := a.Run(context.Background(), auctiontest.Request("r", auctiontest.BannerImp("1", 1)))
		require.NoError(t, err)
	}
}

func (r *swapRig) refused(t *testing.T) float64 {
	t.Helper()
	return value(t, r.m.Registry(), "gavel_event_batches_refused_total")
}

// Across swaps, the bidder gauges follow the new Auction, the counters
// read from Auction.Stats carry on without a drop or a double count, and
// the hook-fed counters carry on as well.
func TestSwapAuctionCarriesMetricsOn(t *testing.T) {
	r := newSwapRig(t)
	a1 := r.auction(t, "alpha")
	require.NoError(t, r.m.WatchAuction(a1))
	run(t, a1, 2)
	perAuction := a1.Stats().EventWriteErrors / 2
	require.Positive(t, perAuction)
	assert.Equal(t, float64(2*perAuction), r.refused(t))

	a2 := r.auction(t, "beta")
	require.NoError(t, r.m.SwapAuction(a2))
	assert.Equal(t, float64(2*perAuction), r.refused(t), "nothing lost at the swap")
	gauges := series(t, r.m.Registry(), "gavel_bidder_window_calls")
	require.Len(t, gauges, 1, "alpha's gauges are gone")
	assert.True(t, hasLabels(gauges[0], []string{"bidder", "beta"}))
	run(t, a1, 1) // an auction still running on the old Auction
	run(t, a2, 3)
	assert.Equal(t, float64(6*perAuction), r.refused(t), "the retiring Auction is still read")
	assert.Equal(t, 3.0, value(t, r.m.Registry(), "gavel_bidder_window_calls", "bidder", "beta"))

	require.NoError(t, r.m.RetireAuction(a1))
	assert.Equal(t, float64(6*perAuction), r.refused(t), "a1's final counts folded, not counted twice")
	require.Error(t, r.m.RetireAuction(a1), "retired already")
	require.Error(t, r.m.RetireAuction(a2), "a2 is watched, not retiring")

	// Many swaps, each replaced Auction retired: the count keeps rising by
	// what each Auction did.
	prev := a2
	for range 20 {
		next := r.auction(t, "beta")
		require.NoError(t, r.m.SwapAuction(next))
		require.NoError(t, r.m.RetireAuction(prev))
		run(t, next, 1)
		prev = next
	}
	assert.Equal(t, float64(26*perAuction), r.refused(t))
	assert.Equal(t, 26.0, value(t, r.m.Registry(), "gavel_auctions_total", "outcome", "won"), "the hooks count on")

	require.Error(t, r.m.SwapAuction(nil))
	require.Error(t, r.m.SwapAuction(prev), "already watched")
}

// SwapAuction without a watched Auction watches the new one.
func TestSwapAuctionFirst(t *testing.T) {
	r := newSwapRig(t)
	a := r.auction(t, "alpha")
	require.NoError(t, r.m.SwapAuction(a))
	require.Error(t, r.m.WatchAuction(a))
	run(t, a, 1)
	assert.Equal(t, float64(a.Stats().EventWriteErrors), r.refused(t))
}
