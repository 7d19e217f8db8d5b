package gavelredis

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// countingClient is a rueidis.Client that counts the round trips made
// through it and the commands they carry; multi counts those of DoMulti
// alone, by which the Ledger reserves.
type countingClient struct {
	rueidis.Client
	trips, cmds, multi, multiCmds atomic.Int64
}

func (c *countingClient) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	c.trips.Add(1)
	c.cmds.Add(1)
	return c.Client.Do(ctx, cmd)
}

func (c *countingClient) DoMulti(ctx context.Context, cmds ...rueidis.Completed) []rueidis.RedisResult {
	c.trips.Add(1)
	c.cmds.Add(int64(len(cmds)))
	c.multi.Add(1)
	c.multiCmds.Add(int64(len(cmds)))
	return c.Client.DoMulti(ctx, cmds...)
}

// queued returns how many calls wait for the next flush of l.
func queued(l *Ledger) int {
	l.queue.mu.Lock()
	defer l.queue.mu.Unlock()
	return len(l.queue.calls)
}

// TestLedgerReserveBatchOneRoundTrip checks that ReserveBatch makes its
// strict-mode reservations, on several accounts, in one round trip with
// one script call per account.
func TestLedgerReserveBatchOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := &countingClient{Client: ledgerClient(t)}
	l := newTestLedger(t, c)
	for _, account := range []string{"a", "b", "c"} {
		require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: account, Amount: 1_000}))
	}
	rs := []gavel.Reservation{
		{Account: "a", Amount: 100, TTL: time.Minute},
		{Account: "b", Amount: 200, TTL: time.Minute},
		{Account: "a", Amount: 300, TTL: time.Minute},
		{Account: "c", Amount: 400, TTL: time.Minute},
	}
	holds, errs := make([]gavel.Hold, len(rs)), make([]error, len(rs))
	trips, cmds := c.trips.Load(), c.cmds.Load()
	l.ReserveBatch(ctx, rs, holds, errs)
	assert.Equal(t, int64(1), c.trips.Load()-trips, "round trips")
	assert.Equal(t, int64(3), c.cmds.Load()-cmds, "script calls: one per account")
	for i, err := range errs {
		require.NoError(t, err, "reservation %d", i)
		assert.Equal(t, rs[i].Amount, holds[i].Amount)
	}
	assert.Equal(t, gavel.Balance{Budget: 1_000, Reserved: 400}, ledgerBalanceOf(t, l, "a"))
	assert.Equal(t, int64(4), l.Stats().Reserves)
}

// gatedClient is a countingClient whose DoMulti waits for a permit:
// the test decides when each round trip of a batch goes.
type gatedClient struct {
	countingClient
	permits chan struct{}
	gated   atomic.Int64 // round trips that waited for a permit
}

func (c *gatedClient) DoMulti(ctx context.Context, cmds ...rueidis.Completed) []rueidis.RedisResult {
	c.gated.Add(1)
	<-c.permits
	return c.countingClient.DoMulti(ctx, cmds...)
}

// TestLedgerBatchesWaitingCalls holds a batch in flight: the reservations
// that arrive meanwhile wait, and go together once it ends, in one round
// trip and one script call for their account. A caller whose ctx ends
// while its batch is in flight gets ctx.Err() at once, and the hold that
// Redis makes for it anyway is released; one whose ctx ends while it waits
// for the next batch is not sent at all.
func TestLedgerBatchesWaitingCalls(t *testing.T) {
	ctx := context.Background()
	c := &gatedClient{countingClient: countingClient{Client: ledgerClient(t)}, permits: make(chan struct{})}
	l := newTestLedger(t, c)
	t.Cleanup(func() { close(c.permits) }) // before Close: nothing waits for a permit then
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "dsp", Amount: 1_000_000}))
	trips, cmds := c.multi.Load(), c.multiCmds.Load()
	reserve := func(ctx context.Context, amount int64) func() error {
		done := make(chan error, 1)
		go func() {
			_, err := l.Reserve(ctx, "dsp", amount, time.Minute)
			done <- err
		}()
		return func() error { return <-done }
	}
	waitQueued := func(n int, why string) {
		t.Helper()
		require.Eventually(t, func() bool { return queued(l) == n }, 5*time.Second, time.Millisecond, why)
	}
	waitGated := func(n int64, why string) {
		t.Helper()
		require.Eventually(t, func() bool { return c.gated.Load() == n }, 5*time.Second, time.Millisecond, why)
	}

	first := reserve(ctx, 1_000)
	waitGated(1, "the first batch waits for its permit")
	const waiting = 10
	var rest []func() error
	for range waiting {
		rest = append(rest, reserve(ctx, 1_000))
	}
	short, cancel := context.WithCancel(ctx)
	gaveUp := reserve(short, 500)
	waitQueued(waiting+1, "the others wait for the next batch")
	gone, cancelGone := context.WithCancel(ctx)
	goneErr := reserve(gone, 700) // gives up before its batch leaves
	waitQueued(waiting+2, "queued too")
	cancelGone()
	require.ErrorIs(t, goneErr(), context.Canceled)

	c.permits <- struct{}{} // the first batch goes
	require.NoError(t, first())
	waitGated(2, "the second batch waits for its permit")
	cancel()
	require.ErrorIs(t, gaveUp(), context.Canceled)
	c.permits <- struct{}{}
	for i, wait := range rest {
		require.NoError(t, wait(), "waiting reservation %d", i)
	}

	assert.Equal(t, int64(2), c.multi.Load()-trips, "one round trip in flight, then one for all that waited")
	assert.Equal(t, int64(2), c.multiCmds.Load()-cmds, "one script call each")
	want := gavel.Balance{Budget: 1_000_000, Reserved: (waiting + 1) * 1_000}
	reader := newTestLedgerAt(t, ledgerClient(t), l.cfg.prefix)
	assert.Eventually(t, func() bool { return ledgerBalanceOf(t, reader, "dsp") == want }, 5*time.Second, 10*time.Millisecond,
		"the hold made for the caller that gave up is released")
	s := l.Stats()
	assert.Equal(t, int64(waiting+1), s.Reserves)
	assert.Equal(t, int64(1), s.Orphans, "the hold of the caller that gave up, released")
	assert.Zero(t, s.Failures+s.RedisErrors, "a canceled ctx is the caller's doing: %+v", s)
}
