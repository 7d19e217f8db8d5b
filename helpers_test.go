package gavel_test

// The helpers that the package's tests share. Helpers that users need in
// their own tests (fake bidders, builders, the event recorder, the Ledger
// conformance suite) are in auctiontest instead.

import (
	"context"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// Most tests that run auctions run them in a testing/synctest bubble
// (synctest.Test), where the time package reads a fake clock that moves
// only when every goroutine of the bubble waits. There a hanging bidder
// costs no real time, a deadline fires exactly when it is due, and how
// long Run took is exact: the tests assert durations with Equal, not with
// a tolerance for a busy machine. Everything a bubble starts (Auctions,
// AsyncSinks, channels, timers) must be made in it and end in it.

// must returns v, and panics when err is not nil: for constructors whose
// options a test knows to be valid.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// mustAuction returns a new Auction or fails the test.
func mustAuction(t testing.TB, opts ...gavel.Option) *gavel.Auction {
	t.Helper()
	a, err := gavel.New(opts...)
	require.NoError(t, err)
	return a
}

// runAuction builds an Auction from opts and runs req, which must be
// valid, in a synctest bubble of its own, and returns the Result. opts
// must not hold what cannot leave its bubble (an AsyncSink, say).
func runAuction(t *testing.T, req *openrtb2.BidRequest, opts ...gavel.Option) *gavel.Result {
	t.Helper()
	var res *gavel.Result
	synctest.Test(t, func(t *testing.T) {
		res, _ = timedRun(t, context.Background(), mustAuction(t, opts...), req)
	})
	return res
}

// timedRun runs one auction, which must not fail, and returns its Result
// and how long Run took. Call it in a synctest bubble, where the duration
// is exact (the time Run waited for, and nothing else) and where it can
// check that Run returned by the auction's deadline, or at once when that
// had passed before the call; on real time a loaded machine can hold any
// call up.
func timedRun(t testing.TB, ctx context.Context, a *gavel.Auction, req *openrtb2.BidRequest) (*gavel.Result, time.Duration) {
	t.Helper()
	start := time.Now()
	res, err := a.Run(ctx, req)
	took := time.Since(start)
	require.NoError(t, err)
	require.NotNil(t, res)
	if took > 0 {
		assert.False(t, time.Now().After(res.Deadline), "Run returned %v after its deadline", time.Since(res.Deadline))
	}
	return res, took
}

// bannerRequest is a one-imp banner request (imp "1", floor 1.00 USD) with
// the given id and tmax in milliseconds.
func bannerRequest(id string, tmax int64) *openrtb2.BidRequest {
	req := auctiontest.Request(id, auctiontest.BannerImp("1", 1.00, [2]int64{300, 250}))
	req.TMax = tmax
	return req
}

// rulesRequest is auctiontest.Request with a tmax of a second, for the
// tests of bid and request rules.
func rulesRequest(id string, imps ...openrtb2.Imp) *openrtb2.BidRequest {
	req := auctiontest.Request(id, imps...)
	req.TMax = 1000
	return req
}

// echoBidder bids price for imp "1" of every request, with a bid whose id
// is name-<the request's id>, so that a test can tell which auction a bid
// came from.
func echoBidder(name string, price float64) gavel.Bidder {
	return gavel.BidderFunc(name, func(_ context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		return auctiontest.Response(req.ID, name, auctiontest.Bid(name+"-"+req.ID, "1", price)), nil
	})
}

// stuckRelease returns a channel for auctiontest.Stuck that the test closes
// when it ends, so that the stuck calls return before the test does.
func stuckRelease(t testing.TB) chan struct{} {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return release
}

// statusesOf maps each bidder of res to its status.
func statusesOf(res *gavel.Result) map[string]gavel.BidderStatus {
	m := make(map[string]gavel.BidderStatus, len(res.Bidders))
	for _, br := range res.Bidders {
		m[br.Bidder] = br.Status
	}
	return m
}

// winnerOf returns the winning bid of the imp or fails the test.
func winnerOf(t testing.TB, res *gavel.Result, impID string) *gavel.BidOutcome {
	t.Helper()
	w := res.Winner(impID)
	require.NotNil(t, w, "imp %s has no winner; bidders: %+v", impID, res.Bidders)
	return w
}

// bidderResultOf returns the BidderResult of the named bidder.
func bidderResultOf(t testing.TB, res *gavel.Result, name string) gavel.BidderResult {
	t.Helper()
	for _, br := range res.Bidders {
		if br.Bidder == name {
			return br
		}
	}
	require.Failf(t, "no such bidder in result", "%q", name)
	return gavel.BidderResult{}
}

// probeKey is a context key that nobody sets: reading it makes a context
// walk its whole chain of parents.
type probeKey struct{}

// rates is a converter with fixed rates, keyed "FROM>TO".
func rates(r map[string]float64) gavel.CurrencyConverter {
	return gavel.RateFunc(func(from, to string) (float64, error) {
		if v, ok := r[from+">"+to]; ok {
			return v, nil
		}
		return 0, gavel.ErrNoRate
	})
}

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// makeEvents returns n events numbered from first: Time is the number.
func makeEvents(first, n int) []gavel.Event {
	events := make([]gavel.Event, n)
	for i := range events {
		seq := first + i
		events[i] = gavel.Event{Version: gavel.EventSchemaVersion, Type: gavel.EventLoss, Time: int64(seq),
			AuctionID: "auction-" + strconv.Itoa(seq/33), ImpID: "1", Bidder: "dsp", BidID: strconv.Itoa(seq),
			Currency: "USD", PriceMicros: 1_500_000, LossReason: 102}
	}
	return events
}

// waitCtx returns a context that ends in 5 seconds, or when the test ends:
// a bound for waits that should end at once, so that a bug fails the test
// rather than hanging it.
func waitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// slowSink takes delay for every Write, or until its ctx is done.
func slowSink(delay time.Duration) gavel.EventSink {
	return gavel.EventSinkFunc(func(ctx context.Context, _ []gavel.Event) error {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// assertNeverWaits, called in a synctest bubble, calls op n times and
// fails the test if a call took any time on the bubble's clock: since that
// clock moves only when every goroutine waits, such a call waited for
// another goroutine (a sink's Write, say), which op must never do.
func assertNeverWaits(t testing.TB, n int, op func()) {
	t.Helper()
	for i := range n {
		start := time.Now()
		op()
		if took := time.Since(start); took != 0 {
			assert.Failf(t, "a call waited", "call %d of %d took %v", i+1, n, took)
			return
		}
	}
}
