package gavel

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// BidderHealth is a bidder's record over the health window (WithHealthWindow):
// how often it was called and how it answered. Read it with Auction.Health.
type BidderHealth struct {
	Bidder    string
	Calls     int64 // calls made in the window
	Bids      int64 // calls answered with at least one bid
	NoBids    int64 // calls answered with no bid
	Timeouts  int64 // calls not answered by their deadline
	Errors    int64 // calls that failed: error, panic or invalid response
	Throttled int64 // auctions the bidder was left out of by throttling

	LatencyMean time.Duration // mean latency of the calls in the window
	LatencyP50  time.Duration // latency quantiles, to the upper bound of a histogram bucket
	LatencyP95  time.Duration
	LatencyP99  time.Duration

	// FailureRate is (Timeouts+Errors)/Calls, 0 without calls.
	FailureRate float64
	// CallRate is the fraction of auctions the bidder is called for now:
	// 1 unless throttling holds it back.
	CallRate float64
}

// Throttle configures throttling of unhealthy bidders (WithThrottling). A
// bidder is unhealthy when at least MinCalls calls in the health window
// failed (timed out, errored) at a rate above MaxFailureRate. An unhealthy
// bidder is called for only MinCallRate of the auctions, picked by a hash of
// the auction id, so the same request always gives the same choice. Those
// probe calls keep measuring it: once its failure rate falls to half of
// MaxFailureRate or less, or the window holds no calls at all, it is healthy
// again and called for every auction. Left out auctions report
// StatusThrottled.
type Throttle struct {
	MaxFailureRate float64 // in (0, 1); default 0.5
	MinCalls       int64   // at least 1; default 20
	MinCallRate    float64 // in (0, 1]; default 0.1
}

// Defaults of the Throttle's fields, used for a field left 0.
const (
	DefaultMaxFailureRate = 0.5
	DefaultMinCalls       = 20
	DefaultMinCallRate    = 0.1
)

// validate fills in the defaults of the fields left 0 and records the
// fields out of range.
func (t *Throttle) validate(errs *optionErrors) {
	if t.MaxFailureRate == 0 {
		t.MaxFailureRate = DefaultMaxFailureRate
	}
	if t.MinCalls == 0 {
		t.MinCalls = DefaultMinCalls
	}
	if t.MinCallRate == 0 {
		t.MinCallRate = DefaultMinCallRate
	}
	if !(t.MaxFailureRate > 0 && t.MaxFailureRate < 1) {
		errs.fail("throttle max failure rate must be in (0, 1), got %v", t.MaxFailureRate)
	}
	if t.MinCalls < 1 {
		errs.fail("throttle min calls must be at least 1, got %d", t.MinCalls)
	}
	if !(t.MinCallRate > 0 && t.MinCallRate <= 1) {
		errs.fail("throttle min call rate must be in (0, 1], got %v", t.MinCallRate)
	}
}

const (
	healthBuckets = 10 // the window is split into this many buckets
	latencyBins   = 16
)

// latencyBounds are the upper bounds of the latency histogram bins; the last
// bin has no bound.
var latencyBounds = [latencyBins - 1]time.Duration{
	1 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond,
	8 * time.Millisecond, 12 * time.Millisecond, 18 * time.Millisecond, 27 * time.Millisecond,
	40 * time.Millisecond, 60 * time.Millisecond, 90 * time.Millisecond, 135 * time.Millisecond,
	200 * time.Millisecond, 300 * time.Millisecond, 500 * time.Millisecond,
}

type healthBucket struct {
	epoch                                 int64 // bucket number since the Unix epoch
	calls, bids, noBids, timeouts, errors int64
	throttled                             int64
	latencySum                            time.Duration
	hist                                  [latencyBins]int64
}

// health keeps one bidder's sliding window: a ring of buckets, each a
// window/healthBuckets wide, and the throttling state derived from it.
type health struct {
	width    time.Duration
	throttle *Throttle // nil: never throttled

	mu        sync.Mutex
	ring      [healthBuckets]healthBucket
	unhealthy bool
	evaluated int64 // epoch of the last throttle evaluation

	callRate atomic.Uint64 // float64 bits; read on every auction without the lock
}

func newHealth(window time.Duration, t *Throttle) *health {
	h := &health{width: window / healthBuckets, throttle: t}
	h.callRate.Store(math.Float64bits(1))
	return h
}

// epoch returns the number of the bucket that holds now, counted from the
// Unix epoch. It rounds down, so that a clock before 1970 (a test clock at
// the zero time) gets buckets too.
func (h *health) epoch(now time.Time) int64 {
	ns, w := now.UnixNano(), int64(h.width)
	e := ns / w
	if ns%w < 0 {
		e--
	}
	return e
}

func (h *health) bucket(now time.Time) *healthBucket {
	epoch := h.epoch(now)
	b := &h.ring[(epoch%healthBuckets+healthBuckets)%healthBuckets]
	if b.epoch != epoch {
		*b = healthBucket{epoch: epoch}
	}
	return b
}

// record adds one call's outcome to the window.
func (h *health) record(now time.Time, st BidderStatus, latency time.Duration) {
	h.mu.Lock()
	b := h.bucket(now)
	switch st {
	case StatusThrottled:
		b.throttled++
		h.mu.Unlock()
		return
	case StatusBid:
		b.bids++
	case StatusNoBid:
		b.noBids++
	case StatusTimeout:
		b.timeouts++
	default:
		b.errors++
	}
	b.calls++
	b.latencySum += latency
	b.hist[latencyBin(latency)]++
	if h.throttle != nil && h.evaluated != b.epoch {
		h.evaluated = b.epoch
		h.evaluate(now)
	}
	h.mu.Unlock()
}

func latencyBin(d time.Duration) int {
	for i, ub := range latencyBounds {
		if d <= ub {
			return i
		}
	}
	return latencyBins - 1
}

// sum adds up the buckets inside the window ending at now. h.mu is held.
func (h *health) sum(now time.Time) healthBucket {
	epoch := h.epoch(now)
	var s healthBucket
	for i := range h.ring {
		b := &h.ring[i]
		if b.epoch <= epoch-healthBuckets || b.epoch > epoch {
			continue
		}
		s.calls += b.calls
		s.bids += b.bids
		s.noBids += b.noBids
		s.timeouts += b.timeouts
		s.errors += b.errors
		s.throttled += b.throttled
		s.latencySum += b.latencySum
		for j := range b.hist {
			s.hist[j] += b.hist[j]
		}
	}
	return s
}

// evaluate updates the throttling state from the window, with hysteresis so
// that a bidder near the threshold does not flap. h.mu is held.
func (h *health) evaluate(now time.Time) {
	s := h.sum(now)
	t := h.throttle
	switch {
	case s.calls == 0:
		h.unhealthy = false
	case s.calls >= t.MinCalls:
		rate := float64(s.timeouts+s.errors) / float64(s.calls)
		if h.unhealthy {
			h.unhealthy = rate > t.MaxFailureRate/2
		} else {
			h.unhealthy = rate > t.MaxFailureRate
		}
	}
	rate := 1.0
	if h.unhealthy {
		rate = t.MinCallRate
	}
	h.callRate.Store(math.Float64bits(rate))
}

// allow reports whether the bidder takes part in the auction whose hash is
// given. It reads one atomic; the clock is consulted only when throttling
// is on, so that a throttled bidder that gets no calls recovers when the
// window empties.
func (h *health) allow(now time.Time, auctionHash uint64) bool {
	if h.throttle == nil {
		return true
	}
	rate := math.Float64frombits(h.callRate.Load())
	if rate >= 1 {
		return true
	}
	if epoch := h.epoch(now); h.mu.TryLock() {
		if h.evaluated != epoch {
			h.evaluated = epoch
			h.evaluate(now)
			rate = math.Float64frombits(h.callRate.Load())
		}
		h.mu.Unlock()
	}
	// The top 53 bits of the hash as a uniform number in [0, 1).
	return float64(auctionHash>>11)/(1<<53) < rate
}

func (h *health) snapshot(name string, now time.Time) BidderHealth {
	h.mu.Lock()
	s := h.sum(now)
	h.mu.Unlock()
	out := BidderHealth{
		Bidder: name, Calls: s.calls, Bids: s.bids, NoBids: s.noBids,
		Timeouts: s.timeouts, Errors: s.errors, Throttled: s.throttled,
		CallRate: math.Float64frombits(h.callRate.Load()),
	}
	if s.calls > 0 {
		out.LatencyMean = s.latencySum / time.Duration(s.calls)
		out.FailureRate = float64(s.timeouts+s.errors) / float64(s.calls)
		out.LatencyP50 = quantile(&s.hist, s.calls, 0.50)
		out.LatencyP95 = quantile(&s.hist, s.calls, 0.95)
		out.LatencyP99 = quantile(&s.hist, s.calls, 0.99)
	}
	return out
}

// quantile returns the upper bound of the bin holding the q quantile; for
// the last, unbounded bin it returns twice the last bound.
func quantile(hist *[latencyBins]int64, n int64, q float64) time.Duration {
	rank := int64(math.Ceil(q * float64(n)))
	var seen int64
	for i, c := range hist {
		seen += c
		if seen >= rank {
			if i < len(latencyBounds) {
				return latencyBounds[i]
			}
			break
		}
	}
	return 2 * latencyBounds[len(latencyBounds)-1]
}
