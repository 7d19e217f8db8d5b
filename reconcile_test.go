package gavel_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// TestSpendSummerMatchesLedger runs real auctions on a MemoryLedger with
// their events written by a JSONLinesSink, bills some winners (in full, in
// part, twice), releases others, writes a batch of the events twice (a
// sink retry): the file's billing events sum to exactly the ledger's
// committed, and Reconcile into a fresh ledger restores it.
func TestSpendSummerMatchesLedger(t *testing.T) {
	ctx := context.Background()
	budgets := []gavel.Budget{
		{Account: "alpha", Amount: 10_000_000},
		{Account: "beta", Amount: 50_000_000, Period: gavel.DailyPeriod(nil, 0)},
		{Account: "idle", Amount: 1_000_000}, // never bills: restored to 0
	}
	ledger, err := gavel.NewMemoryLedger()
	require.NoError(t, err)
	var file bytes.Buffer
	sink := gavel.NewJSONLinesSink(&file)
	a, err := gavel.New(
		gavel.WithBidders(
			auctiontest.Fixed("alpha", auctiontest.Bid("a1", "1", 2.50), auctiontest.Bid("a2", "2", 1.90)),
			auctiontest.Fixed("beta", auctiontest.Bid("b1", "1", 3.10), auctiontest.Bid("b2", "2", 1.70)),
			auctiontest.Fixed("free", auctiontest.Bid("f1", "3", 4.00)), // no budget: unbudgeted winner
		),
		gavel.WithLedger(ledger), gavel.WithBudgets(budgets...), gavel.WithEventSink(sink),
		gavel.WithUnknownAccounts(gavel.AllowUnknownAccounts),
	)
	require.NoError(t, err)
	dayBefore := budgets[1].Period.Start(time.Now())

	for i := range 60 {
		res, err := a.Run(ctx, auctiontest.Request(fmt.Sprintf("auction-%d", i),
			auctiontest.BannerImp("1", 1.00), auctiontest.BannerImp("2", 0.50), auctiontest.BannerImp("3", 0.10)))
		require.NoError(t, err)
		for k := range res.Imps {
			bill, err := res.Billing(res.Imps[k].Winner)
			require.NoError(t, err)
			switch i % 4 {
			case 0: // billed in full, and its notice again
				require.NoError(t, a.Commit(ctx, bill, bill.Hold.Amount))
				err := a.Commit(ctx, bill, bill.Hold.Amount)
				if bill.Hold != (gavel.Hold{}) {
					require.ErrorIs(t, err, gavel.ErrHoldCommitted)
				}
			case 1: // billed in part
				require.NoError(t, a.Commit(ctx, bill, bill.Hold.Amount/2))
			case 2: // lost
				require.NoError(t, a.Release(ctx, bill))
			} // case 3: neither: the hold expires
		}
	}
	require.NoError(t, a.Close(ctx))
	if budgets[1].Period.Start(time.Now()) != dayBefore {
		t.Skip("the UTC day turned during the test")
	}
	// A sink that wrote its first batches again.
	lines := strings.SplitAfter(file.String(), "\n")
	events := strings.Join(lines, "") + strings.Join(lines[:20], "")

	s, err := gavel.NewSpendSummer(budgets...)
	require.NoError(t, err)
	require.NoError(t, s.ReadJSONLines(strings.NewReader(events)))
	st := s.Stats()
	assert.Zero(t, st.Malformed)
	assert.Positive(t, st.Billed)
	assert.Positive(t, st.Unbudgeted, "the free bidder's billing events")
	assert.Positive(t, st.Other)
	assert.Positive(t, st.Duplicates, "the batches written twice")

	now := time.Now()
	cur := s.Current(now)
	require.Len(t, cur, len(budgets))
	fresh, err := gavel.NewMemoryLedger()
	require.NoError(t, err)
	for _, b := range budgets {
		require.NoError(t, fresh.SetBudget(ctx, b))
	}
	require.NoError(t, gavel.Reconcile(ctx, cur, fresh))
	for _, sp := range cur {
		want, err := ledger.Balance(ctx, sp.Account)
		require.NoError(t, err)
		assert.Equal(t, want.Committed, sp.Committed, sp.Account)
		assert.True(t, want.PeriodStart.Equal(sp.PeriodStart), sp.Account)
		got, err := fresh.Balance(ctx, sp.Account)
		require.NoError(t, err)
		assert.Equal(t, want.Committed, got.Committed, "restored %s", sp.Account)
	}
	assert.Positive(t, cur[0].Committed)
	assert.Positive(t, cur[1].Committed)
	assert.Zero(t, cur[2].Committed)
}

// billing returns the JSON line of a billing event for account, as a
// JSONLinesSink writes it.
func billing(t *testing.T, account, auction string, ts time.Time, cost int64) string {
	t.Helper()
	var buf bytes.Buffer
	e := gavel.Event{Version: gavel.EventSchemaVersion, Type: gavel.EventBilling, Time: ts.UnixMilli(),
		AuctionID: auction, ImpID: "1", Bidder: account, Seat: account, BidID: "b-" + auction,
		Account: account, Currency: "EUR", ClearMicros: cost * 1000, CostMicros: cost}
	require.NoError(t, gavel.NewJSONLinesSink(&buf).Write(context.Background(), []gavel.Event{e}))
	return buf.String()
}

// restoreCall is one call a recordingRestorer saw.
type restoreCall struct {
	account   string
	start     time.Time
	committed int64
}

type recordingRestorer struct {
	calls []restoreCall
	fail  error
}

func (r *recordingRestorer) Restore(_ context.Context, account string, start time.Time, committed int64) error {
	r.calls = append(r.calls, restoreCall{account, start, committed})
	return r.fail
}

// TestSpendSummerPeriods sums a daily budget across its reset (06:00
// Paris): each billing event counts in the day that holds its ts, only
// the current day is restored, and a MemoryLedger takes the current day's
// start and ignores the day before's. A flight's spend is offered at its
// period (total) and at its start.
func TestSpendSummerPeriods(t *testing.T) {
	ctx := context.Background()
	paris := time.FixedZone("CET", 3600)
	day1 := time.Date(2026, 3, 2, 6, 0, 0, 0, paris)
	day2 := day1.AddDate(0, 0, 1)
	flight := gavel.Budget{Account: "flight", Amount: 9_000_000, Start: day1.Add(-48 * time.Hour), End: day2.Add(48 * time.Hour)}
	daily := gavel.Budget{Account: "acme", Amount: 50_000_000, Period: gavel.DailyPeriod(paris, 6*time.Hour)}
	s, err := gavel.NewSpendSummer(daily, flight)
	require.NoError(t, err)

	file := billing(t, "acme", "a1", day1.Add(time.Hour), 1_000) +
		billing(t, "acme", "a2", day2.Add(-time.Millisecond), 2_000) + // 05:59:59.999: day 1
		billing(t, "acme", "a3", day2, 30_000) + // 06:00: day 2
		billing(t, "acme", "a4", day2.Add(time.Hour), 400_000) +
		billing(t, "flight", "f1", day1.Add(-24*time.Hour), 5_000) +
		billing(t, "flight", "f2", day2.Add(time.Hour), 60_000)
	require.NoError(t, s.ReadJSONLines(strings.NewReader(file)))

	periods := s.Periods()
	require.Len(t, periods, 3)
	assert.Equal(t, "acme", periods[0].Account)
	assert.True(t, periods[0].PeriodStart.Equal(day1))
	assert.Equal(t, int64(3_000), periods[0].Committed)
	assert.Equal(t, 2, periods[0].Events)
	assert.True(t, periods[1].PeriodStart.Equal(day2))
	assert.Equal(t, int64(430_000), periods[1].Committed)
	assert.Equal(t, gavel.AccountSpend{Account: "flight", FlightStart: flight.Start, Committed: 65_000, Events: 2}, periods[2])

	now := day2.Add(2 * time.Hour)
	cur := s.Current(now)
	require.Len(t, cur, 2)
	assert.Equal(t, periods[1], cur[0])
	assert.Equal(t, periods[2], cur[1])
	assert.Equal(t, periods[1], s.Current(day2)[0], "the reset itself is in day 2")
	assert.Equal(t, gavel.AccountSpend{Account: "acme", PeriodStart: day2.AddDate(0, 0, 1)},
		s.Current(day2.AddDate(0, 0, 1))[0], "a day without billing restores 0")

	rec := &recordingRestorer{}
	require.NoError(t, gavel.Reconcile(ctx, cur, rec))
	assert.Equal(t, []restoreCall{
		{"acme", cur[0].PeriodStart, 430_000},
		{"flight", time.Time{}, 65_000}, {"flight", flight.Start, 65_000},
	}, rec.calls)

	clock := auctiontest.NewClock(now)
	ledger, err := gavel.NewMemoryLedger(gavel.WithLedgerClock(clock))
	require.NoError(t, err)
	for _, b := range []gavel.Budget{daily, flight} {
		require.NoError(t, ledger.SetBudget(ctx, b))
	}
	require.NoError(t, gavel.Reconcile(ctx, periods, ledger), "the day before is ignored, not an error")
	for account, want := range map[string]int64{"acme": 430_000, "flight": 65_000} {
		b, err := ledger.Balance(ctx, account)
		require.NoError(t, err)
		assert.Equal(t, want, b.Committed, account)
	}
}

// TestSpendSummerDuplicates counts each impression once: an event written
// twice, and the same impression billed again at another cost (counted at
// its first cost, and reported as a conflict). Another imp, bid or
// account of the same auction is another impression.
func TestSpendSummerDuplicates(t *testing.T) {
	s, err := gavel.NewSpendSummer(gavel.Budget{Account: "acme", Amount: 1}, gavel.Budget{Account: "beta", Amount: 1})
	require.NoError(t, err)
	ts := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC).UnixMilli()
	e := gavel.Event{Version: 1, Type: gavel.EventBilling, Time: ts, AuctionID: "a1", ImpID: "1", Bidder: "acme",
		Seat: "acme", BidID: "b1", Account: "acme", CostMicros: 1_000}
	add := func(e gavel.Event) bool {
		t.Helper()
		ok, err := s.Add(&e)
		require.NoError(t, err)
		return ok
	}
	assert.True(t, add(e))
	assert.False(t, add(e), "the same event again")
	e2 := e
	e2.Time, e2.CostMicros = ts+5, 700
	assert.False(t, add(e2), "the same impression at another cost")
	for _, change := range []func(*gavel.Event){
		func(e *gavel.Event) { e.ImpID = "2" },
		func(e *gavel.Event) { e.BidID = "b2" },
		func(e *gavel.Event) { e.Seat = "acme-2" },
		func(e *gavel.Event) { e.Account, e.Bidder = "beta", "beta" },
		func(e *gavel.Event) { e.ImpID, e.BidID = "1\x00b1", "" }, // the fields do not run into each other
	} {
		other := e
		change(&other)
		assert.True(t, add(other), "%+v", other)
	}
	st := s.Stats()
	assert.Equal(t, 6, st.Billed)
	assert.Equal(t, 2, st.Duplicates)
	assert.Equal(t, 1, st.Conflicts)
	cur := s.Current(time.UnixMilli(ts))
	assert.Equal(t, int64(5_000), cur[0].Committed)
	assert.Equal(t, int64(1_000), cur[1].Committed)
}

// TestSpendSummerMalformed reads a stream with bad lines: each is counted,
// named by its line number and skipped, and the lines around it count.
// Unknown event types are not malformed, and a reader that fails is an
// error naming its line.
func TestSpendSummerMalformed(t *testing.T) {
	s, err := gavel.NewSpendSummer(gavel.Budget{Account: "acme", Amount: 1})
	require.NoError(t, err)
	ts := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	good := billing(t, "acme", "a1", ts, 1_000)
	file := good + // 1
		"not json\n" + // 2
		good[:40] + "\n" + // 3: torn
		"\n" + // 4: empty, skipped
		`{"v":1,"ts":5,"auction_id":"x"}` + "\n" + // 5: no type
		strings.Replace(billing(t, "acme", "a2", ts, 2_000), `"v":1`, `"v":2`, 1) + // 6
		billing(t, "acme", "a3", ts, -5) + // 7: negative cost
		`{"v":1,"type":"billing","auction_id":"a4","account":"acme","cost_micros":5}` + "\n" + // 8: no ts
		`{"v":1,"type":"telepathy","ts":5,"auction_id":"x"}` + "\n" + // 9: a type from the future
		`{"v":1,"type":"win","ts":5,"auction_id":"x","account":"acme","cost_micros":99}` + "\n" + // 10
		`{"type":"billing",` + "\n" + // 11: torn
		`{"v":1,"type":"bid","ts":5,"auction_id":"x",` + "\n" + // 12: torn, not billing
		billing(t, "acme", "a5", ts, 20_000) // 13, without its newline below
	require.NoError(t, s.ReadJSONLines(strings.NewReader(strings.TrimSuffix(file, "\n"))))
	st := s.Stats()
	assert.Equal(t, 2, st.Billed)
	assert.Equal(t, 2, st.Other)
	assert.Equal(t, 8, st.Malformed)
	var lines []int
	for _, m := range st.MalformedLines {
		lines = append(lines, m.Line)
		assert.Error(t, m.Err)
	}
	assert.Equal(t, []int{2, 3, 5, 6, 7, 8, 11, 12}, lines)
	assert.ErrorContains(t, st.MalformedLines[7].Err, "invalid JSON")
	assert.ErrorContains(t, st.MalformedLines[3].Err, "schema version 2")
	assert.ErrorContains(t, st.MalformedLines[4].Err, "negative cost_micros")
	assert.Equal(t, int64(21_000), s.Current(ts)[0].Committed)

	// A line longer than the reader's buffer (a long error text).
	long := gavel.Event{Version: 1, Type: gavel.EventError, Time: 5, AuctionID: "x", Error: strings.Repeat("e", 200_000)}
	var buf bytes.Buffer
	require.NoError(t, gavel.NewJSONLinesSink(&buf).Write(context.Background(), []gavel.Event{long}))
	buf.WriteString(billing(t, "acme", "a6", ts, 300_000))
	require.NoError(t, s.ReadJSONLines(&buf))
	st = s.Stats()
	assert.Equal(t, 3, st.Other)
	assert.Equal(t, 3, st.Billed)
	assert.Equal(t, 8, st.Malformed)

	boom := errors.New("disk on fire")
	err = s.ReadJSONLines(ioErrAfter(good+good, boom))
	require.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, "line 3")
}

// ioErrAfter returns a reader of s that then fails with err.
func ioErrAfter(s string, err error) *errAfter { return &errAfter{r: strings.NewReader(s), err: err} }

type errAfter struct {
	r   *strings.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	if e.r.Len() == 0 {
		return 0, e.err
	}
	return e.r.Read(p)
}

// TestSpendSummerBudgets refuses invalid budgets and an account given
// twice, all at once; and an account without a budget is unbudgeted.
func TestSpendSummerBudgets(t *testing.T) {
	_, err := gavel.NewSpendSummer(gavel.Budget{Account: "a", Amount: -1}, gavel.Budget{Account: "b"}, gavel.Budget{Account: "b"})
	require.ErrorIs(t, err, gavel.ErrInvalidBudget)
	assert.ErrorContains(t, err, "negative amount")
	assert.ErrorContains(t, err, `"b" has two budgets`)

	s, err := gavel.NewSpendSummer()
	require.NoError(t, err)
	ok, err := s.Add(&gavel.Event{Version: 1, Type: gavel.EventBilling, Time: 1, Account: "x", CostMicros: 1})
	require.NoError(t, err)
	assert.False(t, ok)
	ok, err = s.Add(&gavel.Event{Version: 1, Type: gavel.EventBilling, Time: 1, CostMicros: 1})
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, 2, s.Stats().Unbudgeted)
	assert.Empty(t, s.Current(time.Now()))
}

// TestReconcileErrors goes on past a failed restore, names each account,
// and stops when ctx is done.
func TestReconcileErrors(t *testing.T) {
	spend := []gavel.AccountSpend{{Account: "a", Committed: 1}, {Account: "b", Committed: 2}}
	bad, good := &recordingRestorer{fail: gavel.ErrUnknownAccount}, &recordingRestorer{}
	err := gavel.Reconcile(context.Background(), spend, bad, good)
	require.ErrorIs(t, err, gavel.ErrUnknownAccount)
	assert.ErrorContains(t, err, `restore "a"`)
	assert.ErrorContains(t, err, `restore "b"`)
	assert.Len(t, good.calls, 2)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, gavel.Reconcile(ctx, spend, good), context.Canceled)
	assert.Len(t, good.calls, 2)
}

// TestMemoryLedgerRestore sets committed in the current period only,
// keeps what is reserved, and refuses an unknown account, a negative
// amount and a done ctx.
func TestMemoryLedgerRestore(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	clock := auctiontest.NewClock(now)
	ledger, err := gavel.NewMemoryLedger(gavel.WithLedgerClock(clock))
	require.NoError(t, err)
	require.NoError(t, ledger.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: 10_000, Period: gavel.DailyPeriod(nil, 0)}))
	_, err = ledger.Reserve(ctx, "acme", 3_000, time.Minute)
	require.NoError(t, err)
	today := now.Truncate(24 * time.Hour)

	require.NoError(t, ledger.Restore(ctx, "acme", today.AddDate(0, 0, -1), 9_999), "yesterday: ignored")
	require.NoError(t, ledger.Restore(ctx, "acme", today, 6_000))
	b, err := ledger.Balance(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, gavel.Balance{Budget: 10_000, Committed: 6_000, Reserved: 3_000, PeriodStart: today}, b)
	_, err = ledger.Reserve(ctx, "acme", 1_001, time.Minute)
	require.ErrorIs(t, err, gavel.ErrBudgetExhausted, "spending resumes where the restore put it")

	require.ErrorIs(t, ledger.Restore(ctx, "nobody", time.Time{}, 1), gavel.ErrUnknownAccount)
	require.Error(t, ledger.Restore(ctx, "acme", today, -1))
	done, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, ledger.Restore(done, "acme", today, 0), context.Canceled)
	b, err = ledger.Balance(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, int64(6_000), b.Committed)

	clock.Advance(24 * time.Hour)
	require.NoError(t, ledger.Restore(ctx, "acme", today, 1), "a day that has ended: ignored")
	b, err = ledger.Balance(ctx, "acme")
	require.NoError(t, err)
	assert.Zero(t, b.Committed)
}
