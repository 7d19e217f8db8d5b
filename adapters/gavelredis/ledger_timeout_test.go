package gavelredis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// TestLedgerTimeoutKeepsConnection makes calls time out behind a proxy
// adding 20ms to every read, on a client whose options would have rueidis
// close the connection on a timeout (no client-side caching, so no
// pipeline until calls overlap; one connection, where rueidis would open
// a second one on first use): the calls fail with their deadline, and the
// next calls are answered on the same connection.
func TestLedgerTimeoutKeepsConnection(t *testing.T) {
	ctx := context.Background()
	direct := ledgerClient(t)
	proxy := newLatencyProxy(t, redisAddr(), 20*time.Millisecond)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{proxy.Addr()}, DisableCache: true, PipelineMultiplex: -1})
	require.NoError(t, err)
	defer c.Close()
	l := newTestLedgerAt(t, c, ledgerPrefix(t, direct))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "dsp", Amount: 1_000_000}))
	conns := proxy.Conns()

	for i := range 3 {
		time.Sleep(60 * time.Millisecond) // the last reply is in, and timed
		l.rtt.Store(0)
		rctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		_, err := l.Reserve(rctx, "dsp", 100, time.Minute)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, "call %d", i)
	}
	h, err := l.Reserve(ctx, "dsp", 100, time.Minute)
	require.NoError(t, err)
	require.NoError(t, l.Release(ctx, h))
	assert.Equal(t, conns, proxy.Conns(), "no new connection")
	// The timed-out reservations were made in Redis, and released as
	// orphans by Close.
	require.NoError(t, l.Close(ctx))
	assert.Equal(t, int64(0), settled(t, newTestLedgerAt(t, direct, l.cfg.prefix), "dsp").Reserved)
}

// TestLedgerSharedWithProfiles shares one client of ClientOption (without
// client-side caching, on one connection) between a strict ledger and a
// ProfileStore whose reads time out behind a proxy adding 5ms to every
// read: the reservations made meanwhile, with time enough, all succeed,
// and the client keeps its connection. (With rueidis's default options,
// a profile read that finds the connection idle is made on it directly,
// and closes it on its timeout: one such run opened 8 connections, and 4
// reservations or releases failed.)
func TestLedgerSharedWithProfiles(t *testing.T) {
	ctx := context.Background()
	direct := ledgerClient(t)
	proxy := newLatencyProxy(t, redisAddr(), 5*time.Millisecond)
	opt := ClientOption(proxy.Addr())
	opt.DisableCache, opt.PipelineMultiplex = true, -1
	c, err := rueidis.NewClient(opt)
	require.NoError(t, err)
	defer c.Close()
	prefix := ledgerPrefix(t, direct)
	l := newTestLedgerAt(t, c, prefix)
	profiles, err := NewProfileStore(c, WithKeyPrefix(prefix), WithProfileCacheTTL(0))
	require.NoError(t, err)
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "dsp", Amount: 1_000_000}))
	conns := proxy.Conns()

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 20 {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, 3*time.Millisecond)
			defer cancel()
			if _, err := profiles.Profile(pctx, fmt.Sprint("u", i)); !errors.Is(err, context.DeadlineExceeded) {
				errs <- fmt.Errorf("profile read %d: want a timeout, got %v", i, err)
			}
		})
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			h, err := l.Reserve(rctx, "dsp", 100, time.Minute)
			if err == nil {
				err = l.Release(rctx, h)
			}
			if err != nil {
				errs <- fmt.Errorf("reservation %d: %w", i, err)
			}
		})
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, conns, proxy.Conns(), "no new connection")
}

// TestLedgerNoTime gives the ledger a round trip longer than what a
// reservation has left: it is not sent, fails at once with gavel.ErrNoTime,
// and is counted as such, not as a failure nor an orphan.
func TestLedgerNoTime(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t, ledgerClient(t))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "dsp", Amount: 1_000_000}))
	before := l.Stats()
	require.Positive(t, before.RoundTrip, "SetBudget's round trip was timed")
	l.rtt.Store(int64(50 * time.Millisecond))
	l.timedAt.Store(l.mono() + int64(time.Hour)) // no probe in this test

	rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := l.Reserve(rctx, "dsp", 100, time.Minute)
	require.ErrorIs(t, err, gavel.ErrNoTime)
	holds, errs := make([]gavel.Hold, 2), make([]error, 2)
	l.ReserveBatch(rctx, []gavel.Reservation{{Account: "dsp", Amount: 1, TTL: time.Minute}, {Account: "dsp", Amount: 2, TTL: time.Minute}}, holds, errs)
	for i, err := range errs {
		require.ErrorIs(t, err, gavel.ErrNoTime, "reservation %d", i)
	}
	assert.Less(t, time.Since(start), 10*time.Millisecond, "at once")

	s := l.Stats()
	assert.Equal(t, before.NoTime+3, s.NoTime)
	assert.Equal(t, before.Failures, s.Failures)
	assert.Equal(t, before.RedisErrors, s.RedisErrors)
	assert.Equal(t, before.Orphans, s.Orphans, "nothing was sent, nothing to release")
	assert.Equal(t, gavel.Balance{Budget: 1_000_000}, ledgerBalanceOf(t, l, "dsp"))

	// Without a deadline it is sent.
	h, err := l.Reserve(ctx, "dsp", 100, time.Minute)
	require.NoError(t, err)
	require.NoError(t, l.Release(ctx, h))

	// With no round trip timed for probeEvery, it is sent to measure one.
	l.rtt.Store(int64(time.Hour))
	l.timedAt.Store(l.mono() - int64(probeEvery))
	rctx, cancel = context.WithTimeout(ctx, time.Second)
	defer cancel()
	h, err = l.Reserve(rctx, "dsp", 100, time.Minute)
	require.NoError(t, err, "a probe")
	require.NoError(t, l.Release(ctx, h))
	assert.Less(t, l.Stats().RoundTrip, time.Hour, "measured again")
}

// TestLedgerRoundTrip checks the smoothing of the round trip: replies move
// it an eighth of the way, a timeout only lengthens it.
func TestLedgerRoundTrip(t *testing.T) {
	var l Ledger
	l.observe(8*time.Millisecond, false)
	assert.Equal(t, 8*time.Millisecond, time.Duration(l.rtt.Load()), "the first sample")
	l.observe(16*time.Millisecond, false)
	assert.Equal(t, 9*time.Millisecond, time.Duration(l.rtt.Load()))
	l.observe(time.Millisecond, true)
	assert.Equal(t, 9*time.Millisecond, time.Duration(l.rtt.Load()), "a timeout teaches nothing shorter")
	l.observe(17*time.Millisecond, true)
	assert.Equal(t, 10*time.Millisecond, time.Duration(l.rtt.Load()))
	l.observe(2*time.Millisecond, false)
	assert.Equal(t, 9*time.Millisecond, time.Duration(l.rtt.Load()))
}

// TestLedgerUnsentNotOrphaned fails reservations on a closed port: the
// connection that broke may have carried the first (an orphan, released
// later), but the next ones are refused at the dial, never sent, so
// nothing is released for them.
func TestLedgerUnsentNotOrphaned(t *testing.T) {
	ctx := context.Background()
	direct := ledgerClient(t)
	proxy := newTestProxy(t, redisAddr())
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{proxy.Addr()}, PipelineMultiplex: -1})
	require.NoError(t, err)
	defer c.Close()
	l := newTestLedgerAt(t, c, ledgerPrefix(t, direct))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "dsp", Amount: 1_000_000}))
	proxy.Close()
	var orphans int64
	for i := range 5 {
		rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := l.Reserve(rctx, "dsp", 100, time.Minute)
		cancel()
		require.Error(t, err, "reservation %d", i)
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "reservation %d", i)
		if i == 1 { // the broken connection (one: PipelineMultiplex -1) is behind
			orphans = l.Stats().Orphans
		}
	}
	s := l.Stats()
	assert.Equal(t, int64(5), s.Failures)
	assert.Equal(t, orphans, s.Orphans, "refused at the dial: nothing sent, nothing to release")
}

// TestLedgerLeaseShort fills a lease's slice with one hold, on an account
// with money to spare: the next reservation fails with ErrLeaseShort, not
// gavel.ErrBudgetExhausted, and is counted as such.
func TestLedgerLeaseShort(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t, ledgerClient(t), WithLedgerMode(ModeLease), WithLeaseSlice(1_000))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "dsp", Amount: 1_000_000_000}))
	h, err := l.Reserve(ctx, "dsp", 1_000, time.Minute)
	require.NoError(t, err)
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = l.Reserve(rctx, "dsp", 500, time.Minute)
	require.ErrorIs(t, err, ErrLeaseShort)
	assert.NotErrorIs(t, err, gavel.ErrBudgetExhausted)
	s := l.Stats()
	assert.Equal(t, int64(1), s.LeaseShort)
	assert.Zero(t, s.Refusals)
	require.NoError(t, l.Release(ctx, h))
}

// TestLedgerUnknownCounted reserves on an account without a budget, in
// both modes: each is refused with gavel.ErrUnknownAccount and counted in
// Unknown, not as a failure nor a refusal.
func TestLedgerUnknownCounted(t *testing.T) {
	ctx := context.Background()
	l := newTestLedger(t, ledgerClient(t), WithAccountMode("leased", ModeLease))
	for _, account := range []string{"strict", "leased"} {
		_, err := l.Reserve(ctx, account, 100, time.Minute)
		require.ErrorIs(t, err, gavel.ErrUnknownAccount, account)
	}
	s := l.Stats()
	assert.Equal(t, int64(2), s.Unknown)
	assert.Zero(t, s.Failures+s.Refusals+s.Orphans)
}
