package gavelredis

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// TestLedgerCommitAnswerLost is the partition of issue 13: a Commit reaches
// Redis and is applied, but its answer is lost and the call fails. Its
// retry returns nil (the money moved, once), and a Release the error that
// says the hold was committed.
func TestLedgerCommitAnswerLost(t *testing.T) {
	ctx := context.Background()
	direct := ledgerClient(t)
	proxy := newTestProxy(t, redisAddr())
	l := newTestLedgerAt(t, ledgerClientAt(t, proxy.Addr()), ledgerPrefix(t, direct), WithLedgerTimeout(time.Second))
	other := newTestLedgerAt(t, direct, l.cfg.prefix)
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
	h, err := l.Reserve(ctx, "a", 500, time.Minute)
	require.NoError(t, err)
	// End a hold of another account first, so that the end script is
	// loaded: a NOSCRIPT answer dropped would leave the commit unsent.
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "warm", Amount: 1_000}))
	w, err := l.Reserve(ctx, "warm", 100, time.Minute)
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx, w, 100))

	proxy.DropReplies()
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	require.Error(t, l.Commit(cctx, h, 300), "the answer never comes")
	assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 300}, ledgerBalanceOf(t, other, "a"), "the commit was applied")
	proxy.Heal() // a new connection, whole answers again

	// The client may need calls to see its connections closed: a call that
	// fails on one is retried, as its caller would.
	retry := func(f func() error) error {
		var err error
		for range 100 {
			if err = f(); err == nil || errors.Is(err, gavel.ErrHoldNotFound) {
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
		return err
	}
	require.NoError(t, retry(func() error { return l.Commit(ctx, h, 300) }))
	require.NoError(t, retry(func() error { return l.Commit(ctx, h, 300) }), "again")
	require.ErrorIs(t, retry(func() error { return l.Release(ctx, h) }), gavel.ErrHoldCommitted)
	require.NoError(t, other.Commit(ctx, h, 300), "in another process too")
	assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 300}, ledgerBalanceOf(t, other, "a"), "committed once")
}

// TestLedgerEndTwice runs the end script twice for each way of ending a
// hold, as a retry after a lost answer does, and checks the money and the
// tombstone's lifetime in Redis.
func TestLedgerEndTwice(t *testing.T) {
	ctx := context.Background()
	c := ledgerClient(t)
	l := newTestLedger(t, c)
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
	a := l.lookup("a")
	end := func(h gavel.Hold, act string) int64 {
		t.Helper()
		_, code, err := l.call(ctx, LedgerCommit, l.scripts.end, a, func(cfg *accountConfig) []string {
			return []string{cfg.version, cfg.startMs, strconv.FormatUint(h.ID, 10), strconv.FormatInt(h.Amount, 10), act, holdTombstoneMs}
		})
		require.NoError(t, err)
		return code
	}
	pttl := func(h gavel.Hold) time.Duration {
		t.Helper()
		ms, err := c.Do(ctx, c.B().Pttl().Key(a.keys[2]+":ended:"+strconv.FormatUint(h.ID, 10)).Build()).AsInt64()
		require.NoError(t, err)
		return time.Duration(ms) * time.Millisecond
	}

	long, err := l.Reserve(ctx, "a", 200, 10*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, replyOK, end(long, "150"))
	assert.Equal(t, replyCommitted, end(long, "150"))
	assert.Equal(t, replyCommitted, end(long, ""))
	assert.Equal(t, replyNotFound, end(gavel.Hold{ID: long.ID, Amount: long.Amount + 1}, "150"), "another amount")
	assert.Greater(t, pttl(long), 9*time.Minute, "the tombstone lives as long as the hold would have")

	short, err := l.Reserve(ctx, "a", 100, time.Second)
	require.NoError(t, err)
	assert.Equal(t, replyOK, end(short, ""))
	assert.Equal(t, replyReleased, end(short, ""))
	assert.Equal(t, replyReleased, end(short, "100"))
	assert.Greater(t, pttl(short), HoldTombstone-10*time.Second, "at least HoldTombstone")
	assert.LessOrEqual(t, pttl(short), HoldTombstone)

	assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 150}, ledgerBalanceOf(t, l, "a"))
	s := l.Stats()
	assert.Zero(t, s.Commits+s.Releases, "the script alone counts nothing")
	require.NoError(t, l.Commit(ctx, long, 150))
	require.NoError(t, l.Release(ctx, short))
	s = l.Stats()
	assert.Zero(t, s.Commits+s.Releases, "repeats are not counted as commits or releases")
}

// TestLedgerLeaseEndTwice: a lease-mode hold ends once in its process, and
// a repeat there returns the first outcome, as in strict mode. Another
// process does not know the hold (ErrHoldNotFound), nor does this one after
// Close (ErrLedgerClosed).
func TestLedgerLeaseEndTwice(t *testing.T) {
	ctx := context.Background()
	c := ledgerClient(t)
	l := newTestLedger(t, c, WithLedgerMode(ModeLease), WithLeaseSlice(1_000))
	other := newTestLedgerAt(t, c, l.cfg.prefix)
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 10_000}))
	h, err := l.Reserve(ctx, "a", 500, time.Minute)
	require.NoError(t, err)
	require.NotZero(t, h.ID&localFlag)
	require.NoError(t, l.Commit(ctx, h, 400))
	require.NoError(t, l.Commit(ctx, h, 400))
	require.ErrorIs(t, l.Release(ctx, h), gavel.ErrHoldCommitted)
	require.ErrorIs(t, other.Commit(ctx, h, 400), gavel.ErrHoldNotFound)
	assert.Equal(t, int64(1), l.Stats().Commits)
	require.NoError(t, l.Close(ctx))
	require.ErrorIs(t, l.Commit(ctx, h, 400), ErrLedgerClosed)
	assert.Equal(t, int64(400), ledgerBalanceOf(t, other, "a").Committed, "reported once")
}
