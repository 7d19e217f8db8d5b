package gavelredis

import (
	"context"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// TestLedgerFailsClosed puts a proxy between the ledger and Redis, then
// stalls it and closes it: reservations fail within their ctx, are counted
// and reported, and an auction on the ledger still returns on time and
// spends nothing.
func TestLedgerFailsClosed(t *testing.T) {
	ctx := context.Background()
	direct := ledgerClient(t)
	proxy := newTestProxy(t, redisAddr())
	hook := &ledgerErrors{}
	l := newTestLedgerAt(t, ledgerClientAt(t, proxy.Addr()), ledgerPrefix(t, direct), WithLedgerHooks(hook))
	reader, err := NewLedger(direct, WithKeyPrefix(l.cfg.prefix))
	require.NoError(t, err)
	defer func() { _ = reader.Close(ctx) }()
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "dsp", Amount: 1_000_000}))
	a, err := gavel.New(
		gavel.WithBidders(auctiontest.Fixed("dsp", auctiontest.Bid("d1", "1", 5.00))),
		gavel.WithLedger(l),
		gavel.WithClearingTime(5*time.Millisecond),
	)
	require.NoError(t, err)
	run := func() *gavel.Result {
		req := auctiontest.Request("r1", auctiontest.BannerImp("1", 0.5))
		req.TMax = 50
		start := time.Now()
		res, err := a.Run(ctx, req)
		require.NoError(t, err)
		assert.Less(t, time.Since(start), 80*time.Millisecond, "Run returns on time")
		return res
	}
	res := run()
	require.NotNil(t, res.Winner("1"), "with Redis answering, the bid wins")
	bill, err := res.Billing(res.Imps[0].Winner)
	require.NoError(t, err)
	require.NoError(t, a.Commit(ctx, bill, 510))

	for _, stage := range []struct {
		name  string
		cause func()
		loss  openrtb3.LossReason
	}{
		{"stalled", proxy.Pause, gavel.LossNoTimeToReserve}, // the deadline passes first
		{"closed port", proxy.Close, gavel.LossLedgerUnavailable},
	} {
		t.Run(stage.name, func(t *testing.T) {
			stage.cause()
			before, hooked := l.Stats(), hook.count()

			rctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := l.Reserve(rctx, "dsp", 510, time.Minute)
			require.Error(t, err)
			assert.NotErrorIs(t, err, gavel.ErrBudgetExhausted)
			assert.Less(t, time.Since(start), 60*time.Millisecond, "fails within its ctx")

			res := run()
			assert.Nil(t, res.Winner("1"), "nothing is spent without the ledger's word")
			assert.Equal(t, stage.loss, res.Bids[0].Loss)

			s := l.Stats()
			assert.Equal(t, before.Failures+2, s.Failures)
			assert.Equal(t, before.Reserves, s.Reserves)
			assert.GreaterOrEqual(t, s.RedisErrors, before.RedisErrors+2)
			assert.GreaterOrEqual(t, hook.count(), hooked+2)
			hook.mu.Lock()
			assert.Equal(t, LedgerReserve, hook.ops[len(hook.ops)-1])
			hook.mu.Unlock()
		})
	}
	// Closing the proxy dropped what it held: Redis saw only the first
	// auction.
	assert.Equal(t, gavel.Balance{Budget: 1_000_000, Committed: 510}, ledgerBalanceOf(t, reader, "dsp"))
	assert.Equal(t, int64(1), a.Stats().ReserveNoTime, "the stalled Redis ran into the deadline")
	assert.Equal(t, int64(1), a.Stats().LedgerErrors, "the closed port failed")
}

// TestLedgerLeaseOutage cuts a lease-mode ledger off Redis for longer than
// the lease TTL: it stops reserving before its lease expires, Redis gives
// the lease back to the account, and when the ledger reconnects it finds
// the lease lost. A hold taken before the outage and committed after it is
// overspent, within the bound of one slice.
func TestLedgerLeaseOutage(t *testing.T) {
	const (
		budget = 10_000
		slice  = 4_000
		ttl    = 400 * time.Millisecond
	)
	ctx := context.Background()
	direct := ledgerClient(t)
	proxy := newTestProxy(t, redisAddr())
	hook := &ledgerErrors{}
	l := newTestLedgerAt(t, ledgerClientAt(t, proxy.Addr()), ledgerPrefix(t, direct),
		WithLedgerMode(ModeLease), WithLeaseSlice(slice), WithLeaseTTL(ttl),
		WithLeaseInterval(50*time.Millisecond), WithLedgerTimeout(100*time.Millisecond),
		WithLedgerHooks(hook))
	other, err := NewLedger(direct, WithKeyPrefix(l.cfg.prefix))
	require.NoError(t, err)
	defer func() { _ = other.Close(ctx) }()
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: budget}))

	early, err := l.Reserve(ctx, "a", 1_000, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, gavel.Balance{Budget: budget, Reserved: slice}, ledgerBalanceOf(t, other, "a"), "the lease counts as reserved")

	proxy.Pause()
	time.Sleep(ttl * 3 / 2)
	rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = l.Reserve(rctx, "a", 100, time.Minute)
	require.Error(t, err, "a lease not renewed for 3/4 of its ttl is not used")
	assert.NotErrorIs(t, err, gavel.ErrBudgetExhausted)
	assert.Equal(t, gavel.Balance{Budget: budget}, ledgerBalanceOf(t, other, "a"), "the lease expired in Redis")

	// Another process spends the whole budget meanwhile.
	h, err := other.Reserve(ctx, "a", budget, time.Minute)
	require.NoError(t, err)
	require.NoError(t, other.Commit(ctx, h, budget))

	proxy.Cut() // drops what it held; the client reconnects
	require.Eventually(t, func() bool { return l.Stats().LeasesLost == 1 }, 2*time.Second, 10*time.Millisecond)
	assert.True(t, hook.has(ErrLeaseLost))
	_, err = l.Reserve(ctx, "a", 100, time.Minute)
	require.ErrorIs(t, err, gavel.ErrBudgetExhausted, "the new lease is empty")

	// The hold from the lost lease is billed: the money is spent twice.
	require.NoError(t, l.Commit(ctx, early, 1_000))
	require.NoError(t, l.Close(ctx))
	b := ledgerBalanceOf(t, other, "a")
	assert.Equal(t, gavel.Balance{Budget: budget, Committed: budget + 1_000}, b)
	assert.LessOrEqual(t, b.Committed-budget, int64(slice), "overspent by at most one slice per lease lost")
	s := l.Stats()
	assert.Positive(t, s.Failures)
	assert.Positive(t, s.RedisErrors)
	t.Logf("stats after the outage: %+v", s)
}
