package gavel

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/prebid/openrtb/v20/openrtb3"
)

// Stats are an Auction's counters since New, for what hooks would otherwise
// have to count: lookups that failed, money the budget refused and why.
// Read them with Auction.Stats.
type Stats struct {
	Auctions         int64 // calls of Run that passed validation
	InvalidRequests  int64 // requests Run refused as invalid (*RequestError, no-bid reason 2)
	NoCurrency       int64 // valid requests no currency of whose cur could hold their floors (*CurrencyError, no-bid reason 1)
	ProfileHits      int64
	ProfileMisses    int64
	ProfileNoKey     int64
	ProfileErrors    int64
	ProfileTimeouts  int64
	SeatRefusals     int64 // bids for a seat their bidder may not use (LossSeatNotAllowed)
	BudgetSkips      int64 // bidders not called: their account could not afford the floors (StatusBudgetExhausted)
	BudgetRefusals   int64 // reservations refused for lack of budget (LossBudget)
	UnknownAccounts  int64 // reservations for an account the ledger has no budget for (LossUnknownAccount, or let through)
	LedgerErrors     int64 // reservations the ledger failed (LossLedgerUnavailable; fail closed: not spent)
	ReserveNoTime    int64 // reservations not tried for lack of time (LossNoTimeToReserve)
	BudgetPending    int64 // reservations refused for money not available yet (LossBudgetPending)
	EventWriteErrors int64 // batches of events the sink refused (full or closed)
}

type stats struct {
	auctions     atomic.Int64
	invalid      atomic.Int64
	noCurrency   atomic.Int64
	profiles     [ProfileTimeout + 1]atomic.Int64 // by ProfileOutcome
	seatRefusals atomic.Int64
	budgetSkips  atomic.Int64
	refusals     atomic.Int64
	unknown      atomic.Int64
	ledger       atomic.Int64
	noTime       atomic.Int64
	pending      atomic.Int64
	eventWrites  atomic.Int64
}

// reserveLoss counts a reservation that failed with err and returns the
// loss reason of its bid.
func (s *stats) reserveLoss(err error) openrtb3.LossReason {
	switch {
	case errors.Is(err, ErrNoTime), errors.Is(err, context.DeadlineExceeded):
		s.noTime.Add(1)
		return LossNoTimeToReserve
	case errors.Is(err, ErrBudgetExhausted):
		s.refusals.Add(1)
		return LossBudget
	case errors.Is(err, ErrUnknownAccount):
		s.unknown.Add(1)
		return LossUnknownAccount
	case errors.Is(err, ErrBudgetPending):
		s.pending.Add(1)
		return LossBudgetPending
	}
	s.ledger.Add(1)
	return LossLedgerUnavailable
}

func (s *stats) profile(o ProfileOutcome) { s.profiles[o].Add(1) }

// Stats returns the Auction's counters.
func (a *Auction) Stats() Stats {
	s := &a.stats
	return Stats{
		Auctions:         s.auctions.Load(),
		InvalidRequests:  s.invalid.Load(),
		NoCurrency:       s.noCurrency.Load(),
		ProfileHits:      s.profiles[ProfileHit].Load(),
		ProfileMisses:    s.profiles[ProfileMiss].Load(),
		ProfileNoKey:     s.profiles[ProfileNoKey].Load(),
		ProfileErrors:    s.profiles[ProfileError].Load(),
		ProfileTimeouts:  s.profiles[ProfileTimeout].Load(),
		SeatRefusals:     s.seatRefusals.Load(),
		BudgetSkips:      s.budgetSkips.Load(),
		BudgetRefusals:   s.refusals.Load(),
		UnknownAccounts:  s.unknown.Load(),
		LedgerErrors:     s.ledger.Load(),
		ReserveNoTime:    s.noTime.Load(),
		BudgetPending:    s.pending.Load(),
		EventWriteErrors: s.eventWrites.Load(),
	}
}
