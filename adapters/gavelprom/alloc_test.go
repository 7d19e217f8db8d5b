package gavelprom_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hookCalls returns one call of each hook method with typical arguments.
func hookCalls(m *gavelprom.Metrics) []struct {
	name string
	call func()
} {
	ctx := context.Background()
	req := &openrtb2.BidRequest{ID: "auction-1"}
	won := &gavel.Result{Imps: []gavel.ImpResult{{Winner: 0}}, Duration: 42 * time.Millisecond}
	noBid := &gavel.Result{Imps: []gavel.ImpResult{{Winner: -1}}, NBR: gavel.NoBidNoEligibleBids, Duration: 30 * time.Millisecond}
	invalid := &gavel.RequestError{Reason: openrtb3.NoBidInvalidRequest, Msg: "no imps"}
	bidder := &gavel.BidderResult{Bidder: "alpha", Status: gavel.StatusBid, Latency: 12 * time.Millisecond, Bids: 2}
	skipped := &gavel.BidderResult{Bidder: "beta", Status: gavel.StatusThrottled}
	win := &gavel.BidOutcome{Bidder: "alpha", Won: true, ClearMicros: 2_500_000}
	loss := &gavel.BidOutcome{Bidder: "beta", Loss: openrtb3.LossLostToHigherBid}
	hold := gavel.Hold{Account: "acme", ID: 7, Amount: 2500}
	refused := fmt.Errorf("ledger: %w", gavel.ErrBudgetExhausted)
	failed := fmt.Errorf("ledger: %w", context.DeadlineExceeded)
	billing := gavel.Billing{AuctionID: "auction-1", Hold: hold}
	return []struct {
		name string
		call func()
	}{
		{"OnAuctionStart", func() { m.OnAuctionStart(ctx, req) }},
		{"OnAuctionEnd/won", func() { m.OnAuctionEnd(ctx, req, won, nil) }},
		{"OnAuctionEnd/no_bid", func() { m.OnAuctionEnd(ctx, req, noBid, nil) }},
		{"OnAuctionEnd/invalid", func() { m.OnAuctionEnd(ctx, req, nil, invalid) }},
		{"OnAuctionEnd/canceled", func() { m.OnAuctionEnd(ctx, req, nil, context.Canceled) }},
		{"OnBidderResponse/bid", func() { m.OnBidderResponse(ctx, req.ID, bidder) }},
		{"OnBidderResponse/throttled", func() { m.OnBidderResponse(ctx, req.ID, skipped) }},
		{"OnBidOutcome/won", func() { m.OnBidOutcome(ctx, req.ID, win) }},
		{"OnBidOutcome/lost", func() { m.OnBidOutcome(ctx, req.ID, loss) }},
		{"OnProfile/hit", func() { m.OnProfile(ctx, req.ID, gavel.ProfileHit, time.Millisecond, nil) }},
		{"OnProfile/no_key", func() { m.OnProfile(ctx, req.ID, gavel.ProfileNoKey, 0, nil) }},
		{"OnReserve/reserved", func() { m.OnReserve(ctx, req.ID, hold, nil) }},
		{"OnReserve/refused", func() { m.OnReserve(ctx, req.ID, hold, refused) }},
		{"OnReserve/error", func() { m.OnReserve(ctx, req.ID, hold, failed) }},
		{"OnEventsDropped", func() { m.OnEventsDropped(3) }},
		{"OnSinkRetry", func() { m.OnSinkRetry(1, failed) }},
		{"OnEventsFailed", func() { m.OnEventsFailed(3, failed) }},
		{"OnEventsDelivered", func() { m.OnEventsDelivered(512) }},
		{"Billed", func() { m.Billed(billing, 2400) }},
	}
}

// Once a bidder, account or reason has been seen, no hook allocates.
func TestHooksDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m, err := gavelprom.New()
	require.NoError(t, err)
	for _, hc := range hookCalls(m) {
		t.Run(hc.name, func(t *testing.T) {
			hc.call() // first sight of the label values
			allocs := testing.AllocsPerRun(1000, hc.call)
			t.Logf("%s: %v allocs per call", hc.name, allocs)
			assert.Zero(t, allocs)
		})
	}
}

func BenchmarkHooks(b *testing.B) {
	m, err := gavelprom.New()
	require.NoError(b, err)
	for _, hc := range hookCalls(m) {
		b.Run(hc.name, func(b *testing.B) {
			hc.call()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					hc.call()
				}
			})
		})
	}
}
