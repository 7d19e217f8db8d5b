package gavelprom_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuctionMetrics(t *testing.T) {
	f := newFixture(t)
	reg := f.m.Registry()
	require.NotNil(t, reg)

	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gavel_auctions_in_flight", nil, 0},
		{"gavel_auctions_total", []string{"outcome", "won", "nbr", ""}, 4},
		{"gavel_auctions_total", []string{"outcome", "no_bid", "nbr", "501"}, 1},
		{"gavel_auctions_total", []string{"outcome", "invalid_request", "nbr", "2"}, 1},
		{"gavel_auctions_total", []string{"outcome", "canceled", "nbr", ""}, 1},
		{"gavel_auctions_total", []string{"outcome", "no_currency", "nbr", "1"}, 1},
		{"gavel_auction_duration_seconds", []string{"outcome", "won"}, 4},
		{"gavel_auction_duration_seconds", []string{"outcome", "no_bid"}, 1},

		{"gavel_bidder_auctions_total", []string{"bidder", "alpha", "status", "bid"}, 4},
		{"gavel_bidder_auctions_total", []string{"bidder", "alpha", "status", "budget_exhausted"}, 1},
		{"gavel_bidder_auctions_total", []string{"bidder", "beta", "status", "bid"}, 5},
		{"gavel_bidder_auctions_total", []string{"bidder", "gamma", "status", "no_bid"}, 5},
		{"gavel_bidder_auctions_total", []string{"bidder", "delta", "status", "error"}, 5},
		{"gavel_bidder_auctions_total", []string{"bidder", "slow", "status", "timeout"}, 5},
		{"gavel_bidder_request_duration_seconds", []string{"bidder", "slow"}, 5},
		{"gavel_bids_received_total", []string{"bidder", "alpha"}, 4},
		{"gavel_bids_received_total", []string{"bidder", "gamma"}, 0},
		{"gavel_bids_won_total", []string{"bidder", "alpha"}, 2},
		{"gavel_bids_won_total", []string{"bidder", "beta"}, 2},
		{"gavel_bids_lost_total", []string{"bidder", "alpha", "reason", "504"}, 2},
		{"gavel_bids_lost_total", []string{"bidder", "beta", "reason", "102"}, 2},
		{"gavel_bids_lost_total", []string{"bidder", "beta", "reason", "100"}, 1},
		{"gavel_clearing_price_micros", []string{"bidder", "alpha"}, 2},
		{"gavel_win_cost_micros_total", []string{"bidder", "alpha"}, 10_000},
		{"gavel_win_cost_micros_total", []string{"bidder", "beta"}, 6_000},

		{"gavel_profile_lookups_total", []string{"outcome", "hit"}, 1},
		{"gavel_profile_lookups_total", []string{"outcome", "miss"}, 1},
		{"gavel_profile_lookups_total", []string{"outcome", "no_key"}, 4},
		{"gavel_profile_lookup_duration_seconds", nil, 2},

		{"gavel_budget_reservations_total", []string{"account", "alpha", "result", "reserved"}, 2},
		{"gavel_budget_reservations_total", []string{"account", "alpha", "result", "refused"}, 2},
		{"gavel_budget_reservations_total", []string{"account", "beta", "result", "reserved"}, 2},
		{"gavel_budget_reserved_micros_total", []string{"account", "alpha"}, 10_000},
		{"gavel_budget_reserved_micros_total", []string{"account", "beta"}, 6_000},
		{"gavel_billed_micros_total", []string{"account", "alpha"}, 4_000},

		{"gavel_bidder_window_calls", []string{"bidder", "alpha"}, 4},
		{"gavel_bidder_failure_ratio", []string{"bidder", "alpha"}, 0},
		{"gavel_bidder_failure_ratio", []string{"bidder", "delta"}, 1},
		{"gavel_bidder_failure_ratio", []string{"bidder", "slow"}, 1},
		{"gavel_bidder_call_ratio", []string{"bidder", "slow"}, 1},
		{"gavel_event_batches_refused_total", nil, 0},

		{"gavel_ledger_budget_micros", []string{"account", "alpha"}, alphaBudget},
		{"gavel_ledger_committed_micros", []string{"account", "alpha"}, 4_000},
		{"gavel_ledger_held_micros", []string{"account", "alpha"}, 5_000},
		{"gavel_ledger_remaining_micros", []string{"account", "alpha"}, alphaBudget - 4_000 - 5_000},
		{"gavel_ledger_remaining_micros", []string{"account", "beta"}, betaBudget - 6_000},
		{"gavel_ledger_read_errors_total", nil, 0},
		{"gavel_pacer_participation_ratio", []string{"account", "alpha"}, f.pacer.Rate("alpha")},

		{"gavel_events_queued", nil, 0},
		{"gavel_events_accepted_total", nil, float64(f.sink.Stats().Accepted)},
		{"gavel_events_delivered_total", nil, float64(f.rec.Len())},
		{"gavel_event_write_retries_total", nil, 1},
		{"gavel_events_failed_total", nil, 0},
		{"gavel_events_dropped_total", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name+strings.Join(tt.labels, ","), func(t *testing.T) {
			assert.Equal(t, tt.want, value(t, reg, tt.name, append(tt.labels, "exchange", "test")...))
		})
	}

	// The whole of a family, in the text format.
	const lost = `
# HELP gavel_bids_lost_total Bids that lost, by OpenRTB loss reason code (reason).
# TYPE gavel_bids_lost_total counter
gavel_bids_lost_total{bidder="alpha",exchange="test",reason="504"} 2
gavel_bids_lost_total{bidder="beta",exchange="test",reason="100"} 1
gavel_bids_lost_total{bidder="beta",exchange="test",reason="102"} 2
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(lost), "gavel_bids_lost_total"))
	// A bidder's series start together: five bidders, five of each.
	n, err := testutil.GatherAndCount(reg, "gavel_clearing_price_micros", "gavel_bidder_request_duration_seconds")
	require.NoError(t, err)
	assert.Equal(t, 5+5, n)
}

// The metrics follow Prometheus' naming rules, as promlint checks them.
func TestLint(t *testing.T) {
	f := newFixture(t)
	problems, err := testutil.GatherAndLint(f.m.Registry())
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// No label value is one of the ids the auctions saw, and the number of
// series stays the same however many more auctions run.
func TestLabelsBounded(t *testing.T) {
	f := newFixture(t)
	count := func() int {
		mfs, err := f.m.Registry().Gather()
		require.NoError(t, err)
		n := 0
		for _, mf := range mfs {
			for _, s := range mf.GetMetric() {
				n++
				for _, l := range s.GetLabel() {
					for _, id := range f.ids {
						assert.NotContains(t, l.GetValue(), id, "%s label %s", mf.GetName(), l.GetName())
					}
				}
			}
		}
		return n
	}
	before := count()
	for range 3 {
		res, err := f.a.Run(context.Background(), f.request("auc-more", 0.5))
		require.NoError(t, err)
		require.True(t, res.HasWinner())
	}
	assert.Equal(t, before, count())
}

func TestSinkHooks(t *testing.T) {
	m, err := gavelprom.New()
	require.NoError(t, err)
	rec := &auctiontest.EventRecorder{}
	sink, err := gavel.NewAsyncSink(rec, gavel.WithLinger(0),
		gavel.WithRetry(2, time.Millisecond, time.Millisecond), gavel.WithSinkHooks(m))
	require.NoError(t, err)
	require.NoError(t, m.WatchSink(sink))
	ctx := context.Background()
	events := make([]gavel.Event, 3)

	rec.FailNext(2, errors.New("broker down")) // both attempts of the first batch
	require.NoError(t, sink.Write(ctx, events))
	require.NoError(t, sink.Flush(ctx))
	require.NoError(t, sink.Write(ctx, events[:2]))
	require.NoError(t, sink.Close(ctx))
	require.ErrorIs(t, sink.Write(ctx, events[:1]), gavel.ErrSinkClosed)

	want := map[string]float64{
		"gavel_events_failed_total":       3,
		"gavel_event_write_retries_total": 1,
		"gavel_events_delivered_total":    2,
		"gavel_events_dropped_total":      1,
		"gavel_events_accepted_total":     5,
		"gavel_events_queued":             0,
	}
	for name, v := range want {
		assert.Equal(t, v, value(t, m.Registry(), name), name)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opts    []gavelprom.Option
		wantErr bool
	}{
		{"defaults", nil, false},
		{"all options", []gavelprom.Option{
			gavelprom.WithNamespace("rtb"),
			gavelprom.WithLatencyBuckets(0.001, 0.01, 0.1),
			gavelprom.WithPriceBuckets(1_000_000, 5_000_000),
			gavelprom.WithConstLabels(prometheus.Labels{"region": "eu"}),
			gavelprom.WithReadTimeout(time.Second),
		}, false},
		{"no namespace", []gavelprom.Option{gavelprom.WithNamespace("")}, false},
		{"invalid namespace", []gavelprom.Option{gavelprom.WithNamespace("1-x")}, true},
		{"nil registerer", []gavelprom.Option{gavelprom.WithRegisterer(nil)}, true},
		{"empty latency buckets", []gavelprom.Option{gavelprom.WithLatencyBuckets()}, true},
		{"decreasing latency buckets", []gavelprom.Option{gavelprom.WithLatencyBuckets(0.1, 0.01)}, true},
		{"negative price bucket", []gavelprom.Option{gavelprom.WithPriceBuckets(-1, 10)}, true},
		{"const label is a variable label", []gavelprom.Option{gavelprom.WithConstLabels(prometheus.Labels{"bidder": "x"})}, true},
		{"invalid const label", []gavelprom.Option{gavelprom.WithConstLabels(prometheus.Labels{"a-b": "x"})}, true},
		{"zero read timeout", []gavelprom.Option{gavelprom.WithReadTimeout(0)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := gavelprom.New(tt.opts...)
			if tt.wantErr {
				require.Error(t, err)
				assert.Nil(t, m)
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, m.Registry())
		})
	}
}

// With a registerer of the caller's, a second Metrics with the same
// constant labels is refused and leaves the registry as it was; one with
// other constant labels shares the registry.
func TestRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	m1, err := gavelprom.New(gavelprom.WithRegisterer(reg), gavelprom.WithConstLabels(prometheus.Labels{"auction": "a"}))
	require.NoError(t, err)
	assert.Nil(t, m1.Registry())
	before, err := reg.Gather()
	require.NoError(t, err)

	_, err = gavelprom.New(gavelprom.WithRegisterer(reg), gavelprom.WithConstLabels(prometheus.Labels{"auction": "a"}))
	var are prometheus.AlreadyRegisteredError
	require.ErrorAs(t, err, &are)
	after, err := reg.Gather()
	require.NoError(t, err)
	assert.Equal(t, len(before), len(after))

	m2, err := gavelprom.New(gavelprom.WithRegisterer(reg), gavelprom.WithConstLabels(prometheus.Labels{"auction": "b"}))
	require.NoError(t, err)
	m1.OnEventsDropped(1)
	m2.OnEventsDropped(2)
	assert.Equal(t, 1.0, value(t, reg, "gavel_events_dropped_total", "auction", "a"))
	assert.Equal(t, 2.0, value(t, reg, "gavel_events_dropped_total", "auction", "b"))
}

func TestWatchErrors(t *testing.T) {
	m, err := gavelprom.New()
	require.NoError(t, err)
	a, err := gavel.New()
	require.NoError(t, err)
	sink, err := gavel.NewAsyncSink(&auctiontest.EventRecorder{})
	require.NoError(t, err)
	defer func() { require.NoError(t, sink.Close(context.Background())) }()
	ledger, _ := gavel.NewMemoryLedger()
	pacer, _ := gavel.NewEvenPacer()

	require.NoError(t, m.WatchAuction(a))
	assert.Error(t, m.WatchAuction(a), "second auction")
	assert.Error(t, m.WatchAuction(nil))
	require.NoError(t, m.WatchSink(sink))
	assert.Error(t, m.WatchSink(sink), "second sink")
	assert.Error(t, m.WatchSink(nil))

	require.NoError(t, m.WatchLedger(ledger, "x"))
	require.NoError(t, m.WatchLedger(ledger, "y"), "more accounts")
	assert.Error(t, m.WatchLedger(ledger, "z", "x"), "x again")
	assert.Error(t, m.WatchLedger(ledger, "w", "w"), "w twice")
	assert.Error(t, m.WatchLedger(ledger, ""))
	assert.Error(t, m.WatchLedger(nil, "v"))
	require.NoError(t, m.WatchLedger(ledger, "z"), "z was not added by the failed call")

	require.NoError(t, m.WatchPacer(pacer, "x"))
	assert.Error(t, m.WatchPacer(pacer, "x"))
	assert.Error(t, m.WatchPacer(nil, "y"))

	// x, y and z have no budget: their balances are read errors, one each
	// per scrape, and leave no series.
	reg := m.Registry()
	assert.Equal(t, 3.0, value(t, reg, "gavel_ledger_read_errors_total"))
	assert.Equal(t, 6.0, value(t, reg, "gavel_ledger_read_errors_total"))
	assert.Empty(t, series(t, reg, "gavel_ledger_budget_micros"))
}

// A ledger that fails the reservation counts an error without the account,
// which the ledger may not know.
func TestReservationOutcomesHaveTheirOwnLabel(t *testing.T) {
	m, err := gavelprom.New()
	require.NoError(t, err)
	ctx := context.Background()
	m.OnReserve(ctx, "auc", gavel.Hold{Account: "acme", Amount: 10}, nil)
	m.OnReserve(ctx, "auc", gavel.Hold{Account: "acme", Amount: 10}, gavel.ErrBudgetExhausted)
	m.OnReserve(ctx, "auc", gavel.Hold{Account: "newco", Amount: 10}, gavel.ErrUnknownAccount)
	m.OnReserve(ctx, "auc", gavel.Hold{Account: "acme", Amount: 10}, errors.New("redis down"))
	m.OnReserve(ctx, "auc", gavel.Hold{Account: "acme", Amount: 10}, gavel.ErrNoTime)
	m.OnReserve(ctx, "auc", gavel.Hold{Account: "acme", Amount: 10}, context.DeadlineExceeded)
	m.OnReserve(ctx, "auc", gavel.Hold{Account: "acme", Amount: 10}, fmt.Errorf("lease: %w", gavel.ErrBudgetPending))
	const want = `
# HELP gavel_budget_reservations_total Budget reservations of winners, by result (reserved, refused, unknown_account, unavailable, no_time, pending); account is empty for the last three.
# TYPE gavel_budget_reservations_total counter
gavel_budget_reservations_total{account="",result="no_time"} 2
gavel_budget_reservations_total{account="",result="pending"} 1
gavel_budget_reservations_total{account="",result="unavailable"} 1
gavel_budget_reservations_total{account="acme",result="refused"} 1
gavel_budget_reservations_total{account="acme",result="reserved"} 1
gavel_budget_reservations_total{account="acme",result="unknown_account"} 0
gavel_budget_reservations_total{account="newco",result="refused"} 0
gavel_budget_reservations_total{account="newco",result="reserved"} 0
gavel_budget_reservations_total{account="newco",result="unknown_account"} 1
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "gavel_budget_reservations_total"))
}

// Hooks called from many goroutines, each seeing new bidders and reasons
// first, count every call.
func TestConcurrentHooks(t *testing.T) {
	m, err := gavelprom.New()
	require.NoError(t, err)
	const goroutines, calls = 8, 200
	bidders := []string{"a", "b", "c", "d"}
	reasons := []openrtb3.LossReason{100, 102, 205, 504}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ctx := context.Background()
			for i := range calls {
				b := &gavel.BidOutcome{Bidder: bidders[(g+i)%len(bidders)], Loss: reasons[i%len(reasons)]}
				m.OnBidOutcome(ctx, "auc", b)
				m.OnBidderResponse(ctx, "auc", &gavel.BidderResult{Bidder: b.Bidder, Status: gavel.StatusNoBid})
			}
		})
	}
	wg.Wait()
	var lost, auctions float64
	for _, s := range series(t, m.Registry(), "gavel_bids_lost_total") {
		lost += s.Counter.GetValue()
	}
	for _, s := range series(t, m.Registry(), "gavel_bidder_auctions_total") {
		auctions += s.Counter.GetValue()
	}
	assert.Equal(t, float64(goroutines*calls), lost)
	assert.Equal(t, float64(goroutines*calls), auctions)
	assert.Len(t, series(t, m.Registry(), "gavel_bids_lost_total"), len(bidders)*len(reasons))
}

// blockingLedger answers Balance only when ctx is done.
type blockingLedger struct{}

func (blockingLedger) Balance(ctx context.Context, _ string) (gavel.Balance, error) {
	<-ctx.Done()
	return gavel.Balance{}, ctx.Err()
}

// A ledger that does not answer holds a scrape for the read timeout at
// most, for all accounts together.
func TestReadTimeout(t *testing.T) {
	m, err := gavelprom.New(gavelprom.WithReadTimeout(20 * time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, m.WatchLedger(blockingLedger{}, "a", "b", "c"))
	start := time.Now()
	assert.Equal(t, 3.0, value(t, m.Registry(), "gavel_ledger_read_errors_total"))
	assert.Less(t, time.Since(start), time.Second)
}
