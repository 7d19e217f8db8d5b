package predict_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/predict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

var monitorT0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// monRecorder is a StatsHook and a DriftHook that keeps what it is told.
type monRecorder struct {
	mu     sync.Mutex
	stats  []predict.MonitorStats
	drifts []predict.Drift
}

func (r *monRecorder) OnModelStats(model string, s predict.MonitorStats) {
	r.mu.Lock()
	r.stats = append(r.stats, s)
	r.mu.Unlock()
}

func (r *monRecorder) OnDrift(model string, d predict.Drift) {
	r.mu.Lock()
	r.drifts = append(r.drifts, d)
	r.mu.Unlock()
}

func (r *monRecorder) driftKinds() []predict.DriftKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ks []predict.DriftKind
	for _, d := range r.drifts {
		ks = append(ks, d.Kind)
	}
	return ks
}

// monStream feeds n observations of a model whose true rate is drawn
// uniformly in [lo, hi]; predict maps the true rate to the prediction. It
// spreads them evenly over a default window, less a slot, moving clock.
func monStream(m *predict.Monitor, clock *auctiontest.Clock, rng *rand.Rand, n int, lo, hi float64, predict func(q float64) float64) {
	step := monSpread / time.Duration(n)
	for range n {
		q := lo + (hi-lo)*rng.Float64()
		m.Observe(predict(q), rng.Float64() < q, 1)
		clock.Advance(step)
	}
}

// monSpread is the time monStream spreads its observations over.
const monSpread = predict.DefaultMonitorWindow - predict.DefaultMonitorWindow/predict.DefaultMonitorSlots

func monIdentity(q float64) float64 { return q }

func newTestMonitor(t testing.TB, opts ...predict.MonitorOption) (*predict.Monitor, *auctiontest.Clock) {
	t.Helper()
	clock := auctiontest.NewClock(monitorT0)
	m, err := predict.NewMonitor("ctr", append([]predict.MonitorOption{predict.WithMonitorClock(clock)}, opts...)...)
	require.NoError(t, err)
	return m, clock
}

func TestMonitorOptionsAllAtOnce(t *testing.T) {
	_, err := predict.NewMonitor("",
		predict.WithMonitorWindow(0, 0),
		predict.WithMonitorSample(0),
		predict.WithMonitorCheckEvery(0),
		predict.WithMonitorStatsInterval(-time.Second),
		predict.WithCalibrationBand(1.2, 0.8),
		predict.WithEntropyDriftThreshold(math.NaN()),
		predict.WithDriftMinPositives(-1),
		predict.WithMonitorClock(nil),
		predict.WithMonitorHooks(42),
	)
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, want := range []string{
		"model name", "window must be positive", "slots must be", "sample must be", "check interval",
		"stats interval", "calibration band", "entropy drift threshold", "min positives", "clock", "hook int",
	} {
		assert.ErrorContains(t, err, want)
	}
	_, err = predict.NewMonitor("ctr", predict.WithMonitorWindow(time.Second, 2000))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	assert.ErrorContains(t, err, "at least 1ms")
}

func TestMonitorCalibratedPredictor(t *testing.T) {
	m, clock := newTestMonitor(t)
	rng := rand.New(rand.NewPCG(1, 2))
	monStream(m, clock, rng, 300_000, 0.001, 0.2, monIdentity)
	s := m.Snapshot()
	assert.EqualValues(t, 300_000, s.Observations)
	assert.InDelta(t, 1, s.Calibration, 0.02)
	assert.InDelta(t, 0.1005, s.BaseRate, 0.003)
	assert.Less(t, s.NormalizedEntropy, 0.95)
	assert.Greater(t, s.AUC, 0.6)
	assert.InDelta(t, predict.DefaultMonitorSample, s.AUCSample, 300, "a full sample, less the partial slots at the ends")
	for i, b := range s.Buckets {
		if b.Observations > 20_000 {
			assert.InDelta(t, 1, b.Calibration, 0.1, "bucket %d [%v, %v)", i, b.Min, b.Max)
		}
	}
}

func TestMonitorConstantPredictor(t *testing.T) {
	m, clock := newTestMonitor(t)
	rng := rand.New(rand.NewPCG(3, 4))
	monStream(m, clock, rng, 200_000, 0.05, 0.05, monIdentity)
	s := m.Snapshot()
	assert.InDelta(t, 1, s.NormalizedEntropy, 0.01)
	assert.InDelta(t, 1, s.Calibration, 0.03)
	assert.Equal(t, 0.5, s.AUC, "every prediction ties")
}

func TestMonitorEmpty(t *testing.T) {
	m, _ := newTestMonitor(t)
	m.Observe(0, true, 1)
	m.Observe(0.5, true, 0)
	m.Observe(math.NaN(), true, 1)
	m.Observe(0.5, false, math.Inf(1))
	s := m.Snapshot()
	assert.Zero(t, s.Observations)
	assert.EqualValues(t, 4, s.Rejected)
	assert.Zero(t, s.Window)
	for _, v := range []float64{s.LogLoss, s.BaseRate, s.MeanPrediction, s.NormalizedEntropy, s.Calibration, s.AUC} {
		assert.True(t, math.IsNaN(v))
	}
}

func TestMonitorCalibrationDriftOncePerCrossing(t *testing.T) {
	rec := &monRecorder{}
	m, clock := newTestMonitor(t, predict.WithMonitorHooks(rec), predict.WithMonitorCheckEvery(100))
	rng := rand.New(rand.NewPCG(5, 6))
	shifted := func(q float64) float64 { return 1.5 * q }

	monStream(m, clock, rng, 50_000, 0.01, 0.1, monIdentity)
	assert.Empty(t, rec.driftKinds(), "a calibrated model does not drift")

	clock.Advance(predict.DefaultMonitorWindow)
	monStream(m, clock, rng, 50_000, 0.01, 0.1, shifted)
	require.Equal(t, []predict.DriftKind{predict.DriftCalibration}, rec.driftKinds())
	d := rec.drifts[0]
	assert.Equal(t, predict.DefaultCalibrationHigh, d.Limit)
	assert.Greater(t, d.Value, predict.DefaultCalibrationHigh)
	assert.InDelta(t, 1.5, m.Snapshot().Calibration, 0.05)
	assert.True(t, math.IsNaN(d.Baseline), "no baseline set")

	// Back in the band, then out again: a second crossing.
	clock.Advance(predict.DefaultMonitorWindow)
	monStream(m, clock, rng, 50_000, 0.01, 0.1, monIdentity)
	assert.Len(t, rec.driftKinds(), 1)
	clock.Advance(predict.DefaultMonitorWindow)
	monStream(m, clock, rng, 50_000, 0.01, 0.1, func(q float64) float64 { return q / 1.5 })
	require.Equal(t, []predict.DriftKind{predict.DriftCalibration, predict.DriftCalibration}, rec.driftKinds())
	assert.Equal(t, predict.DefaultCalibrationLow, rec.drifts[1].Limit)
}

func TestMonitorEntropyDrift(t *testing.T) {
	rec := &monRecorder{}
	m, clock := newTestMonitor(t, predict.WithMonitorHooks(rec), predict.WithMonitorCheckEvery(100))
	rng := rand.New(rand.NewPCG(7, 8))
	monStream(m, clock, rng, 50_000, 0.001, 0.3, monIdentity)
	base := m.Snapshot()
	m.SetBaseline(base)
	got, ok := m.Baseline()
	require.True(t, ok)
	assert.Equal(t, base.NormalizedEntropy, got.NormalizedEntropy)

	// A model that knows less: calibrated on average, but each prediction
	// is a quarter the truth and three quarters the mean.
	clock.Advance(predict.DefaultMonitorWindow)
	blurred := func(q float64) float64 { return (q + 3*0.1505) / 4 }
	monStream(m, clock, rng, 50_000, 0.001, 0.3, blurred)
	t.Logf("baseline NE %.4f, blurred NE %.4f", base.NormalizedEntropy, m.Snapshot().NormalizedEntropy)
	require.Equal(t, []predict.DriftKind{predict.DriftEntropy}, rec.driftKinds())
	d := rec.drifts[0]
	assert.Equal(t, base.NormalizedEntropy, d.Baseline)
	assert.InDelta(t, base.NormalizedEntropy*1.05, d.Limit, 1e-12)
	assert.Greater(t, d.Value, d.Limit)
	assert.True(t, math.IsNaN(d.Stats.AUC))
}

func TestMonitorWindowExpiry(t *testing.T) {
	m, clock := newTestMonitor(t, predict.WithMonitorWindow(10*time.Minute, 10))
	for range 100 {
		m.Observe(0.2, true, 1)
	}
	clock.Advance(5 * time.Minute)
	for range 50 {
		m.Observe(0.2, false, 1)
	}
	s := m.Snapshot()
	assert.EqualValues(t, 150, s.Observations)
	assert.Equal(t, 5*time.Minute, s.Window)

	clock.Advance(5 * time.Minute) // the first slot's time comes round
	s = m.Snapshot()
	assert.EqualValues(t, 50, s.Observations)
	assert.Zero(t, s.Positives)
	assert.Equal(t, 5*time.Minute, s.Window)
	assert.LessOrEqual(t, s.AUCSample, 50)

	clock.Advance(5 * time.Minute)
	s = m.Snapshot()
	assert.Zero(t, s.Observations)
	assert.True(t, math.IsNaN(s.BaseRate))

	// A slot reused after the window has gone round starts empty.
	m.Observe(0.2, true, 1)
	assert.EqualValues(t, 1, m.Snapshot().Observations)
}

func TestMonitorOddClocks(t *testing.T) {
	for _, start := range []time.Time{{}, time.Unix(-1, 0), time.Unix(0, 0)} {
		clock := auctiontest.NewClock(start)
		m, err := predict.NewMonitor("ctr", predict.WithMonitorClock(clock), predict.WithMonitorWindow(time.Minute, 6))
		require.NoError(t, err)
		m.Observe(0.5, true, 1)
		clock.Advance(10 * time.Second)
		m.Observe(0.5, false, 1)
		assert.EqualValues(t, 2, m.Snapshot().Observations, "from %v", start)
		clock.Advance(-20 * time.Second) // the clock steps back
		m.Observe(0.5, false, 1)
		assert.EqualValues(t, 1, m.Snapshot().Observations, "from %v, back: the newer slots are ahead of the clock", start)
		clock.Advance(2 * time.Minute)
		assert.Zero(t, m.Snapshot().Observations, "from %v", start)
	}
}

func TestMonitorAUCSampleMatchesExact(t *testing.T) {
	m, clock := newTestMonitor(t, predict.WithMonitorSample(20_000), predict.WithMonitorWindow(time.Minute, 6))
	rng := rand.New(rand.NewPCG(9, 10))
	type obs struct {
		p   float64
		pos bool
	}
	var all []obs
	for i := range 200_000 {
		if i%20_000 == 0 {
			clock.Advance(5 * time.Second) // spread over slots, unevenly filled
		}
		q := 0.3 * rng.Float64()
		p := min(max(q+0.05*rng.NormFloat64(), 1e-4), 0.999)
		pos := rng.Float64() < q
		m.Observe(p, pos, 1)
		all = append(all, obs{p, pos})
	}
	slices.SortFunc(all, func(a, b obs) int {
		switch {
		case a.p < b.p:
			return -1
		case a.p > b.p:
			return 1
		}
		return 0
	})
	var negBelow, pos, neg, area float64
	for _, o := range all {
		if o.pos {
			area += negBelow
			pos++
		} else {
			negBelow++
			neg++
		}
	}
	exact := area / (pos * neg)
	s := m.Snapshot()
	assert.LessOrEqual(t, s.AUCSample, 20_000+6)
	assert.InDelta(t, exact, s.AUC, 0.02, "exact %.4f, sampled %.4f", exact, s.AUC)
	t.Logf("exact AUC %.4f, on a sample of %d: %.4f", exact, s.AUCSample, s.AUC)
}

func TestMonitorImportanceWeights(t *testing.T) {
	full, fullClock := newTestMonitor(t)
	sub, subClock := newTestMonitor(t)
	rng := rand.New(rand.NewPCG(11, 12))
	const n = 500_000
	for range n {
		fullClock.Advance(monSpread / n)
		subClock.Advance(monSpread / n)
		q := 0.001 + 0.05*rng.Float64()
		pos := rng.Float64() < q
		full.Observe(q, pos, 1)
		switch {
		case pos:
			sub.Observe(q, true, 1)
		case rng.Float64() < 0.1:
			sub.Observe(q, false, 10)
		}
	}
	f, s := full.Snapshot(), sub.Snapshot()
	assert.Less(t, s.Observations, f.Observations/5)
	assert.InEpsilon(t, f.BaseRate, s.BaseRate, 0.03)
	assert.InEpsilon(t, f.Calibration, s.Calibration, 0.03)
	assert.InEpsilon(t, f.LogLoss, s.LogLoss, 0.03)
	assert.InEpsilon(t, f.NormalizedEntropy, s.NormalizedEntropy, 0.03)
	assert.InDelta(t, f.AUC, s.AUC, 0.03)
}

func TestMonitorStatsHook(t *testing.T) {
	rec := &monRecorder{}
	m, clock := newTestMonitor(t, predict.WithMonitorHooks(rec), predict.WithMonitorStatsInterval(time.Minute))
	m.Observe(0.1, true, 1)
	assert.Empty(t, rec.stats)
	clock.Advance(time.Minute)
	m.Observe(0.1, false, 1)
	m.Observe(0.1, false, 1)
	require.Len(t, rec.stats, 1)
	assert.EqualValues(t, 2, rec.stats[0].Observations, "the stats of the window as the hook is called")
	clock.Advance(time.Minute)
	m.Observe(0.1, false, 1)
	assert.Len(t, rec.stats, 2)
}

func TestMonitorConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	rec := &monRecorder{}
	m, clock := newTestMonitor(t, predict.WithMonitorHooks(rec), predict.WithMonitorCheckEvery(10),
		predict.WithDriftMinPositives(0), predict.WithMonitorStatsInterval(time.Second))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 13))
			for range 5000 {
				q := rng.Float64()*0.5 + 0.01
				m.Observe(q, rng.Float64() < q, 1)
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			s := m.Snapshot()
			m.SetBaseline(s)
			clock.Advance(100 * time.Millisecond)
		}
	})
	wg.Wait()
	assert.EqualValues(t, 20_000, m.Snapshot().Observations)
}

func TestMonitorObserveAllocs(t *testing.T) {
	if monitorRace {
		t.Skip("the race detector allocates")
	}
	rec := &monRecorder{}
	m, clock := newTestMonitor(t, predict.WithMonitorHooks(&monDriftOnly{rec}), predict.WithMonitorCheckEvery(7),
		predict.WithDriftMinPositives(0), predict.WithMonitorSample(100))
	rng := rand.New(rand.NewPCG(14, 15))
	monStream(m, clock, rng, 1000, 0.01, 0.1, monIdentity) // warm: the reservoirs are full
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		i++
		m.Observe(0.05, i%10 == 0, 1)
		if i%100 == 0 {
			clock.Advance(time.Second)
		}
	})
	assert.Zero(t, allocs)
	allocs = testing.AllocsPerRun(100, func() { _ = m.Snapshot() })
	assert.Zero(t, allocs)
}

// monDriftOnly hides the StatsHook of a monRecorder (whose slice appends allocate).
type monDriftOnly struct{ r *monRecorder }

func (d *monDriftOnly) OnDrift(model string, x predict.Drift) {}

func TestBucketBounds(t *testing.T) {
	lo, _ := predict.BucketBounds(0)
	_, hi := predict.BucketBounds(predict.MonitorBuckets - 1)
	assert.Zero(t, lo)
	assert.Equal(t, 1.0, hi)
	for i := 1; i < predict.MonitorBuckets; i++ {
		_, prevHi := predict.BucketBounds(i - 1)
		lo, hi := predict.BucketBounds(i)
		assert.Equal(t, prevHi, lo)
		assert.Less(t, lo, hi)
	}
	assert.Panics(t, func() { predict.BucketBounds(predict.MonitorBuckets) })

	m, _ := newTestMonitor(t)
	m.Observe(0.00005, false, 1)
	m.Observe(0.0001, false, 1)
	m.Observe(0.15, true, 1)
	m.Observe(0.9, true, 1)
	s := m.Snapshot()
	assert.EqualValues(t, 1, s.Buckets[0].Observations)
	assert.EqualValues(t, 1, s.Buckets[1].Observations)
	assert.EqualValues(t, 1, s.Buckets[7].Observations)
	assert.EqualValues(t, 1, s.Buckets[9].Observations)
	assert.InDelta(t, 0.9, s.Buckets[9].Calibration, 1e-12)
}

func BenchmarkMonitorObserve(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		b.Run(fmt.Sprintf("parallel=%v", parallel), func(b *testing.B) {
			m, err := predict.NewMonitor("ctr") // the system clock
			require.NoError(b, err)
			b.ReportAllocs()
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					for i := 0; pb.Next(); i++ {
						m.Observe(0.05, i%20 == 0, 1)
					}
				})
			} else {
				for i := 0; b.Loop(); i++ {
					m.Observe(0.05, i%20 == 0, 1)
				}
			}
			if m.Snapshot().Observations == 0 {
				b.Fatal("nothing observed")
			}
		})
	}
}

func BenchmarkMonitorSnapshot(b *testing.B) {
	m, clock := newTestMonitor(b)
	rng := rand.New(rand.NewPCG(16, 17))
	monStream(m, clock, rng, 100_000, 0.01, 0.1, monIdentity)
	b.ReportAllocs()
	for b.Loop() {
		if m.Snapshot().AUCSample < predict.DefaultMonitorSample*9/10 {
			b.Fatal("short sample")
		}
	}
}

// monReentrant calls back into its Monitor from the hooks.
type monReentrant struct {
	m      *predict.Monitor
	stats  int
	drifts map[predict.DriftKind]int
}

func (r *monReentrant) OnModelStats(model string, s predict.MonitorStats) {
	r.stats++
	r.m.SetBaseline(s)
}

func (r *monReentrant) OnDrift(model string, d predict.Drift) {
	r.drifts[d.Kind]++
	_ = r.m.Snapshot()
}

func TestMonitorHooksMayCallBack(t *testing.T) {
	r := &monReentrant{drifts: map[predict.DriftKind]int{}}
	m, clock := newTestMonitor(t, predict.WithMonitorHooks(r), predict.WithMonitorCheckEvery(1),
		predict.WithDriftMinPositives(1), predict.WithMonitorStatsInterval(time.Second))
	r.m = m
	for i := range 100 {
		m.Observe(0.9, i%10 == 0, 1)
		clock.Advance(100 * time.Millisecond)
	}
	assert.Equal(t, 9, r.stats)
	assert.Equal(t, 1, r.drifts[predict.DriftCalibration])
	assert.Positive(t, r.drifts[predict.DriftEntropy], "each baseline re-arms the entropy hook")
	_, ok := m.Baseline()
	assert.True(t, ok)
}
