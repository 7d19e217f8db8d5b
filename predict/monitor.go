package predict

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelrtb/gavel"
)

// A Monitor watches one model's predictions against the labels that came
// true, over a sliding window of time: log loss, normalised entropy, base
// rate, calibration overall and per bucket of prediction, and AUC on a
// bounded sample. Create it with NewMonitor; the zero value is not usable.
// Its methods are safe for concurrent use.
//
// The window is a ring of slots of equal length (WithMonitorWindow); an
// observation goes to the slot of its time on the Monitor's clock, and a
// slot is cleared when its time comes round again. A Snapshot covers the
// slots of the last window: the current slot, partly filled, and the ones
// before it, so between window-window/slots and window of time. Memory is
// fixed at creation.
//
// Observe checks for drift every WithMonitorCheckEvery observations and
// calls the StatsHooks at most once per WithMonitorStatsInterval, on the
// goroutine of the Observe that reaches the count or the time (see
// WithMonitorHooks). A Monitor starts no goroutine.
type Monitor struct {
	model      string
	clock      gavel.Clock
	slotNanos  int64
	slots      []monitorSlot
	checkEvery uint64

	count    atomic.Uint64 // valid observations since creation
	rejected atomic.Int64  // invalid observations since creation

	statsHooks []StatsHook
	nextStats  atomic.Int64 // unix nanos of the next StatsHook call
	statsEvery int64

	drift driftState

	snapMu  sync.Mutex
	scratch []monitorSample // merged reservoirs, reused by Snapshot
}

// monitorSlot is one slot of the window: the sums of its observations and
// a reservoir sample of them for AUC.
type monitorSlot struct {
	mu    sync.Mutex
	epoch int64 // slot number since the Unix epoch; emptySlot: never used
	sums  monitorSums

	sample []monitorSample // reservoir, at most cap(sample)
	rng    rand.PCG
}

// monitorSums are the additive sums of a set of observations.
type monitorSums struct {
	n, positives       int64
	w, wPos, wP, wLoss float64 // weights; of positives; weighted p; weighted log loss
	buckets            [MonitorBuckets]bucketSums
}

type bucketSums struct {
	n           int64
	w, wP, wPos float64
}

type monitorSample struct {
	p, w     float64
	positive bool
}

// NewMonitor returns a Monitor of the named model. It returns an error
// wrapping gavel.ErrInvalidOption, naming every problem at once, when the
// name is empty or an option is out of range.
func NewMonitor(model string, opts ...MonitorOption) (*Monitor, error) {
	cfg := defaultMonitorConfig()
	if model == "" {
		cfg.fail("monitor model name must not be empty")
	}
	for _, o := range opts {
		o.applyMonitor(&cfg)
	}
	cfg.validate()
	if err := cfg.err(); err != nil {
		return nil, err
	}
	m := &Monitor{
		model:      model,
		clock:      cfg.clock,
		slotNanos:  int64(cfg.window) / int64(cfg.slots),
		slots:      make([]monitorSlot, cfg.slots),
		checkEvery: uint64(cfg.checkEvery),
		statsHooks: cfg.statsHooks,
		statsEvery: int64(cfg.statsInterval),
		scratch:    make([]monitorSample, 0, cfg.sample+cfg.slots),
	}
	m.drift.init(&cfg)
	perSlot := (cfg.sample + cfg.slots - 1) / cfg.slots
	for i := range m.slots {
		s := &m.slots[i]
		s.epoch = emptySlot
		s.sample = make([]monitorSample, 0, perSlot)
		s.rng.Seed(uint64(i)+1, 0x9e3779b97f4a7c15)
	}
	if len(m.statsHooks) > 0 {
		m.nextStats.Store(m.clock.Now().UnixNano() + m.statsEvery)
	}
	return m, nil
}

// Model returns the name the Monitor was created with.
func (m *Monitor) Model() string { return m.model }

// Observe records a prediction p, in (0, 1), and whether the event it
// predicted happened, with an importance weight: 1 for an example kept
// with certainty, 1/r for a negative kept by subsampling at rate r. An
// observation with p outside (0, 1) or a weight that is not positive and
// finite is not recorded; it is counted in MonitorStats.Rejected. Observe
// allocates nothing; it may call the hooks (see Monitor).
func (m *Monitor) Observe(p float64, positive bool, weight float64) {
	if !(p > 0 && p < 1) || !(weight > 0) || math.IsInf(weight, 1) {
		m.rejected.Add(1)
		return
	}
	now := m.clock.Now().UnixNano()
	epoch := now / m.slotNanos
	s := &m.slots[m.index(epoch)]
	s.mu.Lock()
	if s.epoch < epoch {
		s.reset(epoch)
	}
	s.add(p, positive, weight)
	s.mu.Unlock()
	if n := m.count.Add(1); n%m.checkEvery == 0 {
		m.checkDrift(now)
	}
	if len(m.statsHooks) > 0 {
		m.maybeStats(now)
	}
}

func (s *monitorSlot) reset(epoch int64) {
	s.epoch = epoch
	s.sums = monitorSums{}
	s.sample = s.sample[:0]
}

func (s *monitorSlot) add(p float64, positive bool, w float64) {
	loss := -math.Log1p(-p)
	if positive {
		loss = -math.Log(p)
	}
	b := &s.sums.buckets[bucketOf(p)]
	s.sums.n++
	b.n++
	s.sums.w += w
	b.w += w
	s.sums.wP += w * p
	b.wP += w * p
	s.sums.wLoss += w * loss
	if positive {
		s.sums.positives++
		s.sums.wPos += w
		b.wPos += w
	}
	// Reservoir sampling (Vitter's algorithm R) over the slot's observations.
	x := monitorSample{p: p, w: w, positive: positive}
	if len(s.sample) < cap(s.sample) {
		s.sample = append(s.sample, x)
	} else if j := s.rng.Uint64() % uint64(s.sums.n); j < uint64(len(s.sample)) {
		s.sample[j] = x
	}
}

func (a *monitorSums) merge(b *monitorSums) {
	a.n += b.n
	a.positives += b.positives
	a.w += b.w
	a.wPos += b.wPos
	a.wP += b.wP
	a.wLoss += b.wLoss
	for i := range a.buckets {
		x, y := &a.buckets[i], &b.buckets[i]
		x.n += y.n
		x.w += y.w
		x.wP += y.wP
		x.wPos += y.wPos
	}
}

// emptySlot is the epoch of a slot never used.
const emptySlot = math.MinInt64

// index returns the slot of epoch e, which is negative before 1970.
func (m *Monitor) index(e int64) int {
	i := int(e % int64(len(m.slots)))
	if i < 0 {
		i += len(m.slots)
	}
	return i
}

// live reports whether slot epoch e is in the window that ends in slot cur.
func (m *Monitor) live(e, cur int64) bool {
	return e != emptySlot && e <= cur && e > cur-int64(len(m.slots))
}

// sums adds up the slots of the window that ends at now, and when sample
// is true gathers their reservoirs into m.scratch, each sample weighted by
// the observations it stands for. The caller holds snapMu if sample is true.
func (m *Monitor) sums(now int64, sample bool) (monitorSums, time.Duration) {
	cur := now / m.slotNanos
	var total monitorSums
	oldest := cur
	if sample {
		m.scratch = m.scratch[:0]
	}
	for i := range m.slots {
		s := &m.slots[i]
		s.mu.Lock()
		if m.live(s.epoch, cur) && s.sums.n > 0 {
			total.merge(&s.sums)
			oldest = min(oldest, s.epoch)
			if sample {
				scale := float64(s.sums.n) / float64(len(s.sample))
				for _, x := range s.sample {
					x.w *= scale
					m.scratch = append(m.scratch, x)
				}
			}
		}
		s.mu.Unlock()
	}
	span := time.Duration(0)
	if total.n > 0 {
		span = time.Duration(now - oldest*m.slotNanos)
	}
	return total, span
}

// Snapshot returns the statistics of the window that ends now. It takes
// each slot's lock in turn, so it sees every observation that returned
// before it was called, and costs a sort of the AUC sample
// (WithMonitorSample). It calls no hook.
func (m *Monitor) Snapshot() MonitorStats {
	m.snapMu.Lock()
	defer m.snapMu.Unlock()
	sums, span := m.sums(m.clock.Now().UnixNano(), true)
	st := m.stats(&sums, span)
	st.AUC, st.AUCSample = weightedAUC(m.scratch), len(m.scratch)
	return st
}

// stats turns sums into statistics, AUC aside.
func (m *Monitor) stats(s *monitorSums, span time.Duration) MonitorStats {
	st := MonitorStats{
		Window:            span,
		Observations:      s.n,
		Positives:         s.positives,
		Rejected:          m.rejected.Load(),
		Weight:            s.w,
		PositiveWeight:    s.wPos,
		LogLoss:           math.NaN(),
		BaseRate:          math.NaN(),
		MeanPrediction:    math.NaN(),
		NormalizedEntropy: math.NaN(),
		Calibration:       math.NaN(),
		AUC:               math.NaN(),
	}
	if s.w > 0 {
		st.LogLoss = s.wLoss / s.w
		st.BaseRate = s.wPos / s.w
		st.MeanPrediction = s.wP / s.w
		if h := entropy(st.BaseRate); h > 0 {
			st.NormalizedEntropy = st.LogLoss / h
		}
		if s.wPos > 0 {
			st.Calibration = s.wP / s.wPos
		}
	}
	for i := range st.Buckets {
		st.Buckets[i] = s.buckets[i].stats(i)
	}
	return st
}

func (b *bucketSums) stats(i int) CalibrationBucket {
	lo, hi := BucketBounds(i)
	c := CalibrationBucket{
		Min: lo, Max: hi, Observations: b.n, Weight: b.w,
		MeanPrediction: math.NaN(), Rate: math.NaN(), Calibration: math.NaN(),
	}
	if b.w > 0 {
		c.MeanPrediction = b.wP / b.w
		c.Rate = b.wPos / b.w
		if b.wPos > 0 {
			c.Calibration = b.wP / b.wPos
		}
	}
	return c
}

// entropy returns the binary entropy of rate r, in nats.
func entropy(r float64) float64 {
	if !(r > 0 && r < 1) {
		return 0
	}
	return -(r*math.Log(r) + (1-r)*math.Log1p(-r))
}

// maybeStats calls the StatsHooks if their time has come; of concurrent
// callers, one wins the time.
func (m *Monitor) maybeStats(now int64) {
	next := m.nextStats.Load()
	if now < next || !m.nextStats.CompareAndSwap(next, now+m.statsEvery) {
		return
	}
	st := m.Snapshot()
	for _, h := range m.statsHooks {
		h.OnModelStats(m.model, st)
	}
}

// MonitorBuckets is the number of calibration buckets of MonitorStats.
const MonitorBuckets = 10

// bucketEdges are the lower bounds of the calibration buckets 1 to 9:
// half decades from 1e-4 to 0.1, then 0.2 and 0.5.
var bucketEdges = [MonitorBuckets - 1]float64{1e-4, 3.162e-4, 1e-3, 3.162e-3, 1e-2, 3.162e-2, 0.1, 0.2, 0.5}

// BucketBounds returns the range [lo, hi) of predictions of calibration
// bucket i, in 0 to MonitorBuckets-1: bucket 0 holds p below 1e-4, buckets
// 1 to 6 the half decades up to 0.1 (edges 1e-4, 3.162e-4, 1e-3, ...,
// 3.162e-2), then 0.1 to 0.2, 0.2 to 0.5 and 0.5 to 1. Click and
// conversion rates are small, so the buckets are finer near 0.
func BucketBounds(i int) (lo, hi float64) {
	if i < 0 || i >= MonitorBuckets {
		panic(fmt.Sprintf("predict: calibration bucket %d out of range", i))
	}
	if i > 0 {
		lo = bucketEdges[i-1]
	}
	hi = 1
	if i < len(bucketEdges) {
		hi = bucketEdges[i]
	}
	return lo, hi
}

func bucketOf(p float64) int {
	i := 0
	for i < len(bucketEdges) && p >= bucketEdges[i] {
		i++
	}
	return i
}
