package predict

import (
	"math"
	"sync"
)

// StatsHook is called with a Monitor's statistics every
// WithMonitorStatsInterval, from Observe (see Monitor). Register it with
// WithMonitorHooks.
type StatsHook interface {
	OnModelStats(model string, s MonitorStats)
}

// DriftHook is called when a Monitor's model drifts: once when calibration
// leaves its band (WithCalibrationBand), and once when normalised entropy
// rises past its threshold over the baseline (SetBaseline,
// WithEntropyDriftThreshold). It is called again for the same kind only
// after the value has come back and crossed again. Register it with
// WithMonitorHooks; it is called from Observe (see Monitor).
type DriftHook interface {
	OnDrift(model string, d Drift)
}

// A DriftKind says what drifted.
type DriftKind uint8

// The kinds of drift.
const (
	DriftCalibration DriftKind = iota + 1 // calibration left its band
	DriftEntropy                          // normalised entropy rose past its threshold
)

// String returns "calibration" or "entropy".
func (k DriftKind) String() string {
	switch k {
	case DriftCalibration:
		return "calibration"
	case DriftEntropy:
		return "entropy"
	}
	return "unknown"
}

// A Drift tells what drifted and by how much.
type Drift struct {
	Kind DriftKind
	// Value is the calibration or normalised entropy of the window.
	Value float64
	// Limit is the edge Value crossed: the low or high end of the
	// calibration band, or the baseline's normalised entropy times one
	// plus the threshold.
	Limit float64
	// Baseline is the baseline's value of the same statistic, NaN
	// without a baseline.
	Baseline float64
	// Stats are the window's statistics when the drift was seen, without
	// AUC (NaN), which the check does not compute.
	Stats MonitorStats
}

// driftState is the baseline and which limits are crossed now.
type driftState struct {
	hooks        []DriftHook
	low, high    float64
	neRel        float64
	minPositives int64

	mu          sync.Mutex
	baseline    MonitorStats
	hasBaseline bool
	calOut      bool // calibration is out of its band
	neOut       bool // normalised entropy is past its threshold
}

func (d *driftState) init(cfg *monitorConfig) {
	d.hooks = cfg.driftHooks
	d.low, d.high = cfg.calLow, cfg.calHigh
	d.neRel = cfg.neThreshold
	d.minPositives = int64(cfg.minPositives)
}

// SetBaseline sets the statistics drift in normalised entropy is measured
// against: those of the window when the model's last snapshot was taken.
// A baseline whose NormalizedEntropy is NaN turns that check off, as it is
// until SetBaseline is called. It re-arms the entropy DriftHook.
func (m *Monitor) SetBaseline(s MonitorStats) {
	m.drift.mu.Lock()
	m.drift.baseline, m.drift.hasBaseline = s, true
	m.drift.neOut = false
	m.drift.mu.Unlock()
}

// Baseline returns the baseline and whether one was set.
func (m *Monitor) Baseline() (MonitorStats, bool) {
	m.drift.mu.Lock()
	defer m.drift.mu.Unlock()
	return m.drift.baseline, m.drift.hasBaseline
}

// checkDrift compares the window that ends at now with the band and the
// baseline, and calls the DriftHooks for each limit newly crossed.
func (m *Monitor) checkDrift(now int64) {
	if len(m.drift.hooks) == 0 {
		return
	}
	sums, span := m.sums(now, false)
	st := m.stats(&sums, span)
	if st.Positives < m.drift.minPositives {
		return
	}
	var fired [2]Drift
	n := 0
	d := &m.drift
	d.mu.Lock()
	cal := st.Calibration
	calOut := cal < d.low || cal > d.high
	if calOut && !d.calOut {
		limit := d.low
		if cal > d.high {
			limit = d.high
		}
		fired[n] = Drift{Kind: DriftCalibration, Value: cal, Limit: limit, Baseline: d.baselineOf(d.baseline.Calibration), Stats: st}
		n++
	}
	if !math.IsNaN(cal) {
		d.calOut = calOut
	}
	if base := d.baselineOf(d.baseline.NormalizedEntropy); !math.IsNaN(base) && !math.IsNaN(st.NormalizedEntropy) {
		limit := base * (1 + d.neRel)
		neOut := st.NormalizedEntropy > limit
		if neOut && !d.neOut {
			fired[n] = Drift{Kind: DriftEntropy, Value: st.NormalizedEntropy, Limit: limit, Baseline: base, Stats: st}
			n++
		}
		d.neOut = neOut
	}
	d.mu.Unlock()
	for _, f := range fired[:n] {
		for _, h := range d.hooks {
			h.OnDrift(m.model, f)
		}
	}
}

// baselineOf returns v if a baseline is set, NaN otherwise. The caller
// holds d.mu.
func (d *driftState) baselineOf(v float64) float64 {
	if !d.hasBaseline {
		return math.NaN()
	}
	return v
}
