package gavel

import (
	"context"
)

// The auction's side of money: the winner of each imp reserves its cost on
// the Ledger before it is declared the winner; the exchange later bills the
// impression (Commit) or gives the money back (Release).

// An AccountFunc names the budget account that pays for a bidder's bids:
// Run calls it with the bidder and the seat of each winning bid, and with
// the bidder's name as both before the fan-out for pacing. "" means the
// bids are not budget-controlled: no hold is taken and the bidder is not
// paced. It must be fast and safe for concurrent use.
type AccountFunc func(bidder, seat string) string

// SeatAccount is the default AccountFunc: the seat is the account.
func SeatAccount(_, seat string) string { return seat }

// admit reserves the cost of b, the best remaining bid of its imp, and
// reports whether it may win. Without a ledger every bid is admitted.
func (r *round) admit(ctx context.Context, res *Result, b *BidOutcome) bool {
	a := r.a
	account := a.cfg.account(b.Bidder, b.Seat)
	if account == "" {
		return true
	}
	cost := b.CostMicros()
	if a.cfg.ledger == nil || cost == 0 {
		r.spend(ctx, account, cost)
		return true
	}
	lctx := ctx
	if _, ok := a.cfg.ledger.(NonBlocking); !ok { // a remote ledger gets Run's deadline
		if r.ledgerCtx == nil {
			r.ledgerCtx, r.ledgerCancel = context.WithDeadline(ctx, res.Deadline)
		}
		lctx = r.ledgerCtx
	}
	h, err := a.cfg.ledger.Reserve(lctx, account, cost, a.cfg.holdTTL)
	if err != nil {
		h = Hold{Account: account, Amount: cost}
	}
	for _, hk := range a.hooks.budget {
		hk.OnReserve(ctx, res.AuctionID, h, err)
	}
	if err != nil {
		a.stats.reserveFailed(err)
		return false
	}
	res.Imps[b.Imp].Hold = h
	r.spend(ctx, account, cost)
	return true
}

func (r *round) spend(ctx context.Context, account string, cost int64) {
	if p := r.a.cfg.pacer; p != nil && cost != 0 {
		p.Spend(ctx, account, cost)
	}
}

// endLedger cancels the deadline context that admit made for a ledger that
// is not NonBlocking, if it made one.
func (r *round) endLedger() {
	if r.ledgerCancel != nil {
		r.ledgerCancel()
		r.ledgerCtx, r.ledgerCancel = nil, nil
	}
}
