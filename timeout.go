package gavel

import (
	"context"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// A Clock tells the time for bidder health windows and pacing. Deadlines
// do not use it: they follow real time through contexts. The auctiontest
// package has a clock that tests move by hand.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// auctionTime is the time the request may use: its tmax, or the default for
// a missing tmax, capped by the maximum.
func (a *Auction) auctionTime(req *openrtb2.BidRequest) time.Duration {
	d := a.cfg.defaultTMax
	if req.TMax > 0 {
		d = time.Duration(req.TMax) * time.Millisecond
	}
	return min(d, a.cfg.maxTMax)
}

// deadline is when Run returns: the earliest of the ctx deadline and start +
// tmax, less the reserve kept for the caller. The fan-out ends the clearing
// time (WithClearingTime) before it.
func (a *Auction) deadline(ctx context.Context, req *openrtb2.BidRequest, start time.Time) time.Time {
	d := start.Add(a.auctionTime(req))
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return d.Add(-a.cfg.reserve)
}

// bidderDeadline is when the bidder's own time ends: the fan-out deadline,
// or earlier when the bidder's timeout says so.
func (s *bidderSlot) deadline(fanout, now time.Time) time.Time {
	if s.timeout > 0 {
		if d := now.Add(s.timeout); d.Before(fanout) {
			return d
		}
	}
	return fanout
}

// tmaxMillis is the tmax sent to a bidder that has until deadline: the whole
// milliseconds left, never less than 1.
func tmaxMillis(deadline, now time.Time) int64 {
	return max(int64(deadline.Sub(now)/time.Millisecond), 1)
}

// NonBlocking is an optional capability of the stores Run calls: a
// ProfileStore, Ledger or EventSink whose methods never wait on I/O or on
// other goroutines (beyond a short lock) marks itself with a NonBlocking
// method. Run then calls it directly, without the goroutine or the deadline
// context it otherwise spends so that a slow store cannot hold the auction
// past its deadline. MemoryProfileStore, MemoryLedger and AsyncSink have it;
// a store that has it and blocks all the same delays Run.
type NonBlocking interface {
	NonBlocking()
}
