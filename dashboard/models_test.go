package dashboard

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/predict"
)

// modelTraffic feeds a Monitor of the model "ctr", hooked to d, 1,000
// predictions of 4% of which 2% are positive: calibration 2, a drift.
func modelTraffic(t *testing.T, d *Dashboard, clk *auctiontest.Clock) {
	t.Helper()
	m, err := predict.NewMonitor("ctr", predict.WithMonitorClock(clk), predict.WithMonitorHooks(d),
		predict.WithMonitorStatsInterval(time.Second), predict.WithMonitorCheckEvery(100),
		predict.WithDriftMinPositives(5), predict.WithCalibrationBand(0.8, 1.25))
	require.NoError(t, err)
	for i := range 1000 {
		if i == 999 {
			clk.Advance(time.Second) // the stats interval is over: the last Observe reports
		}
		m.Observe(0.04, i%50 == 0, 1)
	}
}

func TestModelPanel(t *testing.T) {
	clk := auctiontest.NewClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	d := newDashboard(t, WithClock(clk))
	r := newReadings()
	f := d.build(context.Background(), r, time.Unix(1000, 0))
	assert.Empty(t, f.Models, "no model before its monitor reports")

	modelTraffic(t, d, clk)
	f = d.build(context.Background(), r, time.Unix(1001, 0))
	require.Len(t, f.Models, 1)
	m := f.Models[0]
	assert.Equal(t, "ctr", m.Name)
	assert.Equal(t, int64(1000), m.Observations)
	assert.Equal(t, int64(20), m.Positives)
	assert.InDelta(t, 0.02, *m.BaseRate, 1e-9)
	assert.InDelta(t, 0.04, *m.MeanPrediction, 1e-9)
	assert.InDelta(t, 2, *m.Calibration, 1e-4)
	assert.Greater(t, *m.NormalizedEntropy, 1.0, "worse than the base rate")
	assert.Positive(t, *m.LogLoss)
	assert.InDelta(t, 0.5, *m.AUC, 1e-9, "one prediction for all: no better than chance")
	assert.Equal(t, clk.Now().UnixMilli(), m.Time)
	require.Len(t, m.Buckets, 1, "only the bucket of 0.04 has observations")
	assert.Equal(t, int64(1000), m.Buckets[0].Observations)
	assert.InDelta(t, 2, *m.Buckets[0].Calibration, 1e-4)
	assert.Equal(t, int64(1), m.CalibrationDrifts)
	assert.Zero(t, m.EntropyDrifts)
	require.NotNil(t, m.LastDrift)
	assert.Equal(t, "calibration", m.LastDrift.Kind)
	assert.Equal(t, 1.25, *m.LastDrift.Limit)
	assert.Nil(t, m.LastDrift.Baseline, "no baseline: NaN is null")

	// NaN is null in the page's JSON, which cannot carry it.
	d.OnModelStats("cvr", predict.MonitorStats{LogLoss: nan(), NormalizedEntropy: nan(), Calibration: nan(),
		AUC: nan(), BaseRate: nan(), MeanPrediction: nan()})
	f = d.build(context.Background(), r, time.Unix(1002, 0))
	require.Len(t, f.Models, 2)
	b, err := json.Marshal(f)
	require.NoError(t, err)
	var back struct {
		Models []map[string]any `json:"models"`
	}
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Nil(t, back.Models[1]["ne"])
	assert.Contains(t, back.Models[1], "ne")
	assert.Equal(t, []string{"auc", "baseRate", "buckets", "calibration", "calibrationDrifts", "entropyDrifts",
		"lastDrift", "logLoss", "meanPrediction", "name", "ne", "observations", "positives", "t", "window"}, sorted(keys(back.Models[0])))
}

func nan() float64 { var z float64; return z / z }

func TestModelsBounded(t *testing.T) {
	d := newDashboard(t)
	for i := range MaxModels + 3 {
		d.OnModelStats(string(rune('a'+i)), predict.MonitorStats{Observations: int64(i)})
	}
	f := d.build(context.Background(), newReadings(), time.Unix(1000, 0))
	require.Len(t, f.Models, MaxModels+1)
	last := f.Models[MaxModels]
	assert.Equal(t, "(other)", last.Name)
	assert.Equal(t, int64(MaxModels+2), last.Observations, "the last reported")
}

func sorted(s []string) []string { slices.Sort(s); return s }
