package gavel

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The auction's side of money: the winner of each imp reserves its cost on
// the Ledger before it is declared the winner; the exchange later bills the
// impression (Commit) or gives the money back (Release).

// DefaultHoldTTL is the default of WithHoldTTL.
const DefaultHoldTTL = 15 * time.Minute

// ErrNoLedger is returned by Auction.Commit and Auction.Release when the
// Auction has no Ledger (WithLedger).
var ErrNoLedger = errors.New("gavel: auction has no ledger")

// An AccountFunc names the budget account that pays for a bidder's bids:
// Run calls it with the bidder and the seat of each winning bid, and with
// the bidder's name as both before the fan-out for pacing. "" means the
// bids are not budget-controlled: no hold is taken and the bidder is not
// paced. It must be fast and safe for concurrent use.
type AccountFunc func(bidder, seat string) string

// SeatAccount is the default AccountFunc: the seat is the account.
func SeatAccount(_, seat string) string { return seat }

// WithLedger makes every winner reserve its cost (CostMicros: the clearing
// price per impression) on l before it wins. When the ledger refuses, the
// bid loses with LossBudget and the next eligible bid of the imp wins at its
// own recomputed clearing price. A failing or slow ledger fails closed:
// nothing is spent and the auction still returns on time (the Ledger gets
// the time left until Run's deadline; see WithClearingTime). Default: no
// ledger, bids are not budget-controlled.
func WithLedger(l Ledger) Option {
	return optionFunc(func(c *config) { c.ledger = l })
}

// WithAccounts sets how bids map to budget accounts. Default SeatAccount.
func WithAccounts(f AccountFunc) Option {
	return optionFunc(func(c *config) { c.account = f })
}

// WithHoldTTL sets how long a winner's hold lives: an impression not billed
// (Commit) or given back (Release) by then returns its money by itself. Set
// it longer than the delay of your billing notices. Default DefaultHoldTTL
// (15 minutes).
func WithHoldTTL(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.fail("hold ttl must be positive, got %v", d)
			return
		}
		c.holdTTL = d
	})
}

// WithPacer consults p before the fan-out, for every bidder with an account
// (WithAccounts): a bidder it holds back is not called (StatusPaced). Run
// tells p of every winner's cost, and Commit and Release of what changed.
// Default: no pacing.
func WithPacer(p Pacer) Option {
	return optionFunc(func(c *config) { c.pacer = p })
}

// BudgetHook is called for every reservation Run attempts: err is nil when
// the ledger reserved the hold, wraps ErrBudgetExhausted when the account
// is out of money, and is anything else when the ledger failed.
type BudgetHook interface {
	OnReserve(ctx context.Context, auctionID string, h Hold, err error)
}

// Billing identifies a won impression to bill or give back; Result.Billing
// fills it in from a winner. Keep it (or what is needed to rebuild it) until
// the billing notice or the loss notice arrives.
type Billing struct {
	AuctionID   string
	ImpID       string
	Bidder      string
	Seat        string
	BidID       string
	DealID      string
	Currency    string // the auction currency
	ClearMicros int64  // the clearing price, micros of CPM
	Hold        Hold
}

// Billing returns the Billing of Bids[i], which must be a winner; its Hold
// is the imp's.
func (r *Result) Billing(i int) Billing {
	b := &r.Bids[i]
	bl := Billing{AuctionID: r.AuctionID, Bidder: b.Bidder, Seat: b.Seat, BidID: b.Bid.ID,
		Currency: r.Currency, ClearMicros: b.ClearMicros, Hold: r.Imps[b.Imp].Hold}
	bl.ImpID = b.Bid.ImpID
	if b.Deal != nil {
		bl.DealID = b.Deal.ID
	}
	return bl
}

// Commit bills an impression: it commits costMicros (at most the hold's
// amount; the rest returns to the account) on the Ledger, tells the Pacer,
// and emits a billing event. It returns the Ledger's error (ErrHoldNotFound
// for a hold already ended or expired, ErrCommitExceedsHold, ctx.Err()),
// or ErrNoLedger.
func (a *Auction) Commit(ctx context.Context, b Billing, costMicros int64) error {
	if a.cfg.ledger == nil {
		return ErrNoLedger
	}
	if err := a.cfg.ledger.Commit(ctx, b.Hold, costMicros); err != nil {
		return fmt.Errorf("gavel: commit %s/%s: %w", b.AuctionID, b.ImpID, err)
	}
	if a.cfg.pacer != nil {
		a.cfg.pacer.Spend(ctx, b.Hold.Account, costMicros-b.Hold.Amount)
	}
	a.billingEvent(ctx, &b, costMicros)
	return nil
}

// Release gives a won impression's money back to its account, for a loss
// notice or an impression that will never be billed. It returns the
// Ledger's error (ErrHoldNotFound, ctx.Err()), or ErrNoLedger.
func (a *Auction) Release(ctx context.Context, b Billing) error {
	if a.cfg.ledger == nil {
		return ErrNoLedger
	}
	if err := a.cfg.ledger.Release(ctx, b.Hold); err != nil {
		return fmt.Errorf("gavel: release %s/%s: %w", b.AuctionID, b.ImpID, err)
	}
	if a.cfg.pacer != nil {
		a.cfg.pacer.Spend(ctx, b.Hold.Account, -b.Hold.Amount)
	}
	return nil
}

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
