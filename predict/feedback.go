package predict

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// Defaults of WithBidMemory.
const (
	// DefaultBidMemory is how many bids a Predictor with a Learner
	// remembers the features of, waiting on their billing.
	DefaultBidMemory = 1 << 16
	// DefaultBidTTL is how long after its bid a billed impression is
	// still learned.
	DefaultBidTTL = 10 * time.Minute
)

// bidShards is the number of independently locked parts of a bidMemory.
const bidShards = 16

// advanceEvery is how often, on the Predictor's clock, Billed closes the
// Learner's windows.
const advanceEvery = time.Second

var (
	_ campaign.BidObserver = (*Predictor)(nil)
)

// WithLearner makes the Predictor feed l from live traffic: as a
// campaign.BidObserver it keeps the features of every bid the Bidder makes
// (ObserveBid), and as a gavelhttp.BilledHook it gives them to l.Shown
// when the impression is billed (Billed), then closes the windows due on
// its clock (l.Advance, at most once a second). l's models should be the
// ones the Predictor serves. Register the Learner itself as the Tracker's
// click and conversion hook. Default: none, and ObserveBid and Billed do
// nothing.
func WithLearner(l *Learner) PredictorOption {
	return predictorOption(func(p *Predictor) {
		p.learner = l
		if l == nil {
			p.errs = append(p.errs, fmt.Errorf("%w: predict: nil learner", gavel.ErrInvalidOption))
		}
	})
}

// WithBidMemory bounds what a Predictor with a Learner keeps from bid time
// to billing: the features of at most n bids (the oldest are forgotten
// first, counted FeedbackStats.Overwritten when they were younger than
// ttl), and only for ttl after the bid (a later billing is counted
// Expired and not learned). Memory is n × Extractor.MaxFeatures × 4 bytes,
// allocated by NewPredictor: 13.6 MB at the defaults. Size n to the bids
// made over the longest delay from bid to billing. Default
// DefaultBidMemory, DefaultBidTTL.
func WithBidMemory(n int, ttl time.Duration) PredictorOption {
	return predictorOption(func(p *Predictor) {
		p.memSize, p.memTTL = n, ttl
		if n < bidShards {
			p.errs = append(p.errs, fmt.Errorf("%w: predict: bid memory %d under %d", gavel.ErrInvalidOption, n, bidShards))
		}
		if ttl <= 0 {
			p.errs = append(p.errs, fmt.Errorf("%w: predict: bid ttl %v not positive", gavel.ErrInvalidOption, ttl))
		}
	})
}

// FeedbackStats count what a Predictor with a Learner did with bids and
// billings since it was created.
type FeedbackStats struct {
	Observed    int64 // bids whose features were kept (ObserveBid)
	Shown       int64 // billed impressions given to the Learner
	Unknown     int64 // billings of no bid kept: another bidder's, a repeat, or forgotten
	Expired     int64 // billings later than the TTL after their bid: not learned
	Overwritten int64 // bids forgotten younger than the TTL, to stay within the memory
}

// ObserveBid implements campaign.BidObserver: with a Learner, it keeps
// the features of the bid's (imp, campaign, creative) at the clock's now
// until Billed asks for them. It does not allocate once warm.
func (p *Predictor) ObserveBid(bidID string, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *campaign.Campaign, cr *campaign.Creative, _ campaign.Prediction) {
	if p.bids == nil {
		return
	}
	now := p.clock.Now()
	var buf [maxStackFeatures]uint32
	f := p.x.Extract(buf[:0], req, imp, c, cr, now)
	p.bids.put(bidID, f, now.UnixNano())
}

// Billed implements gavelhttp.BilledHook: with a Learner, the billed bid's
// features kept by ObserveBid become an impression of the Learner
// (Learner.Shown at the clock's now), and the Learner's windows due are
// closed. Register the Predictor with gavelhttp.WithNoticesHooks, or call
// Billed where the embedder commits a billing.
func (p *Predictor) Billed(bl gavel.Billing, _ int64) {
	if p.bids == nil {
		return
	}
	now := p.clock.Now()
	var buf [maxStackFeatures]uint32
	f, ok := p.bids.take(bl.BidID, buf[:0], now.UnixNano())
	if !ok {
		return
	}
	p.learner.Shown(bl.BidID, f, now)
	p.fed.shown.Add(1)
	if next := p.nextAdvance.Load(); now.UnixNano() >= next && p.nextAdvance.CompareAndSwap(next, now.Add(advanceEvery).UnixNano()) {
		p.learner.Advance(now)
	}
}

// FeedbackStats returns the counts of the bids kept and billed; zero
// without a Learner.
func (p *Predictor) FeedbackStats() FeedbackStats {
	if p.bids == nil {
		return FeedbackStats{}
	}
	s := FeedbackStats{Shown: p.fed.shown.Load()}
	for i := range p.bids.shards {
		sh := &p.bids.shards[i]
		sh.mu.Lock()
		s.Observed += sh.observed
		s.Unknown += sh.unknown
		s.Expired += sh.expired
		s.Overwritten += sh.overwritten
		sh.mu.Unlock()
	}
	return s
}

type feedbackCounters struct {
	shown atomic.Int64
}

// bidMemory maps bid ids to their features, in shards each of which is a
// ring of fixed-size slots, so that keeping a bid allocates nothing: the
// newest bid takes the slot of the oldest.
type bidMemory struct {
	ttl    int64 // nanoseconds
	width  int   // features per slot
	shards [bidShards]bidShard
}

type bidShard struct {
	mu                                      sync.Mutex
	idx                                     map[string]int32 // bid id -> slot
	slots                                   []bidSlot
	feats                                   []uint32 // width per slot
	next                                    int      // the slot the next bid takes
	observed, unknown, expired, overwritten int64
	_                                       [64]byte // keeps shards' locks off one cache line
}

type bidSlot struct {
	id string // "" when free
	at int64  // Unix nanoseconds of the bid
	n  int32  // features
}

func newBidMemory(n int, ttl time.Duration, width int) *bidMemory {
	m := &bidMemory{ttl: int64(ttl), width: width}
	per := (n + bidShards - 1) / bidShards
	for i := range m.shards {
		sh := &m.shards[i]
		sh.idx = make(map[string]int32, per)
		sh.slots = make([]bidSlot, per)
		sh.feats = make([]uint32, per*width)
	}
	return m
}

func (m *bidMemory) shard(id string) *bidShard {
	return &m.shards[xxhash.Sum64String(id)%bidShards]
}

// put keeps f for id at time at (nanoseconds); f longer than the width is
// cut.
func (m *bidMemory) put(id string, f []uint32, at int64) {
	sh := m.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.observed++
	if k, dup := sh.idx[id]; dup {
		sh.slots[k] = bidSlot{}
		delete(sh.idx, id)
	}
	k := sh.next
	sh.next = (k + 1) % len(sh.slots)
	s := &sh.slots[k]
	if s.id != "" {
		delete(sh.idx, s.id)
		if at-s.at < m.ttl {
			sh.overwritten++
		}
	}
	n := copy(sh.feats[k*m.width:(k+1)*m.width], f)
	*s = bidSlot{id: id, at: at, n: int32(n)}
	sh.idx[id] = int32(k)
}

// take forgets id and appends its features to dst; false if id is not
// kept or is older than the TTL at now.
func (m *bidMemory) take(id string, dst []uint32, now int64) ([]uint32, bool) {
	sh := m.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k, ok := sh.idx[id]
	if !ok {
		sh.unknown++
		return dst, false
	}
	delete(sh.idx, id)
	s := &sh.slots[k]
	at, n := s.at, int(s.n)
	*s = bidSlot{}
	if now-at > m.ttl {
		sh.expired++
		return dst, false
	}
	start := int(k) * m.width
	return append(dst, sh.feats[start:start+n]...), true
}
