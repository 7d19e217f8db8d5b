package auctiontest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // the daily periods' zone must not depend on the machine's zoneinfo

	"github.com/gavelrtb/gavel"
)

// The cases of TestLedger beyond single holds: done contexts, budget
// changes, concurrent reservations and daily periods.

// testLedgerContextDone checks that every method, called with a done ctx,
// returns ctx.Err() and changes nothing: the hold reserved before lives on.
func testLedgerContextDone(t *testing.T, newLedger func(t *testing.T) LedgerUnderTest) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancelExpired()
	for _, ctx := range []context.Context{canceled, expired} {
		t.Run(ctx.Err().Error(), func(t *testing.T) {
			bg := context.Background()
			ut := newLedger(t)
			l := ut.Ledger
			h, err := l.Reserve(bg, "a", 300, time.Minute)
			must(t, err)

			_, err = l.Reserve(ctx, "a", 100, time.Minute)
			equal(t, "Reserve", ctx.Err(), err)
			_, err = l.Reserve(ctx, "a", -1, 0) // ctx is checked first
			equal(t, "an invalid Reserve", ctx.Err(), err)
			equal(t, "Commit", ctx.Err(), l.Commit(ctx, h, 100))
			equal(t, "Release", ctx.Err(), l.Release(ctx, h))
			if br, ok := l.(gavel.BalanceReader); ok {
				_, err = br.Balance(ctx, "a")
				equal(t, "Balance", ctx.Err(), err)
			}
			if ut.Balance != nil {
				equal(t, "balance", gavel.Balance{Budget: 1_000, Reserved: 300}, ut.Balance(t, "a"))
			}

			must(t, l.Commit(bg, h, 100)) // the hold survived
			equal(t, "settled balance", gavel.Balance{Budget: 1_000, Committed: 100}, ut.Settle(t, "a"))
		})
	}
}

// testLedgerBudgetChanges changes the budget of an account with money
// committed and reserved: a change keeps both, a budget lowered below them
// stops new reservations and takes nothing back, and a budget raised again
// makes room. Invalid budgets are refused with ErrInvalidBudget, and a
// done ctx with its error; a flight is a total budget.
func testLedgerBudgetChanges(t *testing.T, ut LedgerUnderTest) {
	if ut.SetBudget == nil {
		t.Skip("LedgerUnderTest.SetBudget is nil")
	}
	ctx := context.Background()
	l := ut.Ledger
	day := time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		b    gavel.Budget
	}{
		{"empty account", gavel.Budget{Amount: 1}},
		{"negative budget", gavel.Budget{Account: "a", Amount: -1}},
		{"reset 24h", gavel.Budget{Account: "a", Amount: 1, Period: gavel.DailyPeriod(nil, 24*time.Hour)}},
		{"negative reset", gavel.Budget{Account: "a", Amount: 1, Period: gavel.DailyPeriod(nil, -time.Nanosecond)}},
		{"flight without end", gavel.Budget{Account: "a", Amount: 1, Start: day}},
		{"flight ending at its start", gavel.Budget{Account: "a", Amount: 1, Start: day, End: day}},
		{"daily flight", gavel.Budget{Account: "a", Amount: 1, Period: gavel.DailyPeriod(nil, 0), Start: day, End: day.Add(time.Hour)}},
		{"unknown pacing", gavel.Budget{Account: "a", Amount: 1, Pacing: 7}},
	} {
		if err := ut.SetBudget(ctx, c.b); !errors.Is(err, gavel.ErrInvalidBudget) {
			t.Errorf("SetBudget with %s: got %v, want %v", c.name, err, gavel.ErrInvalidBudget)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	equal(t, "SetBudget with a done ctx", context.Canceled, ut.SetBudget(canceled, gavel.Budget{Account: "a", Amount: 5}))
	checkBalance(t, ut, "after refused changes", "a", gavel.Balance{Budget: 1_000})
	if br, ok := l.(gavel.BalanceReader); ok {
		_, err := br.Balance(ctx, "")
		if !errors.Is(err, gavel.ErrUnknownAccount) {
			t.Errorf(`Balance(""): got %v, want %v`, err, gavel.ErrUnknownAccount)
		}
	}

	held, err := l.Reserve(ctx, "a", 300, time.Hour)
	must(t, err)
	h, err := l.Reserve(ctx, "a", 500, time.Hour)
	must(t, err)
	must(t, l.Commit(ctx, h, 500))

	// Lowered below what is spent: nothing is taken back, nothing more reserved.
	must(t, ut.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 600}))
	checkBalance(t, ut, "lowered", "a", gavel.Balance{Budget: 600, Committed: 500, Reserved: 300})
	refused(t, l, "a", 1, "a budget lowered below what is spent")
	must(t, l.Release(ctx, held))
	refused(t, l, "a", 101, "the released hold made room for 100")
	_, err = l.Reserve(ctx, "a", 100, time.Hour)
	must(t, err)

	// Raised: room again.
	must(t, ut.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 2_000}))
	checkBalance(t, ut, "raised", "a", gavel.Balance{Budget: 2_000, Committed: 500, Reserved: 100})
	h, err = l.Reserve(ctx, "a", 1_400, time.Hour)
	must(t, err)
	must(t, l.Commit(ctx, h, 1_400))
	refused(t, l, "a", 1, "the raised budget is spent")

	// A flight is a total budget to a ledger: its dates are the Pacer's.
	must(t, ut.SetBudget(ctx, gavel.Budget{Account: "f", Amount: 700, Start: day.AddDate(0, 0, 2), End: day.AddDate(0, 0, 3)}))
	checkBalance(t, ut, "a flight", "f", gavel.Balance{Budget: 700})
	h, err = l.Reserve(ctx, "f", 700, time.Hour)
	must(t, err)
	must(t, l.Release(ctx, h))

	want := gavel.Balance{Budget: 2_000, Committed: 1_900, Reserved: 100}
	if ut.SettleEndsHolds {
		want.Reserved = 0
	}
	equal(t, "settled balance", want, ut.Settle(t, "a"))
}

// testLedgerConcurrent has goroutines reserve on one account whose budget
// covers a tenth of their reservations, each committing part of its hold
// or releasing it, while another reads the balance: Committed + Reserved
// never exceeds Budget, and at the end every micro is accounted for. Either
// the goroutines end their holds at once, so that Committed climbs toward
// the budget, or they yield first, so that many holds are outstanding
// together and Reserved presses against the budget. A reservation refused
// with gavel.ErrBudgetPending (a ledger leasing its budget in slices, whose
// next slice is on its way) counts as refused.
func testLedgerConcurrent(t *testing.T, ut LedgerUnderTest, yield bool) {
	c := &concurrentCase{t: t, l: ut.Ledger, read: balanceFunc(ut), yield: yield}
	start, done := make(chan struct{}), make(chan struct{})
	var workers, observer sync.WaitGroup
	if c.read != nil {
		observer.Go(func() { c.observe(done) })
	}
	for g := range concurrentGoroutines {
		workers.Go(func() {
			<-start
			c.work(g)
		})
	}
	close(start)
	workers.Wait()
	close(done)
	observer.Wait()
	c.check(ut)
}

// The size of testLedgerConcurrent: the budget of "many" covers a tenth
// of the reservations.
const (
	concurrentGoroutines = 500
	concurrentEach       = 4
	concurrentAmount     = 1_000
	concurrentBudget     = 200_000
	concurrentAccount    = "many"
)

// concurrentCase is the state that testLedgerConcurrent's goroutines share.
type concurrentCase struct {
	t     *testing.T
	l     gavel.Ledger
	read  func(t testing.TB, account string) gavel.Balance
	yield bool

	reserved, exhausted atomic.Int64
	pending             atomic.Int64 // refused for now (gavel.ErrBudgetPending): a lease slice not refilled yet
	committed           atomic.Int64 // sum of the amounts of successful commits
	observations        atomic.Int64
	errMu               sync.Mutex
	errs                []error
}

// balanceFunc returns how the case reads a balance: the fixture's Balance,
// or the ledger's own when it is a BalanceReader, or nil.
func balanceFunc(ut LedgerUnderTest) func(t testing.TB, account string) gavel.Balance {
	if ut.Balance != nil {
		return ut.Balance
	}
	br, ok := ut.Ledger.(gavel.BalanceReader)
	if !ok {
		return nil
	}
	return func(t testing.TB, account string) gavel.Balance {
		b, err := br.Balance(context.Background(), account)
		if err != nil {
			t.Error(err)
		}
		return b
	}
}

func (c *concurrentCase) fail(err error) {
	c.errMu.Lock()
	if len(c.errs) < 10 { // enough to see what went wrong
		c.errs = append(c.errs, err)
	}
	c.errMu.Unlock()
}

// observe reads the balance until done, checking its bounds.
func (c *concurrentCase) observe(done <-chan struct{}) {
	for {
		if b := c.read(c.t, concurrentAccount); b.Committed+b.Reserved > b.Budget || b.Reserved < 0 || b.Committed < 0 {
			c.fail(fmt.Errorf("balance out of bounds: %+v", b))
		}
		c.observations.Add(1)
		select {
		case <-done:
			return
		default:
		}
	}
}

// work is goroutine g's reservations, each committed in part or released.
func (c *concurrentCase) work(g int) {
	ctx := context.Background()
	for i := range concurrentEach {
		h, err := c.l.Reserve(ctx, concurrentAccount, concurrentAmount, time.Minute)
		switch {
		case errors.Is(err, gavel.ErrBudgetExhausted):
			c.exhausted.Add(1)
			continue
		case errors.Is(err, gavel.ErrBudgetPending):
			// A ledger that leases its budget in slices may refuse a
			// reservation while its next slice is on its way: refused,
			// not lost.
			c.pending.Add(1)
			continue
		case err != nil:
			c.fail(err)
			continue
		}
		c.reserved.Add(1)
		if c.yield {
			runtime.Gosched() // let other holds pile up
		}
		c.end(ctx, h, int64(g*concurrentEach+i))
	}
}

// end commits a part of hold number n (half of them, deterministically)
// or releases it.
func (c *concurrentCase) end(ctx context.Context, h gavel.Hold, n int64) {
	if n%2 != 0 {
		if err := c.l.Release(ctx, h); err != nil {
			c.fail(err)
		}
		return
	}
	actual := n * 7919 % (concurrentAmount + 1)
	if err := c.l.Commit(ctx, h, actual); err != nil {
		c.fail(err)
		return
	}
	c.committed.Add(actual)
}

// check reports what went wrong and settles the account: every micro is
// accounted for.
func (c *concurrentCase) check(ut LedgerUnderTest) {
	t := c.t
	for _, err := range c.errs {
		t.Error(err)
	}
	if c.read != nil && c.observations.Load() == 0 {
		t.Error("the balance was never read")
	}
	equal(t, "reservations made or refused", int64(concurrentGoroutines*concurrentEach), c.reserved.Load()+c.exhausted.Load()+c.pending.Load())
	// Committing all would bill about 2.5 budgets, so some must be refused.
	if c.exhausted.Load() == 0 {
		t.Error("no reservation was refused")
	}
	// A refusal means committed+reserved > budget-amount, which takes at
	// least budget/amount successful reservations.
	if c.reserved.Load() < concurrentBudget/concurrentAmount {
		t.Errorf("%d reservations made before the first refusal, want at least %d", c.reserved.Load(), concurrentBudget/concurrentAmount)
	}
	equal(t, "settled balance", gavel.Balance{Budget: concurrentBudget, Committed: c.committed.Load()}, ut.Settle(t, concurrentAccount))
	t.Logf("%d reserved, %d refused (%d of them for now, a slice pending), %d committed of %d, %d observations",
		c.reserved.Load(), c.exhausted.Load()+c.pending.Load(), c.pending.Load(), c.committed.Load(), concurrentBudget, c.observations.Load())
}

// testLedgerDaily spends a daily budget in America/New_York, whose days
// start at 06:00, around the days daylight saving time starts (2026-03-08,
// a day of 23 hours) and ends (2026-11-01, 25 hours): what was committed
// is forgotten when the next day starts, and not before; what is held
// stays held, and a hold from yesterday is billed today.
func testLedgerDaily(t *testing.T, ut LedgerUnderTest) {
	if ut.SetBudget == nil || ut.Clock == nil {
		t.Skip("LedgerUnderTest.SetBudget or Clock is nil")
	}
	ctx := context.Background()
	l, clk := ut.Ledger, ut.Clock
	ny, err := time.LoadLocation("America/New_York")
	must(t, err)
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 6, 0, 0, 0, ny) }
	reserve := func(amount int64, ttl time.Duration) gavel.Hold {
		t.Helper()
		h, err := l.Reserve(ctx, "daily", amount, ttl)
		must(t, err)
		return h
	}

	clk.Set(day(3, 7))
	must(t, ut.SetBudget(ctx, gavel.Budget{Account: "daily", Amount: 100, Period: gavel.DailyPeriod(ny, 6*time.Hour)}))
	checkBalance(t, ut, "a new account", "daily", gavel.Balance{Budget: 100, PeriodStart: day(3, 7)})
	must(t, l.Commit(ctx, reserve(60, time.Hour), 60))
	refused(t, l, "daily", 50, "60 of 100 spent")
	open := reserve(30, 72*time.Hour) // outstanding across the turn of the day

	// 23 hours later it is 2026-03-08 06:00 EDT: a new day, a day of 23 hours.
	clk.Advance(23*time.Hour - time.Nanosecond)
	checkBalance(t, ut, "just before the new day", "daily",
		gavel.Balance{Budget: 100, Committed: 60, Reserved: 30, PeriodStart: day(3, 7)})
	refused(t, l, "daily", 11, "just before the new day")
	clk.Advance(time.Nanosecond)
	checkBalance(t, ut, "the new day", "daily", gavel.Balance{Budget: 100, Reserved: 30, PeriodStart: day(3, 8)})
	refused(t, l, "daily", 71, "the hold from yesterday is still held")

	// The hold from yesterday is billed today.
	must(t, l.Commit(ctx, open, 20))
	checkBalance(t, ut, "yesterday's hold billed", "daily", gavel.Balance{Budget: 100, Committed: 20, PeriodStart: day(3, 8)})
	must(t, l.Commit(ctx, reserve(80, time.Hour), 80))
	refused(t, l, "daily", 1, "today's budget is spent")

	// 2026-10-31 06:00 EDT to 2026-11-01 06:00 EST is 25 hours: 24 hours
	// after the start it is still the same day.
	clk.Set(day(10, 31).Add(time.Hour))
	must(t, l.Commit(ctx, reserve(100, time.Hour), 100))
	clk.Set(day(10, 31).Add(24 * time.Hour))
	checkBalance(t, ut, "24 hours into a day of 25", "daily", gavel.Balance{Budget: 100, Committed: 100, PeriodStart: day(10, 31)})
	refused(t, l, "daily", 1, "24 hours into a day of 25")
	clk.Advance(time.Hour)
	checkBalance(t, ut, "the day after the day of 25 hours", "daily", gavel.Balance{Budget: 100, PeriodStart: day(11, 1)})
	must(t, l.Release(ctx, reserve(100, time.Hour)))
}

// testLedgerDailyChanges changes accounts between total and daily
// budgets. A change made after a day ended, with no call on the account
// since, does not carry the ended day's spend over. Made daily, what was
// committed counts in the current day until the next starts; made total
// again, nothing resets any more.
func testLedgerDailyChanges(t *testing.T, ut LedgerUnderTest) {
	if ut.SetBudget == nil || ut.Clock == nil {
		t.Skip("LedgerUnderTest.SetBudget or Clock is nil")
	}
	ctx := context.Background()
	l, clk := ut.Ledger, ut.Clock
	day := func(d int) time.Time { return time.Date(2026, 5, d, 0, 0, 0, 0, time.UTC) }
	clk.Set(day(5).Add(12 * time.Hour))

	must(t, ut.SetBudget(ctx, gavel.Budget{Account: "d", Amount: 1_000, Period: gavel.DailyPeriod(nil, 0)}))
	h, err := l.Reserve(ctx, "d", 300, time.Hour)
	must(t, err)
	must(t, l.Commit(ctx, h, 300))
	clk.Advance(24 * time.Hour) // no call on the account since yesterday
	must(t, ut.SetBudget(ctx, gavel.Budget{Account: "d", Amount: 1_000, Period: gavel.DailyPeriod(nil, 6*time.Hour)}))
	checkBalance(t, ut, "changed after the day ended", "d", gavel.Balance{Budget: 1_000, PeriodStart: day(6).Add(6 * time.Hour)})
	h, err = l.Reserve(ctx, "d", 1_000, time.Hour) // the whole budget: nothing carried over
	must(t, err)
	must(t, l.Release(ctx, h))

	must(t, ut.SetBudget(ctx, gavel.Budget{Account: "c", Amount: 2_000}))
	h, err = l.Reserve(ctx, "c", 500, time.Hour)
	must(t, err)
	must(t, l.Commit(ctx, h, 500))
	_, err = l.Reserve(ctx, "c", 100, 72*time.Hour)
	must(t, err)

	// Made daily: committed stays until the next day starts.
	must(t, ut.SetBudget(ctx, gavel.Budget{Account: "c", Amount: 2_000, Period: gavel.DailyPeriod(nil, 0)}))
	checkBalance(t, ut, "made daily", "c", gavel.Balance{Budget: 2_000, Committed: 500, Reserved: 100, PeriodStart: day(6)})
	refused(t, l, "c", 1_401, "made daily: what was committed counts today")
	clk.Advance(12 * time.Hour)
	checkBalance(t, ut, "the next day", "c", gavel.Balance{Budget: 2_000, Reserved: 100, PeriodStart: day(7)})

	// Back to total: nothing resets any more.
	must(t, ut.SetBudget(ctx, gavel.Budget{Account: "c", Amount: 2_000}))
	h, err = l.Reserve(ctx, "c", 700, time.Hour)
	must(t, err)
	must(t, l.Commit(ctx, h, 700))
	clk.Advance(48 * time.Hour)
	checkBalance(t, ut, "total again", "c", gavel.Balance{Budget: 2_000, Committed: 700, Reserved: 100})
	refused(t, l, "c", 1_201, "total again: nothing reset")
}

// checkBalance checks an account's balance when the ledger can tell it
// (LedgerUnderTest.Balance), comparing PeriodStart as an instant in the
// period's zone.
func checkBalance(t testing.TB, ut LedgerUnderTest, what, account string, want gavel.Balance) {
	t.Helper()
	if ut.Balance == nil {
		return
	}
	got := ut.Balance(t, account)
	if !got.PeriodStart.Equal(want.PeriodStart) || got.PeriodStart.Location().String() != want.PeriodStart.Location().String() {
		t.Errorf("%s: PeriodStart %v, want %v", what, got.PeriodStart, want.PeriodStart)
	}
	got.PeriodStart, want.PeriodStart = time.Time{}, time.Time{}
	equal(t, what, want, got)
}

// refused checks that the account cannot cover amount: Reserve returns
// ErrBudgetExhausted.
func refused(t testing.TB, l gavel.Ledger, account string, amount int64, why string) {
	t.Helper()
	h, err := l.Reserve(context.Background(), account, amount, time.Minute)
	if !errors.Is(err, gavel.ErrBudgetExhausted) {
		t.Errorf("Reserve(%d) (%s): got %+v, %v; want %v", amount, why, h, err, gavel.ErrBudgetExhausted)
	}
}
