package gavel

import (
	"context"
	"time"
)

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

// Commit bills an impression: it commits costMicros (at most the hold's
// amount; the rest returns to the account) on the Ledger, tells the Pacer,
// and emits a billing event. It returns the Ledger's error (ErrHoldReleased,
// ErrHoldNotFound for a hold expired or unknown, ErrCommitExceedsHold,
// ctx.Err()), or ErrNoLedger. With a Ledger that is a HoldEnder, a hold
// that an earlier call committed (a retry of a call whose answer was lost,
// a second notice, another process) returns an error wrapping
// ErrHoldCommitted, and this call tells the Pacer and emits nothing; the
// money was billed once. So when a call fails with ctx.Err() after the
// Ledger applied it (its answer was lost), its retry learns that the money
// moved but emits no billing event: the first call emitted none either.
// With another Ledger, the Ledger's nil is taken as this call's commit.
//
// A winner that needed no hold (no account, a cost that rounds to 0
// micros, or an unknown account let through by WithUnknownAccounts) has
// the zero Hold: Commit then only emits the billing event, and Release
// does nothing.
func (a *Auction) Commit(ctx context.Context, b Billing, costMicros int64) error {
	if a.cfg.ledger == nil {
		return ErrNoLedger
	}
	if b.Hold == (Hold{}) {
		a.billingEvent(ctx, &b, costMicros)
		return nil
	}
	if err := a.endHold(ctx, b.Hold, costMicros, true); err != nil {
		return withContext(err, "commit %s/%s", b.AuctionID, b.ImpID)
	}
	if a.cfg.pacer != nil {
		a.cfg.pacer.Spend(ctx, b.Hold.Account, costMicros-b.Hold.Amount)
	}
	a.billingEvent(ctx, &b, costMicros)
	return nil
}

// Release gives a won impression's money back to its account, for a loss
// notice or an impression that will never be billed. It returns the
// Ledger's error (ErrHoldCommitted, ErrHoldNotFound, ctx.Err()), or
// ErrNoLedger. With a Ledger that is a HoldEnder, a hold that an earlier
// call released returns an error wrapping ErrHoldReleased, and this call
// tells the Pacer nothing.
func (a *Auction) Release(ctx context.Context, b Billing) error {
	if a.cfg.ledger == nil {
		return ErrNoLedger
	}
	if b.Hold == (Hold{}) {
		return nil
	}
	if err := a.endHold(ctx, b.Hold, 0, false); err != nil {
		return withContext(err, "release %s/%s", b.AuctionID, b.ImpID)
	}
	if a.cfg.pacer != nil {
		a.cfg.pacer.Spend(ctx, b.Hold.Account, -b.Hold.Amount)
	}
	return nil
}

// billingEvent reports a committed impression.
func (a *Auction) billingEvent(ctx context.Context, b *Billing, cost int64) {
	if a.sink == nil {
		return
	}
	evs := []Event{{
		Version: EventSchemaVersion, Type: EventBilling, Time: time.Now().UnixMilli(),
		AuctionID: b.AuctionID, ImpID: b.ImpID, Bidder: b.Bidder, Seat: b.Seat, BidID: b.BidID,
		DealID: b.DealID, Account: b.Hold.Account, Currency: b.Currency,
		ClearMicros: b.ClearMicros, CostMicros: cost,
	}}
	if err := a.sink.Write(ctx, evs); err != nil {
		a.stats.eventWrites.Add(1)
	}
}

// endHold commits (commit set) or releases h on the Ledger. A repeat that
// a HoldEnder tells apart is ErrHoldCommitted or ErrHoldReleased.
func (a *Auction) endHold(ctx context.Context, h Hold, actual int64, commit bool) error {
	e, ok := a.cfg.ledger.(HoldEnder)
	if !ok {
		if commit {
			return a.cfg.ledger.Commit(ctx, h, actual)
		}
		return a.cfg.ledger.Release(ctx, h)
	}
	ended, err := e.EndHold(ctx, h, actual, commit)
	switch {
	case err != nil || ended:
		return err
	case commit:
		return ErrHoldCommitted
	}
	return ErrHoldReleased
}
