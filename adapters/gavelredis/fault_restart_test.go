package gavelredis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// reserveCommit reserves amount on account and commits it whole.
func reserveCommit(t testing.TB, l *Ledger, account string, amount int64) {
	t.Helper()
	ctx := context.Background()
	h, err := l.Reserve(ctx, account, amount, time.Minute)
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx, h, amount))
}

// TestFaultEmptyRestartStrict kills a Redis without persistence and starts
// it empty: the strict ledger finds the state lost, counts it once, tells
// its hooks and refuses every reservation with ErrLedgerLost, also after
// the budget is set again, and a hold open at the kill cannot commit.
// Restore and Rearm resume the spending where it was: the committed spend
// is the one restored, and the budget is never exceeded. A second process
// that knew the epoch finds the loss too and adopts the rearm; a process
// started after the loss with WithEpochRequired refuses to write budgets
// until Rearm.
func TestFaultEmptyRestartStrict(t *testing.T) {
	ctx := context.Background()
	r := startTestRedis(t, redisNoPersistence...)
	hook := &ledgerErrors{}
	l := newTestLedgerAt(t, faultClient(t, r.Addr()), "fault", WithLedgerHooks(hook), WithLedgerLogger(nil))
	other := newTestLedgerAt(t, faultClient(t, r.Addr()), "fault", WithLedgerLogger(nil))
	const budget = 1_000_000
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: budget}))
	for range 3 {
		reserveCommit(t, l, "acme", 100_000)
		reserveCommit(t, other, "acme", 50_000)
	}
	const committed = 450_000
	open, err := l.Reserve(ctx, "acme", 100_000, time.Minute)
	require.NoError(t, err)

	r.Restart()

	for _, x := range []*Ledger{l, other} {
		require.True(t, eventually(ctx, 5*time.Second, func() bool {
			_, err := x.Reserve(ctx, "acme", 1_000, time.Minute)
			return errors.Is(err, ErrLedgerLost)
		}), "the ledger finds the state lost")
		_, lost := x.Lost()
		assert.True(t, lost)
	}
	s := l.Stats()
	assert.Equal(t, int64(1), s.Wipes, "one loss, counted once")
	assert.Positive(t, s.Lost)
	assert.True(t, hook.has(ErrLedgerLost), "the hooks are told")
	require.ErrorIs(t, l.Commit(ctx, open, 100_000), ErrLedgerLost, "a hold lost with Redis's state")

	// Setting the budget again does not reopen the account.
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: budget}))
	_, err = l.Reserve(ctx, "acme", 1_000, time.Minute)
	require.ErrorIs(t, err, ErrLedgerLost, "not before a restore")
	b := ledgerBalanceOf(t, l, "acme")
	assert.Zero(t, b.Committed+b.Reserved, "nothing spent on the wiped Redis")

	// A process started after the loss cannot tell; with WithEpochRequired
	// it refuses to start a new epoch.
	fresh := newTestLedgerAt(t, faultClient(t, r.Addr()), "fault", WithEpochRequired(), WithLedgerLogger(nil))
	require.ErrorIs(t, fresh.SetBudget(ctx, gavel.Budget{Account: "newco", Amount: budget}), ErrLedgerLost)

	// Restore from what was billed, then rearm.
	require.NoError(t, l.Restore(ctx, "acme", time.Now(), committed), "not the current period: ignored")
	require.ErrorIs(t, l.Restore(ctx, "nobody", time.Time{}, 1), gavel.ErrUnknownAccount)
	require.NoError(t, l.Restore(ctx, "acme", time.Time{}, committed))
	reserveCommit(t, l, "acme", 10_000) // restored: this process reserves again
	_, err = other.Reserve(ctx, "acme", 1_000, time.Minute)
	require.ErrorIs(t, err, ErrLedgerLost, "the other process waits for the rearm")
	require.NoError(t, l.Rearm(ctx))
	require.True(t, eventually(ctx, 5*time.Second, func() bool {
		h, err := other.Reserve(ctx, "acme", 10_000, time.Minute)
		return err == nil && other.Commit(ctx, h, 10_000) == nil
	}), "the other process adopts the rearm")
	require.NoError(t, fresh.SetBudget(ctx, gavel.Budget{Account: "newco", Amount: budget}), "the marker is there again")

	// Spend the rest: never above the budget.
	for {
		h, err := l.Reserve(ctx, "acme", 30_000, time.Minute)
		if errors.Is(err, gavel.ErrBudgetExhausted) {
			break
		}
		require.NoError(t, err)
		require.NoError(t, l.Commit(ctx, h, 30_000))
	}
	b = ledgerBalanceOf(t, l, "acme")
	assert.LessOrEqual(t, b.Committed, int64(budget))
	assert.Equal(t, int64(committed+20_000+30_000*((budget-committed-20_000)/30_000)), b.Committed, "spending resumed where it was")
	assert.Equal(t, int64(1), l.Stats().Wipes)
}

// TestFaultEmptyRestartLease: a lease-mode process commits from its lease
// while Redis is down (acknowledged to the caller), and Redis comes back
// empty. The ledger keeps what it could not report (Unconfirmed) and
// refuses to reserve; after Restore and Rearm the report is replayed on
// top of the restored spend, once.
func TestFaultEmptyRestartLease(t *testing.T) {
	ctx := context.Background()
	r := startTestRedis(t, redisNoPersistence...)
	c := faultClient(t, r.Addr())
	opts := []LedgerOption{WithLedgerMode(ModeLease), WithLeaseSlice(100_000), WithLeaseInterval(20 * time.Millisecond),
		WithLedgerTimeout(200 * time.Millisecond), WithLedgerLogger(nil)}
	l := newTestLedgerAt(t, c, "fault", opts...)
	const budget = 1_000_000
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: budget}))
	for range 4 {
		reserveCommit(t, l, "acme", 10_000)
	}
	require.True(t, eventually(ctx, 5*time.Second, func() bool { return l.Stats().Unconfirmed == 0 }), "reported")
	confirmed := ledgerBalanceOf(t, l, "acme").Committed
	require.Equal(t, int64(40_000), confirmed)

	r.Kill()
	for range 3 { // from the lease, while Redis is down
		reserveCommit(t, l, "acme", 10_000)
	}
	require.Equal(t, int64(30_000), l.Stats().Unconfirmed)
	r.Start()

	require.True(t, eventually(ctx, 5*time.Second, func() bool { _, lost := l.Lost(); return lost }), "the ledger finds the state lost")
	_, err := l.Reserve(ctx, "acme", 1_000, time.Minute)
	require.ErrorIs(t, err, ErrLedgerLost)
	assert.Equal(t, int64(30_000), l.Stats().Unconfirmed, "kept, not dropped")

	// Another process sets the budget again.
	reader := newTestLedgerAt(t, c, "fault", opts...)
	require.NoError(t, reader.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: budget}), "SetBudget writes the budget again")

	require.NoError(t, l.Restore(ctx, "acme", time.Time{}, confirmed+30_000), "billed: before the kill and during the outage")
	require.NoError(t, l.Rearm(ctx))
	require.True(t, eventually(ctx, 5*time.Second, func() bool { return l.Stats().Unconfirmed == 0 }), "replayed")
	b := ledgerBalanceOf(t, l, "acme")
	// The replay counts on top of the restore: over by what the outage
	// committed (at most one slice), never under, never twice more.
	assert.Equal(t, confirmed+30_000+30_000, b.Committed)
	assert.LessOrEqual(t, b.Committed-(confirmed+30_000), int64(100_000), "within one slice")
	require.NoError(t, l.Close(ctx))
	assert.Equal(t, confirmed+60_000, ledgerBalanceOf(t, reader, "acme").Committed, "nothing applied twice")
}

// TestFaultCloseNamesUnconfirmed: Close with Redis away returns an error
// that names the account and the money not confirmed.
func TestFaultCloseNamesUnconfirmed(t *testing.T) {
	ctx := context.Background()
	r := startTestRedis(t, redisNoPersistence...)
	l, err := NewLedger(faultClient(t, r.Addr()), WithKeyPrefix("fault"), WithLedgerMode(ModeLease), WithLeaseSlice(100_000),
		WithLeaseInterval(20*time.Millisecond), WithLedgerTimeout(100*time.Millisecond), WithLedgerLogger(nil))
	require.NoError(t, err)
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: 1_000_000}))
	reserveCommit(t, l, "acme", 10_000)
	r.Kill()
	reserveCommit(t, l, "acme", 20_000)
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	err = l.Close(cctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `account "acme"`)
	assert.Regexp(t, `(30000|20000) micros committed from the lease not confirmed`, err.Error())
}

// TestFaultEmptyRestartPacer: the pacer's recorded spend is lost with
// Redis; the pacer freezes (no flush, no step: the rate stays), counts
// and reports it, keeps what it records, and after Restore and Rearm
// flushes it on top of the restored spend.
func TestFaultEmptyRestartPacer(t *testing.T) {
	ctx := context.Background()
	r := startTestRedis(t, redisNoPersistence...)
	c := faultClient(t, r.Addr())
	errs := &pacerErrorLog{}
	// A clock that stays at noon: the spend's day key must not turn while
	// Redis restarts (seconds).
	clock := auctiontest.NewClock(pacerSimDay.Add(12 * time.Hour))
	p, err := NewPacer(c, WithKeyPrefix("fault"), WithSyncInterval(0), WithPacerHooks(errs), WithPacerLogger(nil), WithPacerClock(clock))
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(ctx) })
	b := gavel.Budget{Account: "acme", Amount: 1_440_000_000, Period: pacerDay}
	require.NoError(t, p.SetBudget(ctx, b))
	p.Spend(ctx, "acme", 300_000)
	require.NoError(t, p.Sync(ctx))
	key, _ := p.account("acme").spentKeyAt(clock.Now())
	spent := func() int64 {
		v, err := c.Do(ctx, c.B().Get().Key(key).Build()).AsInt64()
		if err != nil {
			return -1
		}
		return v
	}
	require.Equal(t, int64(300_000), spent())

	r.Restart()
	p.Spend(ctx, "acme", 20_000)
	require.ErrorIs(t, p.Sync(ctx), ErrLedgerLost)
	require.ErrorIs(t, p.Sync(ctx), ErrLedgerLost, "still lost")
	assert.Equal(t, int64(1), p.Stats().Wipes, "counted once")
	assert.True(t, errs.has(ErrLedgerLost))
	assert.Equal(t, int64(-1), spent(), "nothing flushed to the wiped Redis")
	assert.Equal(t, int64(20_000), p.Stats().Pending)

	require.ErrorIs(t, p.Restore(ctx, "nobody", time.Time{}, 1), gavel.ErrUnknownAccount)
	require.NoError(t, p.Restore(ctx, "acme", time.Time{}, 1), "not the period: ignored")
	require.NoError(t, p.Restore(ctx, "acme", pacerDay.Start(clock.Now()), 300_000))
	require.NoError(t, p.Rearm(ctx))
	require.NoError(t, p.Sync(ctx))
	assert.Equal(t, int64(320_000), spent(), "restored, and what was recorded meanwhile on top, once")
	assert.Zero(t, p.Stats().Pending)
}

// pacerErrorLog records the errors told to a PacerErrorHook.
type pacerErrorLog struct{ ledgerErrors }

func (e *pacerErrorLog) OnPacerError(op PacerOp, account string, err error) {
	e.OnLedgerError(LedgerOp(op), account, err)
}
