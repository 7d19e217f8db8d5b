package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

func newDashboard(t *testing.T, opts ...Option) *Dashboard {
	t.Helper()
	d, err := New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

var (
	wonResult   = &gavel.Result{Duration: 10 * time.Millisecond, Imps: []gavel.ImpResult{{Winner: 0}}}
	noBidResult = &gavel.Result{Duration: 30 * time.Millisecond, Imps: []gavel.ImpResult{{Winner: -1}}, NBR: gavel.NoBidNoEligibleBids}
	invalidErr  = &gavel.RequestError{Reason: openrtb3.NoBidInvalidRequest, Msg: "no imp"}
)

// traffic is a fixed set of hook calls: what two seconds of auctions
// might report.
func traffic(d *Dashboard) {
	ctx := context.Background()
	d.OnAuctionEnd(ctx, nil, wonResult, nil)
	d.OnAuctionEnd(ctx, nil, wonResult, nil)
	d.OnAuctionEnd(ctx, nil, noBidResult, nil)
	d.OnAuctionEnd(ctx, nil, nil, invalidErr)
	d.OnAuctionEnd(ctx, nil, nil, context.Canceled)
	d.OnAuctionEnd(ctx, nil, nil, &gavel.CurrencyError{Reason: openrtb3.NoBidTechnicalError})

	d.OnBidderResponse(ctx, "a1", &gavel.BidderResult{Bidder: "fast", Status: gavel.StatusBid, Latency: 4 * time.Millisecond, Bids: 1})
	d.OnBidderResponse(ctx, "a2", &gavel.BidderResult{Bidder: "fast", Status: gavel.StatusBid, Latency: 4 * time.Millisecond, Bids: 1})
	d.OnBidderResponse(ctx, "a3", &gavel.BidderResult{Bidder: "fast", Status: gavel.StatusNoBid, Latency: 4 * time.Millisecond})
	d.OnBidderResponse(ctx, "a4", &gavel.BidderResult{Bidder: "fast", Status: gavel.StatusTimeout, Latency: 90 * time.Millisecond})
	d.OnBidderResponse(ctx, "a1", &gavel.BidderResult{Bidder: "slow", Status: gavel.StatusError, Latency: 40 * time.Millisecond})
	d.OnBidderResponse(ctx, "a2", &gavel.BidderResult{Bidder: "slow", Status: gavel.StatusPaced})

	d.OnBidOutcome(ctx, "a1", &gavel.BidOutcome{Bidder: "fast", PriceMicros: 2_000_000, ClearMicros: 1_500_000, Won: true})
	d.OnBidOutcome(ctx, "a2", &gavel.BidOutcome{Bidder: "fast", PriceMicros: 1_000_000, Loss: openrtb3.LossLostToHigherBid})

	d.OnReserve(ctx, "a1", gavel.Hold{Account: "acme", Amount: 1500}, nil)
	d.OnReserve(ctx, "a2", gavel.Hold{Account: "acme", Amount: 500}, nil)
	d.OnReserve(ctx, "a3", gavel.Hold{Account: "acme"}, gavel.ErrBudgetExhausted)
	d.OnReserve(ctx, "a4", gavel.Hold{}, gavel.ErrNoTime)
}

func TestHooksAggregate(t *testing.T) {
	clk := auctiontest.NewClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	d := newDashboard(t, WithClock(clk))
	r := newReadings()
	at := time.Unix(1000, 0)
	d.build(context.Background(), r, at) // the baseline

	traffic(d)
	clk.Advance(2 * time.Second)
	f := d.build(context.Background(), r, at.Add(2*time.Second))

	assert.Equal(t, clk.Now().UnixMilli(), f.Time)
	assert.Equal(t, 2.0, f.Secs)
	a := f.Auctions
	assert.Equal(t, 3.0, a.Rate, "6 auctions in 2s")
	assert.Equal(t, 1.0, a.Won)
	assert.Equal(t, 1.0, a.NoBid, "one with no eligible bids, one with no currency")
	assert.Equal(t, 0.5, a.Invalid)
	assert.Equal(t, 0.5, a.Failed)
	assert.Equal(t, 9.38, a.P50, "rank 1.5 of the 2 in the 7.5-10 ms bucket: 3/4 of the way")
	assert.Equal(t, 29.7, a.P99, "rank 2.97: the one in the 20-30 ms bucket")
	assert.Equal(t, 1.0, a.Bids)
	assert.Equal(t, int64(1_500_000), a.AvgBid)
	assert.Equal(t, int64(1_500_000), a.AvgClear)

	require.Len(t, f.Bidders, 2)
	fast, slow := f.Bidders[0], f.Bidders[1]
	assert.Equal(t, "fast", fast.Name)
	assert.Equal(t, 2.0, fast.Calls)
	assert.Equal(t, 0.5, fast.BidRate)
	assert.Equal(t, 0.25, fast.NoBidRate)
	assert.Equal(t, 0.25, fast.Timeouts)
	assert.Equal(t, 0.0, fast.Errors)
	assert.Equal(t, 0.5, fast.WinRate)
	assert.InDelta(t, 4, fast.P50, 1)
	assert.InDelta(t, 90, fast.P99, 10)
	assert.Equal(t, int64(1_500_000), fast.AvgBid)
	assert.Equal(t, int64(1_500_000), fast.AvgClear)
	assert.Equal(t, "slow", slow.Name)
	assert.Equal(t, 0.5, slow.Calls)
	assert.Equal(t, 0.5, slow.NotCalled)
	assert.Equal(t, 1.0, slow.Errors)

	assert.Equal(t, []reasonFrame{
		{Code: int(gavel.NoBidNoEligibleBids), Name: "no eligible bids", Rate: 0.5},
		{Code: 2, Name: "invalid request", Rate: 0.5},
		{Code: 1, Name: "technical error", Rate: 0.5},
	}, f.NoBids)
	assert.Equal(t, []reasonFrame{{Code: 102, Name: "lost to higher bid", Rate: 0.5}}, f.Losses)

	require.Len(t, f.Accounts, 2)
	assert.Equal(t, accountFrame{Name: "acme", Reserves: 1, Reserved: 1000, Refusals: 0.5}, f.Accounts[0])
	assert.Equal(t, accountFrame{Name: "(other)", Failures: 0.5}, f.Accounts[1], "a failure with no account")
	assert.Nil(t, f.Handler)

	// A second later with nothing new: rates fall to 0, the lists keep
	// their bidders and accounts but no reasons.
	f = d.build(context.Background(), r, at.Add(3*time.Second))
	assert.Equal(t, auctionFrame{}, f.Auctions)
	assert.Len(t, f.Bidders, 2)
	assert.Equal(t, 0.0, f.Bidders[0].Calls)
	assert.Empty(t, f.NoBids)
	assert.Empty(t, f.Losses)
}

func TestFrameJSON(t *testing.T) {
	d := newDashboard(t, WithClock(auctiontest.NewClock(time.UnixMilli(1_800_000_000_123))))
	ledger, err := gavel.NewMemoryLedger()
	require.NoError(t, err)
	require.NoError(t, ledger.SetBudget(context.Background(), gavel.Budget{Account: "acme", Amount: 10_000_000}))
	require.NoError(t, d.WatchLedger(ledger, "acme"))
	require.NoError(t, d.WatchPacer(fixedPacer{rate: 0.25, target: 2_500_000}, "acme", "beta"))
	r := newReadings()
	at := time.Unix(1000, 0)
	d.build(context.Background(), r, at)
	traffic(d)
	b, err := json.Marshal(d.build(context.Background(), r, at.Add(time.Second)))
	require.NoError(t, err)

	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, 1_800_000_000_123.0, got["t"])
	assert.Equal(t, 1.0, got["secs"])
	assert.Subset(t, keys(got["auctions"]), []string{"rate", "won", "noBid", "invalid", "failed", "p50", "p90", "p99", "bids", "avgBid", "avgClear"})
	bidder := got["bidders"].([]any)[0]
	assert.Subset(t, keys(bidder), []string{"name", "calls", "notCalled", "bidRate", "noBidRate", "timeoutRate", "errorRate", "winRate", "p50", "p90", "p99", "bids", "wins", "avgBid", "avgClear"})
	accounts := got["accounts"].([]any)
	require.Len(t, accounts, 3, "acme, watched; beta, watched on the pacer only; (other), from the hook")
	assert.JSONEq(t, `{"name":"acme","reserves":2,"reserved":2000,"refusals":1,"failures":0,"billed":0,"billedSpend":0,
		"balance":{"budget":10000000,"committed":0,"held":0,"remaining":10000000},"pacing":0.25,"target":2500000}`,
		mustJSON(t, accounts[0]))
	assert.JSONEq(t, `{"name":"beta","reserves":0,"reserved":0,"refusals":0,"failures":0,"billed":0,"billedSpend":0,"pacing":0.25,"target":2500000}`,
		mustJSON(t, accounts[1]))
	assert.NotContains(t, got, "handler", "no handler watched")
}

type fixedPacer struct {
	rate   float64
	target int64
}

func (p fixedPacer) Rate(string) float64            { return p.rate }
func (p fixedPacer) Target(string, time.Time) int64 { return p.target }
func keys(v any) []string {
	var ks []string
	for k := range v.(map[string]any) {
		ks = append(ks, k)
	}
	return ks
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestBoundedNames(t *testing.T) {
	d := newDashboard(t, WithMaxBidders(4), WithMaxAccounts(2), WithMaxReasons(3))
	ctx := context.Background()
	for i := range 10_000 {
		name := fmt.Sprintf("bidder-%d", i)
		d.OnBidderResponse(ctx, "a", &gavel.BidderResult{Bidder: name, Status: gavel.StatusNoBid, Latency: time.Millisecond})
		d.OnBidOutcome(ctx, "a", &gavel.BidOutcome{Bidder: name, PriceMicros: 1, Loss: openrtb3.LossReason(1000 + i)})
		d.OnReserve(ctx, "a", gavel.Hold{Account: name, Amount: 1}, nil)
	}
	assert.Len(t, *d.bidders.m.Load(), 4)
	assert.Len(t, *d.accounts.m.Load(), 2)
	assert.Len(t, *d.losses.m.Load(), 3)

	f := d.build(ctx, newReadings(), time.Now())
	require.Len(t, f.Bidders, 5)
	assert.Equal(t, "(other)", f.Bidders[4].Name)
	require.Len(t, f.Accounts, 3)
	require.Len(t, f.Losses, 4)
	assert.Equal(t, otherReason, f.Losses[3].Code)
	assert.Equal(t, "(other)", f.Losses[3].Name)
}

func TestHistoryBounded(t *testing.T) {
	d := newDashboard(t, WithHistory(5))
	for i := range 20 {
		d.publish([]byte(fmt.Sprint(i)))
	}
	s, history, err := d.subscribe()
	require.NoError(t, err)
	d.unsubscribe(s)
	assert.Equal(t, [][]byte{[]byte("15"), []byte("16"), []byte("17"), []byte("18"), []byte("19")}, history)
	assert.Len(t, d.ring, 5)
}

// TestHooksDoNotAllocate: once a bidder, an account and a reason have been
// seen, no hook allocates.
func TestHooksDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	d := newDashboard(t, WithMaxBidders(2))
	ctx := context.Background()
	br := &gavel.BidderResult{Bidder: "fast", Status: gavel.StatusBid, Latency: 3 * time.Millisecond, Bids: 1}
	over := &gavel.BidderResult{Bidder: "third", Status: gavel.StatusTimeout, Latency: 90 * time.Millisecond}
	won := &gavel.BidOutcome{Bidder: "fast", PriceMicros: 2_000_000, ClearMicros: 1_000_000, Won: true}
	lost := &gavel.BidOutcome{Bidder: "fast", PriceMicros: 1_000_000, Loss: openrtb3.LossLostToHigherBid}
	hold := gavel.Hold{Account: "acme", Amount: 1000}
	d.OnBidderResponse(ctx, "a", &gavel.BidderResult{Bidder: "second"})
	calls := map[string]func(){
		"OnAuctionEnd/won":       func() { d.OnAuctionEnd(ctx, nil, wonResult, nil) },
		"OnAuctionEnd/no_bid":    func() { d.OnAuctionEnd(ctx, nil, noBidResult, nil) },
		"OnAuctionEnd/invalid":   func() { d.OnAuctionEnd(ctx, nil, nil, invalidErr) },
		"OnAuctionEnd/failed":    func() { d.OnAuctionEnd(ctx, nil, nil, context.Canceled) },
		"OnBidderResponse":       func() { d.OnBidderResponse(ctx, "a", br) },
		"OnBidderResponse/other": func() { d.OnBidderResponse(ctx, "a", over) },
		"OnBidOutcome/won":       func() { d.OnBidOutcome(ctx, "a", won) },
		"OnBidOutcome/lost":      func() { d.OnBidOutcome(ctx, "a", lost) },
		"OnReserve":              func() { d.OnReserve(ctx, "a", hold, nil) },
		"OnReserve/refused":      func() { d.OnReserve(ctx, "a", hold, gavel.ErrBudgetExhausted) },
	}
	for name, call := range calls {
		call() // warm: the name, account or reason is seen
		assert.Zero(t, testing.AllocsPerRun(1000, call), name)
	}
	assert.True(t, errors.Is(invalidErr, gavel.ErrInvalidRequest))
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := New(WithHistory(0), WithMaxBidders(-1), WithMaxAccounts(0), WithMaxReasons(0),
		WithReadTimeout(0), WithClock(nil), nil, WithMaxCampaigns(0), WithCampaignOf(nil))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, want := range []string{"history", "max bidders", "max accounts", "max reasons", "read timeout", "clock", "option must not be nil",
		"max campaigns", "campaign func must not be nil"} {
		assert.ErrorContains(t, err, want)
	}
}

func TestWatchErrors(t *testing.T) {
	d := newDashboard(t)
	ledger, err := gavel.NewMemoryLedger()
	require.NoError(t, err)
	assert.Error(t, d.WatchLedger(nil, "a"))
	assert.Error(t, d.WatchPacer(nil, "a"))
	assert.Error(t, d.WatchHandler(nil))
	require.NoError(t, d.WatchLedger(ledger, "a", "b"))
	err = d.WatchLedger(ledger, "c", "a", "", "c")
	assert.ErrorContains(t, err, `account "a" is already watched`)
	assert.ErrorContains(t, err, "empty account name")
	assert.ErrorContains(t, err, `account "c" is already watched`)
	assert.Len(t, d.ledgers, 2, "none of the accounts of a failed call is watched")
}

// The pacer of the core draws the pacing curve.
var _ TargetReader = (*gavel.EvenPacer)(nil)
