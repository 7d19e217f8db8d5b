package gavel_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// healthEpoch is where the health tests' clocks start: on a whole second,
// so that a one-second bucket of a ten-second window starts there too.
var healthEpoch = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// healthOf returns the named bidder's health or fails the test.
func healthOf(t testing.TB, a *gavel.Auction, name string) gavel.BidderHealth {
	t.Helper()
	h, ok := a.BidderHealth(name)
	require.True(t, ok, name)
	return h
}

func TestHealthCounts(t *testing.T) {
	clk := auctiontest.NewClock(healthEpoch)
	a := mustAuction(t,
		gavel.WithClock(clk),
		gavel.WithBidders(
			auctiontest.Fixed("bid", auctiontest.Bid("b1", "1", 2.00)),
			auctiontest.NoBid("nobid"),
			auctiontest.Error("error", errors.New("boom")),
			auctiontest.Panic("panic", "kaboom"),
			auctiontest.Prebuilt("invalid", auctiontest.Response("not-the-request", "invalid", auctiontest.Bid("i1", "1", 3.00))),
			auctiontest.Hang("hang"),
			auctiontest.Fixed("slow", auctiontest.Bid("s1", "1", 1.50)).WithLatency(20*time.Millisecond),
		),
		gavel.WithBidderTimeout("hang", 10*time.Millisecond),
	)
	const n = 5
	for i := range n {
		runTimed(t, context.Background(), a, bannerRequest(fmt.Sprint("r", i), 500))
	}

	type counts struct{ Calls, Bids, NoBids, Timeouts, Errors, Throttled int64 }
	want := map[string]counts{
		"bid":     {Calls: n, Bids: n},
		"nobid":   {Calls: n, NoBids: n},
		"error":   {Calls: n, Errors: n},
		"panic":   {Calls: n, Errors: n},
		"invalid": {Calls: n, Errors: n},
		"hang":    {Calls: n, Timeouts: n},
		"slow":    {Calls: n, Bids: n},
	}
	all := a.Health()
	require.Len(t, all, len(want))
	assert.Equal(t, []string{"bid", "nobid", "error", "panic", "invalid", "hang", "slow"},
		[]string{all[0].Bidder, all[1].Bidder, all[2].Bidder, all[3].Bidder, all[4].Bidder, all[5].Bidder, all[6].Bidder},
		"Health follows the order of WithBidders")
	for _, h := range all {
		t.Run(h.Bidder, func(t *testing.T) {
			assert.Equal(t, want[h.Bidder], counts{h.Calls, h.Bids, h.NoBids, h.Timeouts, h.Errors, h.Throttled})
			assert.Equal(t, h, healthOf(t, a, h.Bidder), "BidderHealth agrees with Health")
			assert.InDelta(t, float64(h.Timeouts+h.Errors)/float64(h.Calls), h.FailureRate, 1e-9)
			assert.Equal(t, 1.0, h.CallRate)
			assert.LessOrEqual(t, h.LatencyP50, h.LatencyP95)
			assert.LessOrEqual(t, h.LatencyP95, h.LatencyP99)
			assert.LessOrEqual(t, h.LatencyMean, h.LatencyP99, "quantiles are upper bounds of their bins")
			assert.Less(t, h.LatencyP99, 2*time.Second)
		})
	}
	slow := healthOf(t, a, "slow")
	assert.GreaterOrEqual(t, slow.LatencyMean, 20*time.Millisecond)
	assert.GreaterOrEqual(t, slow.LatencyP50, 20*time.Millisecond)
	hang := healthOf(t, a, "hang")
	assert.GreaterOrEqual(t, hang.LatencyP50, 10*time.Millisecond, "a timeout counts the time it was given")
	assert.Equal(t, 1.0, hang.FailureRate)

	_, ok := a.BidderHealth("nobody")
	assert.False(t, ok)
}

func TestHealthWindowSlides(t *testing.T) {
	clk := auctiontest.NewClock(healthEpoch)
	a := mustAuction(t,
		gavel.WithClock(clk),
		gavel.WithBidders(auctiontest.Fixed("bid", auctiontest.Bid("b1", "1", 2.00)), auctiontest.Error("error", errors.New("boom"))),
		gavel.WithHealthWindow(10*time.Second),
	)
	run := func(n int) {
		for i := range n {
			runTimed(t, context.Background(), a, bannerRequest(fmt.Sprint("r", i), 300))
		}
	}
	steps := []struct {
		advance time.Duration
		run     int
		calls   int64
	}{
		{0, 3, 3},
		{5 * time.Second, 2, 5},  // both in the window
		{4 * time.Second, 0, 5},  // 9s after the first: still in
		{time.Second, 0, 2},      // 10s after the first: those slid out
		{4 * time.Second, 1, 3},  // 14s: the second batch is still in
		{time.Second, 0, 1},      // 15s: the second batch slid out
		{10 * time.Second, 0, 0}, // nothing left
		{time.Duration(math.MaxInt32) * time.Second, 0, 0}, // far later
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		run(s.run)
		for _, h := range a.Health() {
			assert.Equal(t, s.calls, h.Calls, "step %d: %s", i, h.Bidder)
			if h.Bidder == "error" {
				assert.Equal(t, s.calls, h.Errors+h.Timeouts, "step %d", i)
			}
		}
	}
	for _, h := range a.Health() {
		assert.Equal(t, gavel.BidderHealth{Bidder: h.Bidder, CallRate: 1}, h, "an empty window reads as zero")
	}
}

// TestHealthClockBeforeUnixEpoch checks that a clock reading before 1970,
// such as a test clock left at the zero time, does not crash Run.
func TestHealthClockBeforeUnixEpoch(t *testing.T) {
	for _, start := range []time.Time{{}, time.Unix(-5, 0), time.Unix(-1, 0).Add(500 * time.Millisecond)} {
		t.Run(start.String(), func(t *testing.T) {
			clk := auctiontest.NewClock(start)
			a := mustAuction(t,
				gavel.WithClock(clk),
				gavel.WithBidders(auctiontest.Error("error", errors.New("boom"))),
				gavel.WithThrottling(gavel.Throttle{MinCalls: 2}),
			)
			for i := range 3 {
				runTimed(t, context.Background(), a, bannerRequest(fmt.Sprint("r", i), 300))
				clk.Advance(time.Second)
			}
			h := healthOf(t, a, "error")
			assert.Equal(t, int64(3), h.Errors+h.Timeouts+h.Throttled)
			assert.Equal(t, 0.1, h.CallRate, "throttled at the default MinCallRate")
		})
	}
}

// flipBidder fails every call until it is made healthy, then bids. It is
// called from many goroutines, so its state is atomic.
type flipBidder struct {
	name    string
	healthy atomic.Bool
}

func (b *flipBidder) Name() string { return b.name }

func (b *flipBidder) Bid(_ context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	if !b.healthy.Load() {
		return nil, errors.New("flip: failing")
	}
	return auctiontest.Response(req.ID, b.name, auctiontest.Bid("f1", "1", 1.50)), nil
}

// throttleUntilUnhealthy runs failing auctions until the flaky bidder is
// throttled. Health is evaluated once per tenth of the window (per bucket),
// so the clock moves on one bucket after the first failures.
func throttleUntilUnhealthy(t *testing.T, a *gavel.Auction, clk *auctiontest.Clock, minCalls int) {
	t.Helper()
	for i := range minCalls {
		runTimed(t, context.Background(), a, bannerRequest(fmt.Sprint("warm-", i), 500))
	}
	clk.Advance(time.Second)
	for i := 0; healthOf(t, a, "flaky").CallRate == 1; i++ {
		require.Less(t, i, 3, "not throttled after %d failures", minCalls+i)
		runTimed(t, context.Background(), a, bannerRequest(fmt.Sprint("more-", i), 500))
	}
}

// flakyCalled runs auctions with the given ids and reports, for each,
// whether throttling let the flaky bidder take part. The steady bidder is
// never throttled. The tmax is long so that even a loaded machine does not
// turn answers into timeouts; Run returns as soon as both have answered.
func flakyCalled(t *testing.T, a *gavel.Auction, ids []string) []bool {
	t.Helper()
	called := make([]bool, len(ids))
	for i, id := range ids {
		res, err := a.Run(context.Background(), bannerRequest(id, 500))
		require.NoError(t, err)
		st := statusesOf(res)
		require.NotEqual(t, gavel.StatusThrottled, st["steady"], id)
		if st["flaky"] == gavel.StatusThrottled {
			assert.Zero(t, bidderResultOf(t, res, "flaky").TMax, id)
		} else {
			called[i] = true
		}
	}
	return called
}

func auctionIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint(prefix, i)
	}
	return ids
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func TestThrottling(t *testing.T) {
	clk := auctiontest.NewClock(healthEpoch)
	flaky := &flipBidder{name: "flaky"}
	a := mustAuction(t,
		gavel.WithClock(clk),
		gavel.WithBidders(auctiontest.Fixed("steady", auctiontest.Bid("s1", "1", 2.00)), flaky),
		gavel.WithThrottling(gavel.Throttle{MaxFailureRate: 0.5, MinCalls: 10, MinCallRate: 0.2}),
	)
	throttleUntilUnhealthy(t, a, clk, 10)
	h := healthOf(t, a, "flaky")
	assert.Equal(t, 0.2, h.CallRate)
	assert.Equal(t, 1.0, healthOf(t, a, "steady").CallRate)
	callsBefore, throttledBefore := h.Calls, h.Throttled

	// Called for about MinCallRate of the auctions, the others report
	// StatusThrottled, and health counts them apart.
	ids := auctionIDs("auction-", 2000)
	called := flakyCalled(t, a, ids)
	assert.InDelta(t, 0.2, float64(countTrue(called))/float64(len(ids)), 0.03, "called for %d of %d", countTrue(called), len(ids))
	h = healthOf(t, a, "flaky")
	assert.LessOrEqual(t, h.Calls-callsBefore, int64(countTrue(called)), "a call can only be skipped for lack of time")
	assert.GreaterOrEqual(t, h.Calls-callsBefore, int64(countTrue(called))*9/10)
	assert.Equal(t, int64(len(ids)-countTrue(called)), h.Throttled-throttledBefore)
	assert.Equal(t, 0.2, h.CallRate)

	// The choice is a function of the auction id.
	assert.Equal(t, called[:300], flakyCalled(t, a, ids[:300]))

	// Once it behaves, it recovers by itself: here when the window has
	// slid past all its failures.
	flaky.healthy.Store(true)
	clk.Advance(11 * time.Second)
	after := flakyCalled(t, a, auctionIDs("healthy-", 100))
	assert.Equal(t, 100, countTrue(after), "a recovered bidder is called for every auction")
	h = healthOf(t, a, "flaky")
	assert.Equal(t, 1.0, h.CallRate)
	assert.Zero(t, h.Throttled)
	assert.Zero(t, h.Errors)
	assert.Positive(t, h.Bids)
}

func TestThrottlingRecoversThroughProbes(t *testing.T) {
	clk := auctiontest.NewClock(healthEpoch)
	flaky := &flipBidder{name: "flaky"}
	a := mustAuction(t,
		gavel.WithClock(clk),
		gavel.WithBidders(auctiontest.Fixed("steady", auctiontest.Bid("s1", "1", 2.00)), flaky),
		gavel.WithThrottling(gavel.Throttle{MaxFailureRate: 0.5, MinCalls: 4, MinCallRate: 0.5}),
	)
	throttleUntilUnhealthy(t, a, clk, 4)
	h := healthOf(t, a, "flaky")
	failures := h.Errors + h.Timeouts
	flaky.healthy.Store(true)

	// Good probes that bring the failure rate under MaxFailureRate are not
	// enough: it must fall to half of it (hysteresis).
	probes := countTrue(flakyCalled(t, a, auctionIDs("few-", 20)))
	rate := float64(failures) / float64(failures+int64(probes))
	require.True(t, rate > 0.25 && rate <= 0.5, "failure rate %v", rate)
	clk.Advance(time.Second)
	flakyCalled(t, a, auctionIDs("next-", 1))
	assert.Equal(t, 0.5, healthOf(t, a, "flaky").CallRate, "still throttled after %d good probes", probes)

	probes += countTrue(flakyCalled(t, a, auctionIDs("many-", 80)))
	require.LessOrEqual(t, float64(failures)/float64(failures+int64(probes)), 0.25)
	clk.Advance(time.Second)
	flakyCalled(t, a, auctionIDs("last-", 1))
	h = healthOf(t, a, "flaky")
	assert.Equal(t, 1.0, h.CallRate, "recovered through its probes")
	assert.Equal(t, failures, h.Errors+h.Timeouts, "the failures are still in the window")
}

func TestNewValidatesOptions(t *testing.T) {
	nop := func(context.Context, *openrtb2.BidRequest) (*openrtb2.BidResponse, error) { return nil, nil }
	a, b := gavel.BidderFunc("a", nop), gavel.BidderFunc("b", nop)
	tests := []struct {
		name string
		opts []gavel.Option
		want []string // fragments of the error; nil: valid
	}{
		{name: "no options"},
		{name: "no bidders", opts: []gavel.Option{gavel.WithBidders()}},
		{name: "all valid", opts: []gavel.Option{
			gavel.WithBidders(a, b), gavel.WithBidderTimeout("a", time.Millisecond), gavel.WithAllBiddersTimeout(time.Second),
			gavel.WithDefaultTMax(time.Second), gavel.WithMaxTMax(time.Second), gavel.WithReserve(0),
			gavel.WithMinBidderTime(0), gavel.WithPriceIncrement(0), gavel.WithMaxPrice(gavel.MaxPriceLimit),
			gavel.WithHealthWindow(10 * time.Millisecond), gavel.WithThrottling(gavel.Throttle{}),
			gavel.WithThrottling(gavel.Throttle{MaxFailureRate: 0.99, MinCalls: 1, MinCallRate: 1}),
			gavel.WithClock(auctiontest.NewClock(healthEpoch)), gavel.WithPreferDeals(true), gavel.WithLogger(nil),
		}},
		{name: "bidders added by two options", opts: []gavel.Option{gavel.WithBidders(a), gavel.WithBidders(b)}},

		{name: "empty bidder name", opts: []gavel.Option{gavel.WithBidders(gavel.BidderFunc("", nop))}, want: []string{"empty name"}},
		{name: "duplicate bidder name", opts: []gavel.Option{gavel.WithBidders(a, b, a)}, want: []string{`"a" is not unique`}},
		{name: "duplicate across options", opts: []gavel.Option{gavel.WithBidders(a), gavel.WithBidders(a)}, want: []string{"not unique"}},
		{name: "nil bidder", opts: []gavel.Option{gavel.WithBidders(a, nil)}, want: []string{"bidder 1 is nil"}},
		{name: "zero bidder timeout", opts: []gavel.Option{gavel.WithBidders(a), gavel.WithBidderTimeout("a", 0)}, want: []string{"bidder timeout"}},
		{name: "negative bidder timeout", opts: []gavel.Option{gavel.WithBidders(a), gavel.WithBidderTimeout("a", -time.Second)}, want: []string{"must be positive"}},
		{name: "timeout for unknown bidder", opts: []gavel.Option{gavel.WithBidders(a), gavel.WithBidderTimeout("zz", time.Second)}, want: []string{`unknown bidder "zz"`}},
		{name: "zero all-bidders timeout", opts: []gavel.Option{gavel.WithAllBiddersTimeout(0)}, want: []string{"bidders timeout"}},
		{name: "negative all-bidders timeout", opts: []gavel.Option{gavel.WithAllBiddersTimeout(-1)}, want: []string{"bidders timeout"}},
		{name: "zero default tmax", opts: []gavel.Option{gavel.WithDefaultTMax(0)}, want: []string{"default tmax"}},
		{name: "negative max tmax", opts: []gavel.Option{gavel.WithMaxTMax(-time.Second)}, want: []string{"max tmax"}},
		{name: "default tmax above max tmax", opts: []gavel.Option{gavel.WithDefaultTMax(2 * time.Second)}, want: []string{"exceeds max tmax"}},
		{name: "max tmax below default tmax", opts: []gavel.Option{gavel.WithMaxTMax(50 * time.Millisecond)}, want: []string{"exceeds max tmax"}},
		{name: "negative reserve", opts: []gavel.Option{gavel.WithReserve(-time.Millisecond)}, want: []string{"reserve"}},
		{name: "negative min bidder time", opts: []gavel.Option{gavel.WithMinBidderTime(-time.Millisecond)}, want: []string{"min bidder time"}},
		{name: "negative price increment", opts: []gavel.Option{gavel.WithPriceIncrement(-1)}, want: []string{"price increment"}},
		{name: "zero max price", opts: []gavel.Option{gavel.WithMaxPrice(0)}, want: []string{"max price"}},
		{name: "negative max price", opts: []gavel.Option{gavel.WithMaxPrice(-1)}, want: []string{"max price"}},
		{name: "huge max price", opts: []gavel.Option{gavel.WithMaxPrice(gavel.MaxPriceLimit + 1)}, want: []string{"max price"}},
		{name: "nil clock", opts: []gavel.Option{gavel.WithClock(nil)}, want: []string{"clock"}},
		{name: "short health window", opts: []gavel.Option{gavel.WithHealthWindow(time.Millisecond)}, want: []string{"health window"}},
		{name: "hook implementing nothing", opts: []gavel.Option{gavel.WithHooks(struct{}{})}, want: []string{"implements no hook"}},
		{name: "nil hook", opts: []gavel.Option{gavel.WithHooks(nil)}, want: []string{"implements no hook"}},
		{name: "throttle failure rate 1", opts: []gavel.Option{gavel.WithThrottling(gavel.Throttle{MaxFailureRate: 1})}, want: []string{"throttle"}},
		{name: "throttle failure rate negative", opts: []gavel.Option{gavel.WithThrottling(gavel.Throttle{MaxFailureRate: -0.1})}, want: []string{"throttle"}},
		{name: "throttle failure rate NaN", opts: []gavel.Option{gavel.WithThrottling(gavel.Throttle{MaxFailureRate: math.NaN()})}, want: []string{"throttle"}},
		{name: "throttle min calls negative", opts: []gavel.Option{gavel.WithThrottling(gavel.Throttle{MinCalls: -1})}, want: []string{"throttle"}},
		{name: "throttle call rate above 1", opts: []gavel.Option{gavel.WithThrottling(gavel.Throttle{MinCallRate: 1.5})}, want: []string{"throttle"}},
		{name: "throttle call rate negative", opts: []gavel.Option{gavel.WithThrottling(gavel.Throttle{MinCallRate: -0.5})}, want: []string{"throttle"}},
		{name: "throttle call rate NaN", opts: []gavel.Option{gavel.WithThrottling(gavel.Throttle{MinCallRate: math.NaN()})}, want: []string{"throttle"}},
		{name: "all problems reported at once", opts: []gavel.Option{
			gavel.WithBidders(a, a), gavel.WithReserve(-1), gavel.WithPriceIncrement(-1), gavel.WithBidderTimeout("zz", time.Second),
		}, want: []string{"not unique", "reserve", "price increment", `unknown bidder "zz"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := gavel.New(tt.opts...)
			if tt.want == nil {
				require.NoError(t, err)
				require.NotNil(t, a)
				return
			}
			require.Error(t, err)
			assert.Nil(t, a)
			assert.ErrorIs(t, err, gavel.ErrInvalidOption)
			assert.True(t, strings.HasPrefix(err.Error(), "gavel: "), err.Error())
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestNewRefusesANilPointerBidder(t *testing.T) {
	var nilBidder *auctiontest.Bidder
	_, err := gavel.New(gavel.WithBidders(nilBidder))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
}
