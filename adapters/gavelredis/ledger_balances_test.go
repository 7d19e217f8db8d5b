package gavelredis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// budgetedLedger is a ledger that TestBudgetSkips runs auctions on, and
// how to set its budgets.
type budgetedLedger interface {
	gavel.Ledger
	gavel.BalanceCache
}

// TestBudgetSkips runs auctions with two bidders, each paying from its
// own account: "rich" can afford the floor, "broke" cannot (its budget is
// below the cost of one impression at the floor, 500 micros). With the
// memory ledger and the Redis ledger in both modes, whose balance cache
// knows the budgets set through it, "broke" is not called
// (StatusBudgetExhausted, counted in Stats.BudgetSkips) and "rich" is.
func TestBudgetSkips(t *testing.T) {
	c := ledgerClient(t)
	ctx := context.Background()
	ledgers := map[string]func(t *testing.T, budgets map[string]int64) budgetedLedger{
		"memory": func(t *testing.T, budgets map[string]int64) budgetedLedger {
			l, err := gavel.NewMemoryLedger()
			require.NoError(t, err)
			for account, b := range budgets {
				require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: account, Amount: b}))
			}
			return l
		},
	}
	for _, mode := range ledgerModes {
		ledgers["redis/mode="+mode.String()] = func(t *testing.T, budgets map[string]int64) budgetedLedger {
			l := newTestLedger(t, c, WithLedgerMode(mode))
			for account, b := range budgets {
				require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: account, Amount: b}))
			}
			return l
		}
	}
	for name, newLedger := range ledgers {
		t.Run(name, func(t *testing.T) {
			l := newLedger(t, map[string]int64{"rich": 1_000_000, "broke": 499})
			rich := auctiontest.Fixed("rich", auctiontest.Bid("r1", "1", 2.00))
			broke := auctiontest.Fixed("broke", auctiontest.Bid("b1", "1", 3.00))
			a, err := gavel.New(gavel.WithBidders(rich, broke), gavel.WithLedger(l))
			require.NoError(t, err)
			defer a.Close(ctx)
			for i := range 3 {
				res, err := a.Run(ctx, auctiontest.Request(fmt.Sprintf("r%d", i), auctiontest.BannerImp("1", 0.5)))
				require.NoError(t, err)
				assert.Equal(t, gavel.StatusBid, res.Bidders[0].Status, "rich")
				assert.Equal(t, gavel.StatusBudgetExhausted, res.Bidders[1].Status, "broke")
				if w := res.Winner("1"); assert.NotNil(t, w) {
					assert.Equal(t, "rich", w.Bidder)
					require.NoError(t, l.Release(ctx, res.Imps[0].Hold))
				}
			}
			assert.Equal(t, int64(3), rich.Calls())
			assert.Zero(t, broke.Calls())
			assert.Equal(t, int64(3), a.Stats().BudgetSkips)
		})
	}
}

// TestLedgerCachedBalance checks what CachedBalance answers in strict
// mode: nothing for an account it has not read; the balance its own calls
// brought, at once; what another process spent, after a refresh; and
// nothing after Close.
func TestLedgerCachedBalance(t *testing.T) {
	c := ledgerClient(t)
	ctx := context.Background()
	const refresh = 20 * time.Millisecond
	l := newTestLedger(t, c, WithBalanceRefresh(refresh))
	other := newTestLedgerAt(t, c, l.cfg.prefix)
	cached := func(account string) (gavel.Balance, bool) { return l.CachedBalance(account) }
	eventually := func(account string, want gavel.Balance, why string) {
		t.Helper()
		assert.Eventually(t, func() bool {
			b, ok := cached(account)
			return ok && b == want
		}, time.Second+10*refresh, refresh/2, "%s: want %+v", why, want)
	}

	require.NoError(t, other.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
	_, ok := cached("a")
	assert.False(t, ok, "an account the ledger has not read")
	eventually("a", gavel.Balance{Budget: 1_000}, "read by the refresh once asked for")

	h, err := l.Reserve(ctx, "a", 300, time.Minute)
	require.NoError(t, err)
	b, ok := cached("a")
	assert.True(t, ok)
	assert.Equal(t, gavel.Balance{Budget: 1_000, Reserved: 300}, b, "from the reservation's reply, at once")
	require.NoError(t, l.Commit(ctx, h, 100))
	b, _ = cached("a")
	assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 100}, b, "from the commit's reply, at once")

	oh, err := other.Reserve(ctx, "a", 900, time.Minute)
	require.NoError(t, err)
	eventually("a", gavel.Balance{Budget: 1_000, Committed: 100, Reserved: 900}, "another process's hold")
	require.NoError(t, other.Release(ctx, oh))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 2_000}))
	b, _ = cached("a")
	assert.Equal(t, gavel.Balance{Budget: 2_000, Committed: 100}, b, "from SetBudget's reply, at once")

	_, ok = cached("nobody")
	assert.False(t, ok, "an account without budget")
	require.NoError(t, l.Close(ctx))
	_, ok = cached("a")
	assert.False(t, ok, "after Close")
}

// TestLedgerCachedBalanceLease checks that in lease mode Remaining is what
// the process can still reserve: what Redis has left plus what its lease
// has free, although Redis counts the whole lease as reserved.
func TestLedgerCachedBalanceLease(t *testing.T) {
	c := ledgerClient(t)
	ctx := context.Background()
	l := newTestLedger(t, c, WithLedgerMode(ModeLease), WithLeaseSlice(5_000))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 8_000}))
	b, ok := l.CachedBalance("a")
	require.True(t, ok)
	assert.Equal(t, int64(8_000), b.Remaining())

	h, err := l.Reserve(ctx, "a", 1_000, time.Minute) // takes a lease of 5,000
	require.NoError(t, err)
	b, ok = l.CachedBalance("a")
	require.True(t, ok)
	assert.Equal(t, int64(7_000), b.Remaining(), "3,000 left in Redis and 4,000 free in the lease: %+v", b)
	require.NoError(t, l.Commit(ctx, h, 1_000))
	b, _ = l.CachedBalance("a")
	assert.Equal(t, int64(7_000), b.Remaining(), "%+v", b)
}

// TestLedgerCachedBalanceDaily checks that a balance read in a daily
// period that has ended has nothing committed in the new one.
func TestLedgerCachedBalanceDaily(t *testing.T) {
	c := ledgerClient(t)
	ctx := context.Background()
	day := time.Date(2030, 3, 4, 23, 0, 0, 0, time.UTC)
	clk := auctiontest.NewClock(day)
	l := newTestLedger(t, c, WithLedgerClock(clk))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000, Period: gavel.DailyPeriod(time.UTC, 0)}))
	h, err := l.Reserve(ctx, "a", 400, time.Minute)
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx, h, 400))
	b, ok := l.CachedBalance("a")
	require.True(t, ok)
	start := time.Date(2030, 3, 4, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 400, PeriodStart: start}, b)

	clk.Advance(2 * time.Hour)
	b, ok = l.CachedBalance("a")
	require.True(t, ok)
	assert.Equal(t, gavel.Balance{Budget: 1_000, PeriodStart: start.AddDate(0, 0, 1)}, b)
}
