package gavel

import (
	"context"
	"errors"
	"sync"
	"time"
)

// The auction's side of money: the winner of each imp reserves its cost on
// the Ledger before it is declared the winner; the exchange later bills the
// impression (Commit) or gives the money back (Release), see billing.go.

// An AccountFunc names the budget account that pays for a bidder's bids:
// Run calls it with the bidder and the seat of each winning bid, and with
// the bidder's name as both before the fan-out for pacing. Seats are only
// those the bidder may bid for (WithBidderSeats). "" means the bids are not
// budget-controlled: no hold is taken and the bidder is not paced. It must
// be fast and safe for concurrent use.
type AccountFunc func(bidder, seat string) string

// BidderAccount is the default AccountFunc: the bidder's name is the
// account, so a bidder spends its own money whatever seats it bids for.
func BidderAccount(bidder, _ string) string { return bidder }

// SeatAccount is an AccountFunc that charges each seat's own account. Seats
// are what bidders write in their responses: use it only with
// WithBidderSeats, which decides the seats each bidder may bid for.
func SeatAccount(_, seat string) string { return seat }

// UnknownAccountPolicy says what Run does with a winner whose account the
// Ledger has no budget for; see WithUnknownAccounts.
type UnknownAccountPolicy uint8

const (
	// RefuseUnknownAccounts makes such a bid lose with LossUnknownAccount,
	// and the next bid of the imp is tried. The default: money without a
	// budget is not spent.
	RefuseUnknownAccounts UnknownAccountPolicy = iota
	// AllowUnknownAccounts lets such a bid win unbudgeted, with no hold:
	// for exchanges where only some accounts have budgets.
	AllowUnknownAccounts
)

// costOf returns the account that pays for bid b and what it pays for one
// impression at its clearing price.
func (r *round) costOf(b *BidOutcome) (string, int64) {
	return r.a.cfg.account(b.Bidder, b.Seat), b.CostMicros()
}

// reserve asks the Ledger for the cost of every pending bid, in one call
// when it is a BatchLedger, and makes each bid win or lose by the answer.
// Once Run's deadline has passed it asks a ledger that is not NonBlocking
// nothing: the bids lose with LossNoTimeToReserve.
func (r *round) reserve(ctx context.Context, res *Result) {
	a := r.a
	n := len(r.reserving) // r.rs[k] is the reservation of r.reserving[k], made by claim
	r.holds, r.errs = grow(r.holds, n), grow(r.errs, n)
	r.ledgerReserve(ctx, res.Deadline)
	for k, j := range r.reserving {
		h, err := r.holds[k], r.errs[k]
		if err != nil {
			h = Hold{Account: r.rs[k].Account, Amount: r.rs[k].Amount}
		}
		for _, hk := range a.hooks.budget {
			hk.OnReserve(ctx, res.AuctionID, h, err)
		}
		switch {
		case err == nil:
			r.win(ctx, res, j, h, h.Account, h.Amount)
		case errors.Is(err, ErrUnknownAccount):
			a.stats.unknown.Add(1)
			a.unknown.log(a, h.Account)
			if a.cfg.unknownAccounts == AllowUnknownAccounts {
				r.win(ctx, res, j, Hold{}, h.Account, h.Amount)
				break
			}
			r.refuse(res, j, LossUnknownAccount)
		default:
			r.refuse(res, j, a.stats.reserveLoss(err))
		}
	}
	clear(r.errs[:n]) // drop the errors' references until the next round
}

// ledgerReserve fills r.holds and r.errs for r.rs, within the deadline.
func (r *round) ledgerReserve(ctx context.Context, deadline time.Time) {
	a := r.a
	rs, holds, errs := r.rs[:len(r.reserving)], r.holds[:len(r.reserving)], r.errs[:len(r.reserving)]
	_, nonBlocking := a.cfg.ledger.(NonBlocking)
	start := time.Now()
	if !nonBlocking && !start.Before(deadline) {
		// A ledger that may block gets no call once the deadline has
		// passed. One that never blocks costs nothing: Run woken a little
		// late by a busy machine loses no winner to it.
		fill(errs, ErrNoTime)
		return
	}
	lctx := ctx
	if !nonBlocking { // a remote ledger gets Run's deadline
		if r.ledgerCtx == nil {
			r.ledgerCtx, r.ledgerCancel = context.WithDeadline(ctx, deadline)
		}
		lctx = r.ledgerCtx
	}
	if bl, ok := a.cfg.ledger.(BatchLedger); ok {
		bl.ReserveBatch(lctx, rs, holds, errs)
	} else {
		for k := range rs {
			if k > 0 && !nonBlocking && !time.Now().Before(deadline) {
				fill(errs[k:], ErrNoTime)
				break
			}
			holds[k], errs[k] = a.cfg.ledger.Reserve(lctx, rs[k].Account, rs[k].Amount, rs[k].TTL)
		}
	}
	if !nonBlocking {
		// What the clearing time must cover: from the end of the fan-out
		// when Run waited for it (the time Run took to wake, collect and
		// clear is part of it, and grows when many auctions end at once),
		// else from the call.
		from := start
		if r.fanout.Before(start) {
			from = r.fanout
		}
		a.ledgerTime.record(time.Since(from))
	}
}

func (r *round) spend(ctx context.Context, account string, cost int64) {
	if p := r.a.cfg.pacer; p != nil && cost != 0 {
		p.Spend(ctx, account, cost)
	}
}

// endLedger cancels the deadline context that ledgerReserve made for a
// ledger that is not NonBlocking, if it made one.
func (r *round) endLedger() {
	if r.ledgerCancel != nil {
		r.ledgerCancel()
		r.ledgerCtx, r.ledgerCancel = nil, nil
	}
}

// grow returns s with length n, reusing its array when it is large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, max(n, 2*cap(s)))
	}
	return s[:n]
}

func fill[T any](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}

// unknownAccountLog logs an account the Ledger has no budget for at most
// once per unknownAccountLogEvery, per account. It remembers at most
// unknownAccountLogMax accounts; the accounts past those are counted in
// Stats.UnknownAccounts but not logged.
type unknownAccountLog struct {
	mu   sync.Mutex
	last map[string]time.Time
}

const (
	unknownAccountLogEvery = time.Minute
	unknownAccountLogMax   = 1024
)

func (l *unknownAccountLog) log(a *Auction, account string) {
	now := time.Now()
	l.mu.Lock()
	last, seen := l.last[account]
	due := seen && now.Sub(last) >= unknownAccountLogEvery || !seen && len(l.last) < unknownAccountLogMax
	if due {
		if l.last == nil {
			l.last = make(map[string]time.Time)
		}
		l.last[account] = now
	}
	l.mu.Unlock()
	if due {
		a.logger.Warn("gavel: the ledger has no budget for this account", "account", account,
			"policy", a.cfg.unknownAccounts.String())
	}
}

func (p UnknownAccountPolicy) String() string {
	if p == AllowUnknownAccounts {
		return "allow"
	}
	return "refuse"
}
