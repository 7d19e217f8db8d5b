package gavel

import "sync/atomic"

// Stats are an Auction's counters since New, for what hooks would otherwise
// have to count: lookups that failed, money the budget refused. Read them
// with Auction.Stats.
type Stats struct {
	Auctions        int64 // calls of Run that passed validation
	ProfileHits     int64
	ProfileMisses   int64
	ProfileNoKey    int64
	ProfileErrors   int64
	ProfileTimeouts int64
}

type stats struct {
	auctions atomic.Int64
	profiles [ProfileTimeout + 1]atomic.Int64 // by ProfileOutcome
}

func (s *stats) profile(o ProfileOutcome) { s.profiles[o].Add(1) }

// Stats returns the Auction's counters.
func (a *Auction) Stats() Stats {
	s := &a.stats
	return Stats{
		Auctions:        s.auctions.Load(),
		ProfileHits:     s.profiles[ProfileHit].Load(),
		ProfileMisses:   s.profiles[ProfileMiss].Load(),
		ProfileNoKey:    s.profiles[ProfileNoKey].Load(),
		ProfileErrors:   s.profiles[ProfileError].Load(),
		ProfileTimeouts: s.profiles[ProfileTimeout].Load(),
	}
}
