package dashboard

import (
	"math"
	"sync/atomic"

	"github.com/gavelrtb/gavel/predict"
)

// MaxModels is how many models a Dashboard tells apart; the statistics of
// the others are shown together as "(other)", the last reported.
const MaxModels = 16

var (
	_ predict.StatsHook = (*Dashboard)(nil)
	_ predict.DriftHook = (*Dashboard)(nil)
)

// modelCounters hold a model's last statistics and its drifts.
type modelCounters struct {
	stats     atomic.Pointer[predict.MonitorStats]
	at        atomic.Int64 // Unix milliseconds of stats, by the Dashboard's clock
	drifts    [2]atomic.Int64
	lastDrift atomic.Pointer[driftFrame]
}

// OnModelStats implements predict.StatsHook: register the Dashboard with
// predict.WithMonitorHooks on each model's Monitor, and the page shows the
// model's log loss, normalised entropy, calibration (overall and by bucket
// of prediction), AUC and base rate, as last reported. It keeps a copy of
// s: one allocation a call, which the Monitor makes once per
// WithMonitorStatsInterval.
func (d *Dashboard) OnModelStats(model string, s predict.MonitorStats) {
	c := d.models.get(model)
	c.stats.Store(&s)
	c.at.Store(d.cfg.clock.Now().UnixMilli())
}

// OnDrift implements predict.DriftHook: the page counts the model's drifts
// by kind and shows the last one. Register it as OnModelStats.
func (d *Dashboard) OnDrift(model string, dr predict.Drift) {
	c := d.models.get(model)
	if i := int(dr.Kind) - 1; i >= 0 && i < len(c.drifts) {
		c.drifts[i].Add(1)
	}
	c.lastDrift.Store(&driftFrame{
		Kind: dr.Kind.String(), Value: num(dr.Value), Limit: num(dr.Limit), Baseline: num(dr.Baseline),
		Time: d.cfg.clock.Now().UnixMilli(),
	})
}

// modelFrame is a model's statistics as its Monitor last reported them.
// A statistic the window leaves undefined (NaN) is null.
type modelFrame struct {
	Name              string        `json:"name"`
	Time              int64         `json:"t,omitempty"`      // when reported, Unix milliseconds; 0 before
	Window            float64       `json:"window,omitempty"` // seconds the statistics cover
	Observations      int64         `json:"observations"`
	Positives         int64         `json:"positives"`
	LogLoss           *float64      `json:"logLoss"`
	NormalizedEntropy *float64      `json:"ne"`
	Calibration       *float64      `json:"calibration"`
	AUC               *float64      `json:"auc"`
	BaseRate          *float64      `json:"baseRate"`
	MeanPrediction    *float64      `json:"meanPrediction"`
	Buckets           []bucketFrame `json:"buckets,omitempty"` // those with observations
	CalibrationDrifts int64         `json:"calibrationDrifts"`
	EntropyDrifts     int64         `json:"entropyDrifts"`
	LastDrift         *driftFrame   `json:"lastDrift,omitempty"`
}

type bucketFrame struct {
	Min            float64  `json:"min"`
	Max            float64  `json:"max"`
	Observations   int64    `json:"observations"`
	MeanPrediction *float64 `json:"meanPrediction"`
	Rate           *float64 `json:"rate"`
	Calibration    *float64 `json:"calibration"`
}

type driftFrame struct {
	Kind     string   `json:"kind"` // calibration or entropy
	Value    *float64 `json:"value"`
	Limit    *float64 `json:"limit"`
	Baseline *float64 `json:"baseline"`
	Time     int64    `json:"t"` // Unix milliseconds
}

// num returns x with 6 significant digits, nil for NaN and infinities
// (which JSON cannot carry).
func num(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	if x != 0 {
		scale := math.Pow(10, 5-math.Floor(math.Log10(math.Abs(x))))
		x = math.Round(x*scale) / scale
	}
	return &x
}

// modelFrames returns the models in the order first seen.
func (d *Dashboard) modelFrames() []modelFrame {
	var out []modelFrame
	d.models.each(func(name string, c *modelCounters, other bool) {
		if other {
			name = "(other)"
		}
		f := modelFrame{
			Name: name, CalibrationDrifts: c.drifts[0].Load(), EntropyDrifts: c.drifts[1].Load(),
			LastDrift: c.lastDrift.Load(),
		}
		if s := c.stats.Load(); s != nil {
			f.Time = c.at.Load()
			f.fill(s)
		}
		out = append(out, f)
	})
	return out
}

func (f *modelFrame) fill(s *predict.MonitorStats) {
	f.Window = s.Window.Seconds()
	f.Observations, f.Positives = s.Observations, s.Positives
	f.LogLoss, f.NormalizedEntropy, f.Calibration = num(s.LogLoss), num(s.NormalizedEntropy), num(s.Calibration)
	f.AUC, f.BaseRate, f.MeanPrediction = num(s.AUC), num(s.BaseRate), num(s.MeanPrediction)
	for _, b := range s.Buckets {
		if b.Observations == 0 {
			continue
		}
		f.Buckets = append(f.Buckets, bucketFrame{
			Min: b.Min, Max: b.Max, Observations: b.Observations,
			MeanPrediction: num(b.MeanPrediction), Rate: num(b.Rate), Calibration: num(b.Calibration),
		})
	}
}
