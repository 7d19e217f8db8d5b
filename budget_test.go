package gavel_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

type reserveRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (h *reserveRecorder) OnReserve(_ context.Context, _ string, _ gavel.Hold, err error) {
	h.mu.Lock()
	h.errs = append(h.errs, err)
	h.mu.Unlock()
}

func TestRunReservesTheWinnersCost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ledger := must(gavel.NewMemoryLedger())
		require.NoError(t, ledger.SetBudget(t.Context(), gavel.Budget{Account: "rich", Amount: 1_000_000}))
		require.NoError(t, ledger.SetBudget(t.Context(), gavel.Budget{Account: "poor", Amount: 1_000})) // 1.00 CPM at most
		hook := &reserveRecorder{}
		a, err := gavel.New(
			gavel.WithBidders(
				auctiontest.Fixed("poor", auctiontest.Bid("p1", "1", 5.00)),
				auctiontest.Fixed("rich", auctiontest.Bid("r1", "1", 3.00)),
				auctiontest.Fixed("other", auctiontest.Bid("o1", "1", 2.00)),
			),
			gavel.WithLedger(ledger),
			gavel.WithAccounts(func(bidder, _ string) string {
				if bidder == "other" {
					return "" // not budget-controlled
				}
				return bidder
			}),
			gavel.WithHooks(hook),
		)
		require.NoError(t, err)
		ctx := context.Background()
		res, err := a.Run(ctx, auctiontest.Request("r1", auctiontest.BannerImp("1", 0.5)))
		require.NoError(t, err)

		w := res.Winner("1")
		require.NotNil(t, w)
		assert.Equal(t, "rich", w.Bidder, "the poor winner is refused, the next bid wins")
		assert.Equal(t, int64(2_010_000), w.ClearMicros, "recomputed against the bids below it")
		assert.Equal(t, int64(2010), w.CostMicros())
		h := res.Imps[0].Hold
		assert.Equal(t, gavel.Hold{Account: "rich", ID: h.ID, Amount: 2010, Expires: h.Expires}, h)
		assert.Equal(t, gavel.LossBudget, res.Bids[0].Loss)
		require.Len(t, hook.errs, 2)
		assert.ErrorIs(t, hook.errs[0], gavel.ErrBudgetExhausted)
		assert.NoError(t, hook.errs[1])
		assert.Equal(t, int64(1), a.Stats().BudgetRefusals)

		bal, err := ledger.Balance(ctx, "rich")
		require.NoError(t, err)
		assert.Equal(t, int64(2010), bal.Reserved)

		bill := must(res.Billing(res.Imps[0].Winner))
		assert.Equal(t, "r1", bill.AuctionID)
		assert.Equal(t, "1", bill.ImpID)
		require.NoError(t, a.Commit(ctx, bill, 2000))
		bal, err = ledger.Balance(ctx, "rich")
		require.NoError(t, err)
		assert.Equal(t, gavel.Balance{Budget: 1_000_000, Committed: 2000}, bal)
		assert.ErrorIs(t, a.Commit(ctx, bill, 2000), gavel.ErrHoldNotFound)
		assert.ErrorIs(t, a.Release(ctx, bill), gavel.ErrHoldNotFound)
	})
}

type failingLedger struct{ gavel.Ledger }

func (failingLedger) Reserve(ctx context.Context, _ string, _ int64, _ time.Duration) (gavel.Hold, error) {
	<-ctx.Done() // a ledger that hangs until the auction's deadline
	return gavel.Hold{}, ctx.Err()
}

func TestRunFailsClosedOnALedgerThatHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := mustAuction(t,
			gavel.WithBidders(auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 5.00))),
			gavel.WithLedger(failingLedger{}),
		)
		req := auctiontest.Request("r1", auctiontest.BannerImp("1", 0.5))
		req.TMax = 50
		res, took := timedRun(t, context.Background(), a, req)
		assert.Equal(t, res.Deadline.Sub(res.Start), took, "the hanging ledger has until Run's deadline, and no longer")
		assert.Nil(t, res.Winner("1"), "nothing is spent without the ledger's word")
		assert.Equal(t, gavel.LossNoTimeToReserve, res.Bids[0].Loss, "the deadline passed: not a ledger failure")
		assert.Equal(t, int64(1), a.Stats().ReserveNoTime)
		assert.Zero(t, a.Stats().LedgerErrors)
		assert.Equal(t, gavel.NoBidNoEligibleBids, res.NBR)
	})
}

type fixedPacer struct {
	allow  map[string]bool
	mu     sync.Mutex
	spends map[string]int64
}

func (p *fixedPacer) Allow(_ context.Context, account string, _ uint64) bool { return p.allow[account] }
func (p *fixedPacer) Spend(_ context.Context, account string, amount int64) {
	p.mu.Lock()
	p.spends[account] += amount
	p.mu.Unlock()
}

func TestRunAsksThePacer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pacer := &fixedPacer{allow: map[string]bool{"a": true}, spends: map[string]int64{}}
		b := auctiontest.Fixed("b", auctiontest.Bid("b1", "1", 9.00))
		ledger := must(gavel.NewMemoryLedger())
		require.NoError(t, ledger.SetBudget(t.Context(), gavel.Budget{Account: "a", Amount: 1_000_000}))
		a, err := gavel.New(
			gavel.WithBidders(auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 2.00)), b),
			gavel.WithPacer(pacer), gavel.WithLedger(ledger),
		)
		require.NoError(t, err)
		ctx := context.Background()
		res, err := a.Run(ctx, auctiontest.Request("r1", auctiontest.BannerImp("1", 0.5)))
		require.NoError(t, err)
		assert.Equal(t, gavel.StatusPaced, res.Bidders[1].Status)
		assert.Zero(t, b.Calls(), "a paced bidder is not called")
		assert.Equal(t, int64(510), pacer.spends["a"], "the winner's cost: floor + increment, per impression")
		require.NoError(t, a.Release(ctx, must(res.Billing(res.Imps[0].Winner))))
		assert.Equal(t, int64(0), pacer.spends["a"])
	})
}

func TestAuctionWithoutLedger(t *testing.T) {
	a, err := gavel.New()
	require.NoError(t, err)
	assert.ErrorIs(t, a.Commit(context.Background(), gavel.Billing{}, 1), gavel.ErrNoLedger)
	assert.ErrorIs(t, a.Release(context.Background(), gavel.Billing{}), gavel.ErrNoLedger)
	_, err = gavel.New(gavel.WithHoldTTL(0))
	assert.True(t, errors.Is(err, gavel.ErrInvalidOption))
}
