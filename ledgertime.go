package gavel

import (
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
// A sample is the time from the end of the fan-out to the ledger's answer
// (from the call when the fan-out ended early, every bidder having
// answered): what the clearing time must cover, Run's own work and its
// wait for a CPU when many auctions end at once included, not only the
// ledger's round trip.
//
// It keeps the last ledgerTimeSamples samples, rounded up to a multiple of
// ledgerTimeBucket and counted in a histogram of ledgerTimeBuckets buckets
// (the last one holds every longer sample), and every ledgerTimeEvery
// calls sets the clearing time to twice their 99th percentile (room for a
// second round of reservations, for the imps whose best bid was refused),
// plus DefaultClearingTime, within [MinRemoteClearingTime,
// MaxClearingTime]: the floor leaves room for the hiccups of a loaded
// machine (a few milliseconds without a CPU) when the ledger is fast.
// The window is long, thousands of calls, so that the hiccups of a loaded
// machine, which come and go, stay in it. Until it has seen
// ledgerTimeEvery calls the clearing time is DefaultRemoteClearingTime.
type ledgerTimer struct {
	mu       sync.Mutex
	window   [ledgerTimeSamples]uint8 // the bucket of each sample, a ring
	counts   [ledgerTimeBuckets]int32 // samples in the window per bucket
	n        int                      // calls recorded
	clearing atomic.Int64             // the clearing time in force, nanoseconds; 0: none measured yet
}

const (
	ledgerTimeSamples = 2048
	ledgerTimeEvery   = 32
	ledgerTimeBucket  = 125 * time.Microsecond
	// Enough buckets that a 99th percentile in the last one calls for
	// MaxClearingTime.
	ledgerTimeBuckets = int((MaxClearingTime-DefaultClearingTime)/2/ledgerTimeBucket) + 1
)

// record adds one sample.
func (t *ledgerTimer) record(d time.Duration) {
	b := uint8(min(max(int((d+ledgerTimeBucket-1)/ledgerTimeBucket), 0), ledgerTimeBuckets-1))
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.n % ledgerTimeSamples
	if t.n >= ledgerTimeSamples {
		t.counts[t.window[i]]--
	}
	t.window[i] = b
	t.counts[b]++
	t.n++
	if t.n%ledgerTimeEvery != 0 {
		return
	}
	// The 99th percentile: the bucket that holds the sample with 1% of the
	// window (rounded down) above it.
	above := int32(min(t.n, ledgerTimeSamples) / 100)
	p99 := ledgerTimeBuckets - 1
	for ; p99 > 0; p99-- {
		if above -= t.counts[p99]; above < 0 {
			break
		}
	}
	d99 := time.Duration(p99) * ledgerTimeBucket
	t.clearing.Store(int64(min(max(2*d99+DefaultClearingTime, MinRemoteClearingTime), MaxClearingTime)))
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
