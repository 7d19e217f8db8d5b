package gavelredis

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// TestFaultPartition cuts the ledger off Redis for 3s with a proxy, while
// 8 workers run auctions: one that holds every byte (a partition that
// heals: what was sent arrives late), and one that drops them (a
// blackhole: what was sent is lost, and the connections are cut when it
// heals).
//
// Strict: reservations fail closed during the partition, on time; the
// commits that timed out reach Redis when it heals, and their retries
// count once; the reservations that arrive late are released (orphans,
// tried again until Redis answers).
// Lease (a 10s lease TTL, longer than the partition): the process goes on
// reserving from its lease, commits are acknowledged locally, and the
// reports reach Redis when it heals. Either way the committed spend is
// exactly what was acknowledged, never above the budget, and Run returns
// within its deadline.
func TestFaultPartition(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mode      Mode
		cut, heal func(*testProxy)
	}{
		// The bytes wait, and arrive when the partition heals.
		{"hold/strict", ModeStrict, (*testProxy).Pause, (*testProxy).Resume},
		{"hold/lease", ModeLease, (*testProxy).Pause, (*testProxy).Resume},
		// The bytes are lost; the connections are cut when it heals.
		{"blackhole/strict", ModeStrict, (*testProxy).Blackhole, (*testProxy).Heal},
		{"blackhole/lease", ModeLease, (*testProxy).Blackhole, (*testProxy).Heal},
	} {
		mode := tc.mode
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r := startTestRedis(t, redisNoPersistence...)
			proxy := newTestProxy(t, r.Addr())
			l := newTestLedgerAt(t, faultClient(t, proxy.Addr()), "fault", WithLedgerMode(mode),
				WithLedgerTimeout(500*time.Millisecond), WithLeaseSlice(200_000), WithLedgerLogger(nil))
			direct := newTestLedgerAt(t, faultClient(t, r.Addr()), "fault", WithLedgerLogger(nil))
			const budget = 2_000_000
			require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "dsp", Amount: budget}))
			f := newFaultTraffic(t, l, "dsp")
			fault := goFault(func() {
				time.Sleep(300 * time.Millisecond)
				tc.cut(proxy)
				time.Sleep(3 * time.Second)
				tc.heal(proxy)
			})
			f.run(t, after(4*time.Second))
			<-fault
			require.Zero(t, f.retryCommits(t), "every commit acknowledged, at last")
			t.Log(f)
			f.checkTime(t)
			if mode == ModeStrict { // a lease counts as reserved until Close
				assert.True(t, eventually(ctx, 10*time.Second, func() bool {
					_, reserved := redisCommitted(t, direct, "dsp")
					return reserved == 0
				}), "the reservations that arrived after their caller gave up are released (orphans %d): %v, %+v", l.Stats().Orphans,
					ledgerBalanceOf(t, direct, "dsp"), l.Stats())
			}
			require.NoError(t, l.Close(ctx), "every report confirmed")
			committed, reserved := redisCommitted(t, direct, "dsp")
			assert.LessOrEqual(t, committed+reserved, int64(budget), "never above the budget")
			assert.Equal(t, f.acked.Load(), committed, "nothing acknowledged lost, nothing applied twice")
		})
	}
}

// TestFaultLeaseBound: a lease-mode process A commits from its lease while
// Redis is down (SIGKILL; an AOF fsynced at every write), longer than its
// lease TTL. Redis comes back with A's lease expired, and a strict process
// B spends the whole budget, A's lease money included, before A reaches
// Redis again (A's proxy holds its bytes). A's reports then count: the
// account is overspent by what A committed from the lost lease, at most
// one slice, the documented bound; nothing acknowledged is lost, nothing
// counts twice.
func TestFaultLeaseBound(t *testing.T) {
	ctx := context.Background()
	r := startTestRedis(t, redisAOFAlways...)
	proxy := newTestProxy(t, r.Addr())
	const (
		budget = 1_000_000
		slice  = 100_000
		ttl    = 500 * time.Millisecond
	)
	hook := &ledgerErrors{}
	a := newTestLedgerAt(t, faultClient(t, proxy.Addr()), "fault", WithLedgerMode(ModeLease), WithLeaseSlice(slice),
		WithLeaseTTL(ttl), WithLeaseInterval(50*time.Millisecond), WithLedgerTimeout(100*time.Millisecond),
		WithLedgerHooks(hook), WithLedgerLogger(nil))
	b := newTestLedgerAt(t, faultClient(t, r.Addr()), "fault", WithLedgerLogger(nil))
	require.NoError(t, a.SetBudget(ctx, gavel.Budget{Account: "dsp", Amount: budget}))

	var mu sync.Mutex
	acked := map[string]int64{}
	spend := func(l *Ledger, who string, amount int64, n int) int {
		done := 0
		for range n {
			h, err := l.Reserve(ctx, "dsp", amount, time.Minute)
			if err != nil {
				continue
			}
			if err := l.Commit(ctx, h, amount); err != nil {
				t.Errorf("%s commit: %v", who, err)
				continue
			}
			mu.Lock()
			acked[who] += amount
			mu.Unlock()
			done++
		}
		return done
	}
	spend(a, "a", 10_000, 3) // A's lease is granted, and renewed
	require.True(t, eventually(ctx, 5*time.Second, func() bool { return a.Stats().Unconfirmed == 0 }))

	r.Kill()
	outage := spend(a, "a", 10_000, 6) // from the lease, acknowledged, while Redis is down
	require.Positive(t, outage)
	proxy.Pause()                       // A will not reach Redis before B spent everything
	time.Sleep(ttl)                     // A's lease expires (by Redis's clock, once it runs)
	r.Start()                           // with its AOF: everything acknowledged before the kill
	for spend(b, "b", 10_000, 1) == 1 { // B spends the budget, A's lease money included
	}
	proxy.Cut()
	require.True(t, eventually(ctx, 5*time.Second, func() bool { return a.Stats().Unconfirmed == 0 }), "A's reports are confirmed")
	require.NoError(t, a.Close(ctx))
	committed, _ := redisCommitted(t, b, "dsp")
	t.Logf("acknowledged: A %d (%d during the outage), B %d; committed %d; overspent %d (slice %d); leases lost %d",
		acked["a"], int64(outage)*10_000, acked["b"], committed, committed-budget, slice, a.Stats().LeasesLost)
	assert.Equal(t, acked["a"]+acked["b"], committed, "nothing acknowledged lost, nothing applied twice")
	assert.LessOrEqual(t, committed-budget, int64(slice), "overspent by at most one slice per lease lost")
	assert.Equal(t, int64(1), a.Stats().LeasesLost)
	assert.True(t, hook.has(ErrLeaseLost))
	_, lost := a.Lost()
	assert.False(t, lost, "the AOF kept the state: no loss")
}
