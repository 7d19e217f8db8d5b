package gavelredis

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // the zone tests must not depend on the machine's zoneinfo

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

var ledgerModes = []Mode{ModeStrict, ModeLease}

// settled returns the balance of account after l is closed, read by
// another ledger on the same keys: in lease mode Close reports what was
// committed, gives the lease back and ends the outstanding holds.
func settled(t testing.TB, l *Ledger, account string) gavel.Balance {
	t.Helper()
	require.NoError(t, l.Close(context.Background()))
	r, err := NewLedger(l.client, WithKeyPrefix(l.cfg.prefix))
	require.NoError(t, err)
	defer func() { _ = r.Close(context.Background()) }()
	return ledgerBalanceOf(t, r, account)
}

// TestLedgerSemantics runs the Ledger conformance tests of auctiontest in
// each mode; in strict mode budgets are set by another process on the same
// keys. In lease mode the spend reaches Redis with the lease's reports, so
// the balance is read once the ledger is closed, and budget changes and
// daily periods are left out: the process spends the lease it holds until
// it renews it, and a commit counts in the period in which it is reported.
// The ledger's Stats must count every reservation made and refused, and no
// failure.
func TestLedgerSemantics(t *testing.T) {
	c := ledgerClient(t)
	for _, mode := range ledgerModes {
		t.Run(fmt.Sprintf("mode=%v", mode), func(t *testing.T) {
			auctiontest.TestLedger(t, func(t *testing.T) auctiontest.LedgerUnderTest {
				ctx := context.Background()
				clk := auctiontest.NewClock(time.Now())
				l := newTestLedger(t, c, WithLedgerMode(mode), WithLedgerClock(clk),
					WithLeaseSlice(20_000), WithLeaseInterval(20*time.Millisecond))
				admin := newTestLedgerAt(t, c, l.cfg.prefix, WithLedgerClock(clk))
				require.NoError(t, admin.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
				require.NoError(t, admin.SetBudget(ctx, gavel.Budget{Account: "b", Amount: 1_000}))
				require.NoError(t, admin.SetBudget(ctx, gavel.Budget{Account: "many", Amount: 200_000}))
				counted := &countingLedger{Ledger: l}
				t.Cleanup(func() { counted.checkStats(t) })
				ut := auctiontest.LedgerUnderTest{
					Ledger:          counted,
					Settle:          func(t testing.TB, account string) gavel.Balance { return settled(t, l, account) },
					SettleEndsHolds: mode == ModeLease,
					HoldClock:       clk, // lease-mode holds expire by it
				}
				if mode == ModeStrict {
					ut.SetBudget = admin.SetBudget
					ut.Clock = clk
					ut.Balance = func(t testing.TB, account string) gavel.Balance {
						b, err := l.Balance(ctx, account)
						assert.NoError(t, err) // read from other goroutines too
						return b
					}
				}
				return ut
			},
				func(id uint64) uint64 { return id ^ 1<<50 }, // another generation, or another owner's tag
				func(id uint64) uint64 { return id + 1<<20 }, // another slot
			)
		})
	}
}

// countingLedger counts the reservations that its Ledger made and refused,
// for checkStats to compare with the Ledger's Stats.
type countingLedger struct {
	*Ledger
	reserves, refusals atomic.Int64
}

func (c *countingLedger) Reserve(ctx context.Context, account string, amount int64, ttl time.Duration) (gavel.Hold, error) {
	h, err := c.Ledger.Reserve(ctx, account, amount, ttl)
	c.count(err)
	return h, err
}

func (c *countingLedger) ReserveBatch(ctx context.Context, rs []gavel.Reservation, holds []gavel.Hold, errs []error) {
	c.Ledger.ReserveBatch(ctx, rs, holds, errs)
	for _, err := range errs {
		c.count(err)
	}
}

// count counts the outcome of one reservation.
func (c *countingLedger) count(err error) {
	switch {
	case err == nil:
		c.reserves.Add(1)
	case errors.Is(err, gavel.ErrBudgetExhausted):
		c.refusals.Add(1)
	}
}

// checkStats closes the ledger, which ends its lease-mode holds, and
// checks its Stats against the counts.
func (c *countingLedger) checkStats(t testing.TB) {
	t.Helper()
	require.NoError(t, c.Close(context.Background()))
	s := c.Stats()
	assert.Equal(t, c.reserves.Load(), s.Reserves, "reservations made")
	assert.Equal(t, c.refusals.Load(), s.Refusals, "reservations refused")
	assert.Zero(t, s.RedisErrors+s.Failures+s.LocalHolds, "errors, failures and holds left: %+v", s)
}

// TestLedgerHoldIDs checks what the conformance tests do not: a lease-mode
// hold's ID has the flag that tells it from a strict-mode one, and a
// reservation above MaxAmount is refused.
func TestLedgerHoldIDs(t *testing.T) {
	c := ledgerClient(t)
	ctx := context.Background()
	for _, mode := range ledgerModes {
		t.Run(fmt.Sprintf("mode=%v", mode), func(t *testing.T) {
			l := newTestLedger(t, c, WithLedgerMode(mode))
			require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
			h, err := l.Reserve(ctx, "a", 500, time.Minute)
			require.NoError(t, err)
			assert.Equal(t, mode == ModeLease, h.ID&localFlag != 0, "hold ID %#x", h.ID)
			_, err = l.Reserve(ctx, "a", MaxAmount+1, time.Second)
			require.ErrorIs(t, err, gavel.ErrBudgetExhausted)
			require.NoError(t, l.Release(ctx, h))
			assert.Equal(t, gavel.Balance{Budget: 1_000}, settled(t, l, "a"))
		})
	}
}

func TestLedgerExpiry(t *testing.T) {
	ctx := context.Background()
	c := ledgerClient(t)

	t.Run("mode=strict", func(t *testing.T) {
		// Holds in Redis expire by the server's clock: wait for it.
		l := newTestLedger(t, c)
		require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 300}))
		require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "b", Amount: 300}))
		h1, err := l.Reserve(ctx, "a", 100, 100*time.Millisecond)
		require.NoError(t, err)
		h2, err := l.Reserve(ctx, "a", 200, 400*time.Millisecond)
		require.NoError(t, err)
		hb, err := l.Reserve(ctx, "b", 300, 100*time.Millisecond)
		require.NoError(t, err)
		_, err = l.Reserve(ctx, "a", 1, time.Minute)
		require.ErrorIs(t, err, gavel.ErrBudgetExhausted)

		time.Sleep(time.Until(h1.Expires) + 20*time.Millisecond)
		assert.Equal(t, gavel.Balance{Budget: 300, Reserved: 200}, ledgerBalanceOf(t, l, "a"), "h1 returned")
		require.ErrorIs(t, l.Commit(ctx, h1, 100), gavel.ErrHoldNotFound)
		require.ErrorIs(t, l.Release(ctx, h1), gavel.ErrHoldNotFound)
		require.ErrorIs(t, l.Commit(ctx, hb, 1), gavel.ErrHoldNotFound, "b's hold expired with no call on b")
		h3, err := l.Reserve(ctx, "a", 100, time.Minute) // the money of h1 is there again
		require.NoError(t, err)

		time.Sleep(time.Until(h2.Expires) + 20*time.Millisecond)
		require.ErrorIs(t, l.Commit(ctx, h2, 200), gavel.ErrHoldNotFound)
		require.NoError(t, l.Commit(ctx, h3, 50))
		assert.Equal(t, gavel.Balance{Budget: 300, Committed: 50}, ledgerBalanceOf(t, l, "a"))
		assert.Equal(t, gavel.Balance{Budget: 300}, ledgerBalanceOf(t, l, "b"))
	})

	t.Run("mode=lease", func(t *testing.T) {
		// Lease-mode holds expire by the ledger's clock.
		clk := auctiontest.NewClock(time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC))
		l := newTestLedger(t, c, WithLedgerMode(ModeLease), WithLedgerClock(clk))
		require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 300}))
		h1, err := l.Reserve(ctx, "a", 100, time.Second)
		require.NoError(t, err)
		assert.Equal(t, clk.Now().Add(time.Second), h1.Expires)
		h2, err := l.Reserve(ctx, "a", 200, 2*time.Second)
		require.NoError(t, err)
		_, err = l.Reserve(ctx, "a", 1, time.Minute)
		require.ErrorIs(t, err, gavel.ErrBudgetExhausted)
		assert.Equal(t, int64(2), l.Stats().LocalHolds)

		clk.Advance(time.Second - time.Nanosecond)
		require.ErrorIs(t, l.Commit(ctx, h1, 101), gavel.ErrCommitExceedsHold, "h1 still lives")
		clk.Advance(time.Nanosecond)
		require.ErrorIs(t, l.Commit(ctx, h1, 100), gavel.ErrHoldNotFound, "h1 expired exactly at its expiry")
		h3, err := l.Reserve(ctx, "a", 100, time.Hour) // the money of h1 is in the lease again
		require.NoError(t, err)
		clk.Advance(time.Second)
		require.ErrorIs(t, l.Release(ctx, h2), gavel.ErrHoldNotFound)
		assert.Equal(t, int64(1), l.Stats().LocalHolds)
		require.NoError(t, l.Commit(ctx, h3, 70))
		assert.Equal(t, gavel.Balance{Budget: 300, Committed: 70}, settled(t, l, "a"))
	})
}

// TestLedgerLaggingClock shares a daily account between two processes, one
// with a clock a minute behind: it learns the current day from Redis, never
// moves the account back to the day before, and bills a hold of the day
// before in the current day. (TestLedger checks the days themselves.)
func TestLedgerLaggingClock(t *testing.T) {
	ctx := context.Background()
	c := ledgerClient(t)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	day := func(d int) time.Time { return time.Date(2026, 3, d, 6, 0, 0, 0, ny) }
	clk := auctiontest.NewClock(day(7))
	l := newTestLedger(t, c, WithLedgerClock(clk))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "acct", Amount: 100, Period: gavel.DailyPeriod(ny, 6*time.Hour)}))
	balance := func(l *Ledger) gavel.Balance {
		b := ledgerBalanceOf(t, l, "acct")
		assert.Equal(t, "America/New_York", b.PeriodStart.Location().String())
		b.PeriodStart = b.PeriodStart.UTC()
		return b
	}
	h, err := l.Reserve(ctx, "acct", 60, time.Hour)
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx, h, 60))
	open, err := l.Reserve(ctx, "acct", 30, time.Hour) // outstanding across the turn of the day
	require.NoError(t, err)

	lagging := auctiontest.NewClock(clk.Now().Add(-time.Minute))
	other := newTestLedgerAt(t, c, l.cfg.prefix, WithLedgerClock(lagging))
	assert.Equal(t, gavel.Balance{Budget: 100, Committed: 60, Reserved: 30, PeriodStart: day(7).UTC()}, balance(other),
		"the lagging process learns the day from Redis")

	clk.Set(day(8)) // 23 hours later: a new day
	assert.Equal(t, gavel.Balance{Budget: 100, Reserved: 30, PeriodStart: day(8).UTC()}, balance(l))
	lagging.Set(day(8).Add(-time.Minute)) // a minute before the new day by its clock
	assert.Equal(t, gavel.Balance{Budget: 100, Reserved: 30, PeriodStart: day(8).UTC()}, balance(other),
		"a lagging clock does not move the account back")
	require.NoError(t, other.Commit(ctx, open, 20))
	assert.Equal(t, gavel.Balance{Budget: 100, Committed: 20, PeriodStart: day(8).UTC()}, balance(l),
		"the hold from yesterday is billed today")
}

// TestLedgerSetBudget checks what TestLedger does not: the budgets that
// only the Redis ledger refuses, and SetBudget's ctx, which the
// MemoryLedger's SetBudget does not take.
func TestLedgerSetBudget(t *testing.T) {
	ctx := context.Background()
	c := ledgerClient(t)

	t.Run("invalid", func(t *testing.T) {
		l := newTestLedger(t, c)
		require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
		for _, tc := range []struct {
			name   string
			budget int64
			period gavel.Period
		}{
			{"budget above MaxAmount", MaxAmount + 1, gavel.Period{}},
			{"zone without a name", 1, gavel.DailyPeriod(time.FixedZone("", 3600), 0)},
			{"zone that does not load", 1, gavel.DailyPeriod(time.FixedZone("Mars/Olympus", 3600), 0)},
		} {
			assert.ErrorIs(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: tc.budget, Period: tc.period}), gavel.ErrInvalidBudget, tc.name)
		}
		assert.Equal(t, gavel.Balance{Budget: 1_000}, ledgerBalanceOf(t, l, "a"))
	})

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancelExpired := context.WithDeadline(ctx, time.Unix(0, 0))
	defer cancelExpired()
	for _, done := range []context.Context{canceled, expired} {
		t.Run(done.Err().Error(), func(t *testing.T) {
			l := newTestLedger(t, c)
			require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
			assert.Equal(t, done.Err(), l.SetBudget(done, gavel.Budget{Account: "a", Amount: 1}))
			assert.Equal(t, gavel.Balance{Budget: 1_000}, ledgerBalanceOf(t, l, "a"))
			assert.Zero(t, l.Stats().RedisErrors)
		})
	}
}

func TestLedgerUnknownAccount(t *testing.T) {
	ctx := context.Background()
	c := ledgerClient(t)
	for _, mode := range ledgerModes {
		t.Run(fmt.Sprint("mode=", mode), func(t *testing.T) {
			l := newTestLedger(t, c, WithLedgerMode(mode))
			for range 2 {
				_, err := l.Reserve(ctx, "nobody", 1, time.Minute)
				require.ErrorIs(t, err, gavel.ErrUnknownAccount)
			}
			_, err := l.Balance(ctx, "nobody")
			require.ErrorIs(t, err, gavel.ErrUnknownAccount)
			require.ErrorIs(t, l.Commit(ctx, gavel.Hold{Account: "nobody", ID: 1, Amount: 1}, 1), gavel.ErrUnknownAccount)
			require.ErrorIs(t, l.Release(ctx, gavel.Hold{Account: "nobody", ID: localFlag | 1, Amount: 1}), gavel.ErrUnknownAccount)
			n := 0
			l.accounts.Range(func(any, any) bool { n++; return true })
			assert.Zero(t, n, "unknown accounts are not kept")
			s := l.Stats()
			assert.Zero(t, s.RedisErrors+s.Failures+s.Refusals)

			// Created later, it works.
			require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "nobody", Amount: 10}))
			h, err := l.Reserve(ctx, "nobody", 10, time.Minute)
			require.NoError(t, err)
			require.NoError(t, l.Commit(ctx, h, 10))
			assert.Equal(t, gavel.Balance{Budget: 10, Committed: 10}, settled(t, l, "nobody"))
		})
	}
}

func TestLedgerLeaseHolds(t *testing.T) {
	ctx := context.Background()
	c := ledgerClient(t)
	l := newTestLedger(t, c, WithAccountMode("a", ModeLease), WithLeaseSlice(1_000))
	other, err := NewLedger(c, WithKeyPrefix(l.cfg.prefix), WithLedgerMode(ModeLease))
	require.NoError(t, err)
	defer func() { _ = other.Close(ctx) }()
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 10_000}))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "b", Amount: 10_000}))

	h, err := l.Reserve(ctx, "a", 400, time.Minute)
	require.NoError(t, err)
	require.NotZero(t, h.ID&localFlag, "a lease-mode hold")
	require.ErrorIs(t, other.Commit(ctx, h, 400), gavel.ErrHoldNotFound, "only its process knows a lease-mode hold")
	require.ErrorIs(t, other.Release(ctx, h), gavel.ErrHoldNotFound)

	big, err := l.Reserve(ctx, "a", 5_000, time.Minute) // more than the slice: made in Redis
	require.NoError(t, err)
	require.Zero(t, big.ID&localFlag)
	strict, err := l.Reserve(ctx, "b", 100, time.Minute) // b is in strict mode
	require.NoError(t, err)
	require.Zero(t, strict.ID&localFlag)
	require.NoError(t, other.Commit(ctx, big, 4_000), "any process commits a hold made in Redis")
	require.NoError(t, other.Commit(ctx, strict, 100))

	b := ledgerBalanceOf(t, other, "a")
	assert.Equal(t, int64(4_000), b.Committed)
	assert.Equal(t, int64(1_000), b.Reserved, "the lease counts as reserved")
	require.NoError(t, l.Commit(ctx, h, 300))
	assert.Equal(t, gavel.Balance{Budget: 10_000, Committed: 4_300}, settled(t, l, "a"))
	assert.ErrorIs(t, l.Commit(ctx, h, 1), ErrLedgerClosed)
	_, err = l.Reserve(ctx, "a", 1, time.Minute)
	assert.ErrorIs(t, err, ErrLedgerClosed)
	require.NoError(t, l.Close(ctx), "again")

	s := l.Stats()
	assert.Equal(t, int64(3), s.Reserves)
	assert.Equal(t, int64(1), s.Commits)
	assert.Positive(t, s.LeaseRefills)
	assert.Positive(t, s.LeaseReports)
	assert.Zero(t, s.RedisErrors+s.Failures+s.Refusals+s.LocalHolds)
}

func TestLedgerOptions(t *testing.T) {
	c := ledgerClient(t)
	for _, tc := range []struct {
		name string
		opt  LedgerOption
	}{
		{"empty prefix", WithKeyPrefix("")},
		{"prefix with a brace", WithKeyPrefix("a{b")},
		{"unknown mode", WithLedgerMode(Mode(7))},
		{"unknown account mode", WithAccountMode("a", Mode(-1))},
		{"zero slice", WithLeaseSlice(0)},
		{"slice above MaxAmount", WithLeaseSlice(MaxAmount + 1)},
		{"zero interval", WithLeaseInterval(0)},
		{"ttl under 4 intervals", WithLeaseTTL(399 * time.Millisecond)},
		{"zero timeout", WithLedgerTimeout(0)},
		{"zero balance refresh", WithBalanceRefresh(0)},
		{"negative balance refresh", WithBalanceRefresh(-time.Second)},
		{"prefix ending with the separator", WithKeyPrefix("gavel:")},
		{"nil hook", WithLedgerHooks(nil)},
		{"not a hook", WithLedgerHooks(42)},
		{"nil clock", WithLedgerClock(nil)},
	} {
		_, err := NewLedger(c, tc.opt)
		assert.ErrorIs(t, err, gavel.ErrInvalidOption, tc.name)
	}
	_, err := NewLedger(nil)
	assert.ErrorIs(t, err, gavel.ErrInvalidOption)
	_, err = NewLedger(c, WithLeaseSlice(0), WithLedgerTimeout(0))
	assert.ErrorIs(t, err, gavel.ErrInvalidOption)
	assert.Len(t, strings.Split(err.Error(), "\n"), 2, "all problems at once: %v", err)
	l, err := NewLedger(c, WithLeaseTTL(400*time.Millisecond), WithLedgerHooks(&ledgerErrors{}))
	require.NoError(t, err)
	require.NoError(t, l.Close(context.Background()))
	assert.Equal(t, "lease", ModeLease.String())
	assert.Equal(t, "Mode(7)", Mode(7).String())
}

// TestLedgerLeaseIdle leaves a lease unused for longer than its TTL while
// one of its holds is outstanding: the ledger gives the free money back,
// keeps renewing what the hold needs, and reports the commit that ends it.
func TestLedgerLeaseIdle(t *testing.T) {
	const ttl = 400 * time.Millisecond
	ctx := context.Background()
	c := ledgerClient(t)
	l := newTestLedger(t, c, WithLedgerMode(ModeLease), WithLeaseSlice(1_000),
		WithLeaseTTL(ttl), WithLeaseInterval(ttl/8))
	other, err := NewLedger(c, WithKeyPrefix(l.cfg.prefix))
	require.NoError(t, err)
	defer func() { _ = other.Close(ctx) }()
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 10_000}))

	h, err := l.Reserve(ctx, "a", 300, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, gavel.Balance{Budget: 10_000, Reserved: 1_000}, ledgerBalanceOf(t, other, "a"))
	time.Sleep(3 * ttl)
	assert.Equal(t, gavel.Balance{Budget: 10_000, Reserved: 300}, ledgerBalanceOf(t, other, "a"),
		"the free money is given back, the held money is still leased")

	require.NoError(t, l.Commit(ctx, h, 250))
	require.Eventually(t, func() bool {
		return ledgerBalanceOf(t, other, "a") == gavel.Balance{Budget: 10_000, Committed: 250}
	}, 2*time.Second, 10*time.Millisecond, "the commit is reported and the lease ends")
	h, err = l.Reserve(ctx, "a", 100, time.Minute)
	require.NoError(t, err, "a new lease")
	require.NoError(t, l.Release(ctx, h))
	s := l.Stats()
	assert.Zero(t, s.LeasesLost+s.RedisErrors)
	assert.Equal(t, gavel.Balance{Budget: 10_000, Committed: 250}, settled(t, l, "a"))
}

// TestLedgerLeaseDaily spends a lease-mode account's daily budget, then
// moves the clock to the next day: the account has its budget again, and
// the process reserves from it at once.
func TestLedgerLeaseDaily(t *testing.T) {
	ctx := context.Background()
	c := ledgerClient(t)
	clk := auctiontest.NewClock(time.Date(2026, 5, 5, 10, 0, 0, 0, time.UTC))
	l := newTestLedger(t, c, WithLedgerMode(ModeLease), WithLedgerClock(clk),
		WithLeaseTTL(time.Second), WithLeaseInterval(20*time.Millisecond))
	other, err := NewLedger(c, WithKeyPrefix(l.cfg.prefix), WithLedgerClock(clk))
	require.NoError(t, err)
	defer func() { _ = other.Close(ctx) }()
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000, Period: gavel.DailyPeriod(time.UTC, 0)}))
	day := time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC)

	for _, amount := range []int64{600, 400} {
		h, err := l.Reserve(ctx, "a", amount, time.Hour)
		require.NoError(t, err)
		require.NoError(t, l.Commit(ctx, h, amount))
	}
	_, err = l.Reserve(ctx, "a", 1, time.Hour)
	require.ErrorIs(t, err, gavel.ErrBudgetExhausted)
	require.Eventually(t, func() bool {
		return ledgerBalanceOf(t, other, "a") == gavel.Balance{Budget: 1_000, Committed: 1_000, PeriodStart: day}
	}, 2*time.Second, 10*time.Millisecond, "the commits are reported")

	clk.Advance(24 * time.Hour)
	h, err := l.Reserve(ctx, "a", 700, time.Hour)
	require.NoError(t, err, "a new day, a new budget")
	require.NoError(t, l.Commit(ctx, h, 700))
	require.NoError(t, l.Close(ctx))
	assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 700, PeriodStart: day.AddDate(0, 0, 1)}, ledgerBalanceOf(t, other, "a"))
}

// TestLedgerLeaseHoldOwner reserves the same amount on the same account in
// two lease-mode ledgers, whose holds then sit at the same place in their
// local ledgers: each still answers ErrHoldNotFound for the other's hold.
func TestLedgerLeaseHoldOwner(t *testing.T) {
	ctx := context.Background()
	c := ledgerClient(t)
	l1 := newTestLedger(t, c, WithLedgerMode(ModeLease), WithLeaseSlice(1_000))
	l2, err := NewLedger(c, WithKeyPrefix(l1.cfg.prefix), WithLedgerMode(ModeLease), WithLeaseSlice(1_000))
	require.NoError(t, err)
	defer func() { _ = l2.Close(ctx) }()
	require.NoError(t, l1.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 10_000}))

	h1, err := l1.Reserve(ctx, "a", 300, time.Minute)
	require.NoError(t, err)
	h2, err := l2.Reserve(ctx, "a", 300, time.Minute)
	require.NoError(t, err)
	assert.NotEqual(t, h1.ID, h2.ID)
	for _, x := range []struct {
		l *Ledger
		h gavel.Hold
	}{{l1, h2}, {l2, h1}} {
		require.ErrorIs(t, x.l.Commit(ctx, x.h, 300), gavel.ErrHoldNotFound)
		require.ErrorIs(t, x.l.Release(ctx, x.h), gavel.ErrHoldNotFound)
	}
	require.NoError(t, l1.Commit(ctx, h1, 100))
	require.NoError(t, l2.Commit(ctx, h2, 200))
	require.NoError(t, l2.Close(ctx))
	assert.Equal(t, gavel.Balance{Budget: 10_000, Committed: 300}, settled(t, l1, "a"))
}

// TestLedgerLeaseCommitsDuringClose commits lease-mode holds from several
// goroutines while the ledger closes: every commit that succeeds reaches
// Redis, and the others fail.
func TestLedgerLeaseCommitsDuringClose(t *testing.T) {
	const (
		goroutines = 8
		holds      = 20_000
		amount     = 10
	)
	ctx := context.Background()
	c := ledgerClient(t)
	l := newTestLedger(t, c, WithLedgerMode(ModeLease), WithLeaseSlice(holds*amount))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: holds * amount}))
	hs := make([]gavel.Hold, holds)
	for i := range hs {
		var err error
		hs[i], err = l.Reserve(ctx, "a", amount, time.Minute)
		require.NoError(t, err)
	}

	var committed, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < holds; i += goroutines {
				switch err := l.Commit(ctx, hs[i], amount-1); {
				case err == nil:
					committed.Add(amount - 1)
				case errors.Is(err, ErrLedgerClosed), errors.Is(err, gavel.ErrHoldNotFound):
					refused.Add(1)
				default:
					t.Error(err)
				}
			}
		}()
	}
	for committed.Load() < holds/4*(amount-1) { // Close in the midst of the commits
		runtime.Gosched()
	}
	require.NoError(t, l.Close(ctx))
	wg.Wait()
	r, err := NewLedger(c, WithKeyPrefix(l.cfg.prefix))
	require.NoError(t, err)
	defer func() { _ = r.Close(ctx) }()
	assert.Equal(t, gavel.Balance{Budget: holds * amount, Committed: committed.Load()}, ledgerBalanceOf(t, r, "a"))
	assert.Zero(t, l.Stats().LocalHolds, "Close ends the holds")
	t.Logf("%d commits before Close, %d refused", committed.Load()/(amount-1), refused.Load())
}

// TestLedgerLeaseAllocs checks that a lease-mode reservation and its end
// allocate nothing: the hot path of lease mode.
func TestLedgerLeaseAllocs(t *testing.T) {
	if pacerRaceEnabled {
		t.Skip("the race detector allocates")
	}
	ctx := context.Background()
	c := ledgerClient(t)
	l := newTestLedger(t, c, WithLedgerMode(ModeLease), WithLeaseSlice(1_000_000_000))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: MaxAmount}))
	h, err := l.Reserve(ctx, "a", 1_000, time.Minute) // the first lease
	require.NoError(t, err)
	require.NoError(t, l.Release(ctx, h))
	for _, commit := range []bool{true, false} {
		allocs := testing.AllocsPerRun(1_000, func() {
			h, err := l.Reserve(ctx, "a", 1_000, time.Minute)
			if err == nil && commit {
				err = l.Commit(ctx, h, 700)
			} else if err == nil {
				err = l.Release(ctx, h)
			}
			require.NoError(t, err)
		})
		assert.Zero(t, allocs, "commit=%v", commit)
	}
	assert.Equal(t, gavel.Balance{Budget: MaxAmount, Committed: 1_001 * 700}, settled(t, l, "a"))
}

// TestLedgerLeaseLateReportAfterClose replays, after Close, a report that
// Close had already applied, as a refresh canceled by Close whose script
// still reached Redis would: the lease's tombstone refuses it, so nothing
// is counted twice and no lease is taken again.
func TestLedgerLeaseLateReportAfterClose(t *testing.T) {
	ctx := context.Background()
	c := ledgerClient(t)
	l := newTestLedger(t, c, WithLedgerMode(ModeLease), WithLeaseSlice(1_000))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 10_000}))
	h, err := l.Reserve(ctx, "a", 400, time.Minute)
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx, h, 400))
	v, ok := l.accounts.Load("a")
	require.True(t, ok)
	a := v.(*account)
	require.NoError(t, l.Close(ctx))

	r := newTestLedgerAt(t, c, l.cfg.prefix)
	want := gavel.Balance{Budget: 10_000, Committed: 400}
	require.Equal(t, want, ledgerBalanceOf(t, r, "a"))

	for seq := int64(1); seq <= a.lease.seq+1; seq++ { // the old reports, and a later one
		cfg := a.config(l.cfg.clock.Now())
		_, code, err := parseReply(l.scripts.lease.Exec(ctx, c, a.keys, []string{cfg.version, cfg.startMs, l.owner,
			strconv.FormatInt(seq, 10), "400", "0", "1000", "60000", "0"}))
		require.NoError(t, err)
		require.Equal(t, int64(replyOK), code)
	}
	assert.Equal(t, want, ledgerBalanceOf(t, r, "a"), "the late reports change nothing")
}
