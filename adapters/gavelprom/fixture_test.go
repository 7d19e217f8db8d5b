package gavelprom_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// fixture is an Auction observed by a Metrics, after a known series of
// auctions (see newFixture).
type fixture struct {
	m      *gavelprom.Metrics
	a      *gavel.Auction
	ledger *gavel.MemoryLedger
	pacer  *gavel.EvenPacer
	sink   *gavel.AsyncSink
	rec    *auctiontest.EventRecorder
	ids    []string // every id the auctions saw: auctions, users, bids
}

// The fixture's budgets, in micros: alpha can pay for two wins at 5.00 CPM
// (5000 micros each), not three.
const (
	alphaBudget = 12_000
	betaBudget  = 1_000_000
)

// newFixture runs, on an Auction with five bidders (alpha bids 5.00, beta
// 3.00, gamma never bids, delta fails, slow hangs until its 15ms timeout),
// a ledger, a pacer, a profile store and an AsyncSink whose first write
// fails:
//
//	auc-0  user u1 (profile hit)   alpha wins, beta loses 102
//	auc-1  user u2 (profile miss)  alpha wins, beta loses 102
//	auc-2  no user (no key)        alpha refused by the budget (504), beta wins
//	auc-3  no user                 same as auc-2
//	auc-4  floor 100.00            alpha cannot afford the floor: not called
//	                               (budget_exhausted); beta loses 100, nbr 501
//	auc-5  no imps                 invalid_request, nbr 2
//	auc-6  canceled ctx            canceled
//	auc-7  floor in JPY, no rate   no_currency, nbr 1
//
// then bills 4000 micros of auc-0's win and flushes the sink.
func newFixture(t *testing.T, opts ...gavelprom.Option) *fixture {
	t.Helper()
	f := &fixture{rec: &auctiontest.EventRecorder{}}
	var err error
	f.m, err = gavelprom.New(append([]gavelprom.Option{gavelprom.WithConstLabels(prometheus.Labels{"exchange": "test"})}, opts...)...)
	require.NoError(t, err)

	f.ledger, _ = gavel.NewMemoryLedger()
	f.pacer, _ = gavel.NewEvenPacer()
	profiles, err := gavel.NewMemoryProfileStore()
	require.NoError(t, err)
	profiles.Put("u1", &gavel.Profile{UserID: "u1", Keywords: []string{"sports"}})

	f.rec.FailNext(1, errors.New("broker down"))
	f.sink, err = gavel.NewAsyncSink(f.rec, gavel.WithLinger(0),
		gavel.WithRetry(3, time.Millisecond, 2*time.Millisecond), gavel.WithSinkHooks(f.m))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.sink.Close(context.Background())) })

	f.a, err = gavel.New(
		gavel.WithBidders(
			auctiontest.Fixed("alpha", auctiontest.Bid("bid-a", "1", 5.00)),
			auctiontest.Fixed("beta", auctiontest.Bid("bid-b", "1", 3.00)),
			auctiontest.NoBid("gamma"),
			auctiontest.Error("delta", errors.New("connection refused")),
			auctiontest.Hang("slow"),
		),
		gavel.WithBidderTimeout("slow", 15*time.Millisecond),
		gavel.WithLedger(f.ledger),
		gavel.WithPacer(f.pacer),
		// Total budgets, spent as fast as the auctions go: the pacer lets
		// every auction through, and only the ledger refuses.
		gavel.WithBudgets(
			gavel.Budget{Account: "alpha", Amount: alphaBudget, Pacing: gavel.PacingASAP},
			gavel.Budget{Account: "beta", Amount: betaBudget, Pacing: gavel.PacingASAP},
		),
		gavel.WithProfileStore(profiles),
		gavel.WithEventSink(f.sink),
		gavel.WithHooks(f.m),
	)
	require.NoError(t, err)
	require.NoError(t, f.m.WatchAuction(f.a))
	require.NoError(t, f.m.WatchLedger(f.ledger, "alpha", "beta"))
	require.NoError(t, f.m.WatchPacer(f.pacer, "alpha"))
	require.NoError(t, f.m.WatchSink(f.sink))

	ctx := context.Background()
	var first *gavel.Result
	for i, user := range []string{"u1", "u2", "", ""} {
		req := f.request(fmt.Sprintf("auc-%d", i), 0.50)
		if user != "" {
			req.User = &openrtb2.User{ID: user}
		}
		res, err := f.a.Run(ctx, req)
		require.NoError(t, err)
		require.True(t, res.HasWinner())
		if first == nil {
			first = res
		}
	}
	res, err := f.a.Run(ctx, f.request("auc-4", 100))
	require.NoError(t, err)
	require.False(t, res.HasWinner())

	_, err = f.a.Run(ctx, auctiontest.Request("auc-5"))
	require.ErrorIs(t, err, gavel.ErrInvalidRequest)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = f.a.Run(canceled, f.request("auc-6", 0.50))
	require.ErrorIs(t, err, context.Canceled)

	noRate := f.request("auc-7", 150)
	noRate.Imp[0].BidFloorCur = "JPY"
	_, err = f.a.Run(ctx, noRate)
	require.ErrorIs(t, err, gavel.ErrNoCurrency)

	for i := range first.Bids {
		if first.Bids[i].Won {
			b, err := first.Billing(i)
			require.NoError(t, err)
			require.NoError(t, f.a.Commit(ctx, b, 4000))
			f.m.Billed(b, 4000)
		}
	}
	require.NoError(t, f.sink.Flush(ctx))
	f.ids = append(f.ids, "u1", "u2", "bid-a", "bid-b")
	return f
}

func (f *fixture) request(id string, floor float64) *openrtb2.BidRequest {
	f.ids = append(f.ids, id)
	req := auctiontest.Request(id, auctiontest.BannerImp("1", floor, [2]int64{300, 250}))
	req.AT = 1 // first price: a winner pays its bid
	// Ample time, so that a loaded machine cannot time alpha or beta out;
	// slow still times out at 15ms, and the auction with it.
	req.TMax = 1000
	return req
}

// value returns the value of the one series of the metric family name
// gathered from g whose labels include the given name, value pairs: a
// counter's or gauge's value, or a histogram's sample count.
func value(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	var found []*dto.Metric
	for _, s := range series(t, g, name) {
		if hasLabels(s, labels) {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "series %s%v", name, labels)
	s := found[0]
	switch {
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	case s.Histogram != nil:
		return float64(s.Histogram.GetSampleCount())
	}
	t.Fatalf("series %s%v is neither counter, gauge nor histogram", name, labels)
	return 0
}

// series returns the series of the metric family name gathered from g.
func series(t *testing.T, g prometheus.Gatherer, name string) []*dto.Metric {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

func hasLabels(s *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		got := "" // an absent label reads as empty
		for _, l := range s.GetLabel() {
			if l.GetName() == pairs[i] {
				got = l.GetValue()
			}
		}
		if got != pairs[i+1] {
			return false
		}
	}
	return true
}
