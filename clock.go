package gavel

import "time"

// A Clock tells the time for bidder health windows and pacing. Deadlines
// do not use it: they follow real time through contexts. The auctiontest
// package has a clock that tests move by hand.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
