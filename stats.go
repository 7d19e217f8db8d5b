package gavel

import (
	"errors"
	"sync/atomic"
)

// Stats are an Auction's counters since New, for what hooks would otherwise
// have to count: lookups that failed, money the budget refused. Read them
// with Auction.Stats.
type Stats struct {
	Auctions         int64 // calls of Run that passed validation
	ProfileHits      int64
	ProfileMisses    int64
	ProfileNoKey     int64
	ProfileErrors    int64
	ProfileTimeouts  int64
	BudgetRefusals   int64 // reservations refused for lack of budget
	LedgerErrors     int64 // reservations the ledger failed (fail closed: not spent)
	EventWriteErrors int64 // batches of events the sink refused (full or closed)
}

type stats struct {
	auctions    atomic.Int64
	profiles    [ProfileTimeout + 1]atomic.Int64 // by ProfileOutcome
	refusals    atomic.Int64
	ledger      atomic.Int64
	eventWrites atomic.Int64
}

func (s *stats) reserveFailed(err error) {
	if errors.Is(err, ErrBudgetExhausted) {
		s.refusals.Add(1)
	} else {
		s.ledger.Add(1)
	}
}

func (s *stats) profile(o ProfileOutcome) { s.profiles[o].Add(1) }

// Stats returns the Auction's counters.
func (a *Auction) Stats() Stats {
	s := &a.stats
	return Stats{
		Auctions:         s.auctions.Load(),
		ProfileHits:      s.profiles[ProfileHit].Load(),
		ProfileMisses:    s.profiles[ProfileMiss].Load(),
		ProfileNoKey:     s.profiles[ProfileNoKey].Load(),
		ProfileErrors:    s.profiles[ProfileError].Load(),
		ProfileTimeouts:  s.profiles[ProfileTimeout].Load(),
		BudgetRefusals:   s.refusals.Load(),
		LedgerErrors:     s.ledger.Load(),
		EventWriteErrors: s.eventWrites.Load(),
	}
}
