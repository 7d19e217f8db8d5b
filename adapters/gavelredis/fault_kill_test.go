package gavelredis

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// TestFaultKillMidTraffic kills Redis with SIGKILL while 8 workers run
// auctions on a strict ledger, and starts it again after 300ms.
//
// With an AOF fsynced at every write, Redis comes back with everything it
// acknowledged: no loss is found, and the committed spend is exactly what
// was acknowledged (the commits that failed during the kill are tried
// again, and count once).
//
// Without persistence, Redis comes back empty: the ledger finds the loss
// and refuses every reservation (loss 507) until the budget is set again,
// the committed spend restored from what was acknowledged, and the ledger
// rearmed; then the traffic spends on from there, and the committed spend
// is what was acknowledged. In both cases the budget is never exceeded and
// Run returns within its deadline.
func TestFaultKillMidTraffic(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		lost bool
	}{
		{"aof-always", redisAOFAlways, false},
		{"no-persistence", redisNoPersistence, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r := startTestRedis(t, tc.args...)
			l := newTestLedgerAt(t, faultClient(t, r.Addr()), "fault", WithLedgerTimeout(200*time.Millisecond), WithLedgerLogger(nil))
			const budget = 1_500_000 // 600 impressions
			b := gavel.Budget{Account: "dsp", Amount: budget}
			require.NoError(t, l.SetBudget(ctx, b))
			f := newFaultTraffic(t, l, "dsp")

			fault := goFault(func() {
				time.Sleep(300 * time.Millisecond)
				r.Kill()
				time.Sleep(300 * time.Millisecond)
				r.Start()
			})
			f.run(t, after(1500*time.Millisecond))
			<-fault
			notBilled := f.retryCommits(t)
			t.Log(f, "; commits never billed:", notBilled)
			_, lost := l.Lost()
			require.Equal(t, tc.lost, lost, "%+v", l.Stats())
			if lost {
				assert.Positive(t, f.losses[int(gavel.LossLedgerUnavailable)], "fail closed")
				require.NoError(t, l.SetBudget(ctx, b))
				require.NoError(t, l.Restore(ctx, "dsp", time.Time{}, f.acked.Load()))
				require.NoError(t, l.Rearm(ctx))
				f.run(t, after(time.Second))
				require.Zero(t, f.retryCommits(t))
				t.Log("after the restore:", f)
			}
			f.checkTime(t)
			committed, _ := redisCommitted(t, l, "dsp")
			assert.LessOrEqual(t, committed, int64(budget), "never above the budget")
			assert.Equal(t, f.acked.Load(), committed, "nothing acknowledged lost, nothing applied twice")
		})
	}
}
