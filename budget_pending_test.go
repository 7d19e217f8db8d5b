package gavel_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// pendingLedger refuses every reservation with money not available yet,
// as a lease-mode remote ledger does while its slice is held.
type pendingLedger struct{ gavel.Ledger }

func (pendingLedger) Reserve(context.Context, string, int64, time.Duration) (gavel.Hold, error) {
	return gavel.Hold{}, fmt.Errorf("lease: %w", gavel.ErrBudgetPending)
}

func TestRunLosesPendingBudgetWithItsOwnReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := mustAuction(t,
			gavel.WithBidders(auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 5.00))),
			gavel.WithLedger(pendingLedger{}),
		)
		res, _ := timedRun(t, context.Background(), a, auctiontest.Request("r1", auctiontest.BannerImp("1", 0.5)))
		assert.Nil(t, res.Winner("1"), "nothing is spent without the ledger's word")
		assert.Equal(t, gavel.LossBudgetPending, res.Bids[0].Loss)
		s := a.Stats()
		assert.Equal(t, int64(1), s.BudgetPending)
		assert.Zero(t, s.LedgerErrors, "not a ledger failure")
		assert.Zero(t, s.BudgetRefusals, "not a refusal of the budget")
	})
}
