package gavel_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// TestLedgerTombstones keeps an ended hold's outcome until its expiry, or
// WithHoldTombstones after it ended if later; then the record is swept and
// reused, and the hold is not found.
func TestLedgerTombstones(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC)
	t.Run("until the hold's expiry", func(t *testing.T) {
		clk := auctiontest.NewClock(t0)
		l := must(gavel.NewMemoryLedger(gavel.WithLedgerClock(clk), gavel.WithLedgerShards(1)))
		gavel.SetMaxHolds(l, 1)
		require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
		h := must(l.Reserve(ctx, "a", 100, time.Second))
		require.NoError(t, l.Commit(ctx, h, 60))
		assert.Zero(t, l.Outstanding(), "a tombstone is not outstanding")
		_, err := l.Reserve(ctx, "a", 1, time.Second)
		require.ErrorIs(t, err, gavel.ErrBudgetExhausted, "the tombstone keeps the shard's only record")

		clk.Advance(time.Second - time.Nanosecond)
		require.NoError(t, l.Commit(ctx, h, 100), "a repeat bills nothing more")
		require.ErrorIs(t, l.Release(ctx, h), gavel.ErrHoldCommitted)
		assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 60}, balanceOf(t, l, "a"))

		clk.Advance(time.Nanosecond)
		requireOnly(t, l.Commit(ctx, h, 60), gavel.ErrHoldNotFound)
		requireOnly(t, l.Release(ctx, h), gavel.ErrHoldNotFound)
		h2 := must(l.Reserve(ctx, "a", 1, time.Second)) // the record is free again
		assert.NotEqual(t, h.ID, h2.ID)
		assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 60, Reserved: 1}, balanceOf(t, l, "a"))
		requireConsistent(t, l)
	})
	t.Run("a minimum after the end", func(t *testing.T) {
		clk := auctiontest.NewClock(t0)
		l := must(gavel.NewMemoryLedger(gavel.WithLedgerClock(clk), gavel.WithHoldTombstones(10*time.Second)))
		require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
		committed := must(l.Reserve(ctx, "a", 100, time.Second))
		released := must(l.Reserve(ctx, "a", 200, time.Minute))
		clk.Advance(500 * time.Millisecond)
		require.NoError(t, l.Commit(ctx, committed, 100))
		require.NoError(t, l.Release(ctx, released))

		clk.Advance(10*time.Second - time.Nanosecond) // past the first hold's expiry
		require.NoError(t, l.Commit(ctx, committed, 100))
		require.ErrorIs(t, l.Release(ctx, committed), gavel.ErrHoldCommitted)
		require.NoError(t, l.Release(ctx, released))
		require.ErrorIs(t, l.Commit(ctx, released, 1), gavel.ErrHoldReleased)
		requireConsistent(t, l)

		clk.Advance(time.Nanosecond)
		requireOnly(t, l.Commit(ctx, committed, 100), gavel.ErrHoldNotFound)
		require.NoError(t, l.Release(ctx, released), "the hold's own expiry is later")
		clk.Advance(time.Minute)
		requireOnly(t, l.Release(ctx, released), gavel.ErrHoldNotFound)
		assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 100}, balanceOf(t, l, "a"))
		requireConsistent(t, l)
	})
	t.Run("negative", func(t *testing.T) {
		_, err := gavel.NewMemoryLedger(gavel.WithHoldTombstones(-time.Nanosecond))
		require.ErrorIs(t, err, gavel.ErrInvalidOption)
		assert.ErrorContains(t, err, "hold tombstones must not be negative")
	})
}

// TestLedgerEndHold tells the call that ended a hold from its repeats.
func TestLedgerEndHold(t *testing.T) {
	ctx := context.Background()
	l := must(gavel.NewMemoryLedger())
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
	h := must(l.Reserve(ctx, "a", 100, time.Minute))
	ended, err := l.EndHold(ctx, h, 40, true)
	require.NoError(t, err)
	assert.True(t, ended)
	for range 2 {
		ended, err = l.EndHold(ctx, h, 40, true)
		require.NoError(t, err)
		assert.False(t, ended, "a repeat")
	}
	ended, err = l.EndHold(ctx, h, 0, false)
	require.ErrorIs(t, err, gavel.ErrHoldCommitted)
	assert.False(t, ended)
	assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 40}, balanceOf(t, l, "a"))

	_, err = l.EndHold(ctx, gavel.Hold{Account: "nobody", ID: h.ID, Amount: 100}, 0, false)
	require.ErrorIs(t, err, gavel.ErrUnknownAccount)
	assert.NotErrorIs(t, err, gavel.ErrHoldNotFound)
}

// A billing notice sent twice (or retried after its answer was lost) bills
// and emits once: the second Auction.Commit says the hold was committed.
func TestAuctionCommitsOnce(t *testing.T) {
	ctx := context.Background()
	ledger := must(gavel.NewMemoryLedger())
	require.NoError(t, ledger.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
	rec := &auctiontest.EventRecorder{}
	a := mustAuction(t, gavel.WithLedger(ledger), gavel.WithEventSink(rec))
	bill := gavel.Billing{AuctionID: "a1", ImpID: "1", Hold: must(ledger.Reserve(ctx, "a", 100, time.Minute))}
	require.NoError(t, a.Commit(ctx, bill, 80))
	err := a.Commit(ctx, bill, 80)
	require.ErrorIs(t, err, gavel.ErrHoldCommitted)
	require.ErrorIs(t, err, gavel.ErrHoldNotFound, "a caller that asks whether the hold is still there")
	assert.Equal(t, "gavel: commit a1/1: hold already committed", err.Error())
	require.ErrorIs(t, a.Release(ctx, bill), gavel.ErrHoldCommitted)
	assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 80}, balanceOf(t, ledger, "a"))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, rec.WaitFor(wctx, 1))
	require.NoError(t, a.Close(ctx)) // flushes the sink
	billed := 0
	for _, e := range rec.Events() {
		if e.Type == gavel.EventBilling {
			billed++
		}
	}
	assert.Equal(t, 1, billed, "one billing event")

	lost := gavel.Billing{AuctionID: "a2", ImpID: "1", Hold: must(ledger.Reserve(ctx, "a", 100, time.Minute))}
	require.NoError(t, a.Release(ctx, lost))
	require.ErrorIs(t, a.Release(ctx, lost), gavel.ErrHoldReleased)
	require.ErrorIs(t, a.Commit(ctx, lost, 1), gavel.ErrHoldReleased)
	assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 80}, balanceOf(t, ledger, "a"))
}

// requireOnly requires err to wrap want and neither of the errors of an
// ended hold, unless want is one.
func requireOnly(t testing.TB, err, want error) {
	t.Helper()
	require.ErrorIs(t, err, want)
	for _, other := range []error{gavel.ErrHoldCommitted, gavel.ErrHoldReleased} {
		if want != other {
			require.NotErrorIs(t, err, other)
		}
	}
}
