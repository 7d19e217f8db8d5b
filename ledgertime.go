package gavel

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ledgerTimer follows how long a Ledger that is not NonBlocking takes to
// answer Run's reservations, so that the clearing time, the time Run keeps
// after the fan-out for clearing and reserving, follows it too (see
// WithClearingTime): a remote ledger gets the time it needs, and bidders
// no more time than that leaves them.
//
// It keeps the last ledgerTimeSamples call durations and, every
// ledgerTimeEvery calls, sets the clearing time to twice their 99th
// percentile (room for a second round of reservations, for the imps whose
// best bid was refused) plus DefaultClearingTime, within
// [DefaultClearingTime, MaxClearingTime]. Until it has seen
// ledgerTimeEvery calls the clearing time is DefaultRemoteClearingTime.
type ledgerTimer struct {
	mu       sync.Mutex
	samples  [ledgerTimeSamples]time.Duration
	n        int          // calls recorded
	clearing atomic.Int64 // the clearing time in force, nanoseconds; 0: none measured yet
}

const (
	ledgerTimeSamples = 256
	ledgerTimeEvery   = 32
)

// record adds the duration of one call to the Ledger.
func (t *ledgerTimer) record(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.samples[t.n%ledgerTimeSamples] = d
	t.n++
	if t.n%ledgerTimeEvery != 0 {
		return
	}
	sorted := t.samples // a copy, on the stack
	window := sorted[:min(t.n, ledgerTimeSamples)]
	slices.Sort(window)
	p99 := window[(len(window)*99+99)/100-1]
	t.clearing.Store(int64(min(max(2*p99+DefaultClearingTime, DefaultClearingTime), MaxClearingTime)))
}

// clearingTime returns the clearing time the calls seen so far call for.
func (t *ledgerTimer) clearingTime() time.Duration {
	if d := t.clearing.Load(); d > 0 {
		return time.Duration(d)
	}
	return DefaultRemoteClearingTime
}

// clearingTime is the time Run keeps after the fan-out: WithClearingTime's
// when it was given or the Ledger never blocks, otherwise what the
// ledger's observed latency calls for.
func (a *Auction) clearingTime() time.Duration {
	if a.cfg.clearingFixed || a.cfg.ledger == nil {
		return a.cfg.clearingTime
	}
	if _, ok := a.cfg.ledger.(NonBlocking); ok {
		return a.cfg.clearingTime
	}
	return a.ledgerTime.clearingTime()
}
