package gavelprom_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/predict"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWatchModel(t *testing.T) {
	m, err := gavelprom.New()
	require.NoError(t, err)
	clock := auctiontest.NewClock(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	ctr, err := predict.NewMonitor("ctr", predict.WithMonitorClock(clock), predict.WithMonitorHooks(m),
		predict.WithMonitorCheckEvery(1), predict.WithDriftMinPositives(2))
	require.NoError(t, err)
	cvr, err := predict.NewMonitor("cvr", predict.WithMonitorClock(clock))
	require.NoError(t, err)
	require.NoError(t, m.WatchModel("ctr", ctr))
	require.NoError(t, m.WatchModel("cvr", cvr))

	err = m.WatchModel("ctr", ctr)
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	assert.ErrorContains(t, err, "already watched")
	require.ErrorIs(t, m.WatchModel("", ctr), gavel.ErrInvalidOption)
	require.ErrorIs(t, m.WatchModel("x", nil), gavel.ErrInvalidOption)

	// A calibrated coin: half positive at p = 0.5.
	for i := range 4 {
		ctr.Observe(0.5, i%2 == 1, 1)
	}
	reg := m.Registry()
	assert.InDelta(t, math.Ln2, value(t, reg, "gavel_model_log_loss", "model", "ctr"), 1e-12)
	assert.InDelta(t, 1, value(t, reg, "gavel_model_normalized_entropy", "model", "ctr"), 1e-12)
	assert.InDelta(t, 1, value(t, reg, "gavel_model_calibration", "model", "ctr"), 1e-12)
	assert.InDelta(t, 0.5, value(t, reg, "gavel_model_auc", "model", "ctr"), 1e-12)
	assert.InDelta(t, 0.5, value(t, reg, "gavel_model_base_rate", "model", "ctr"), 1e-12)
	assert.Equal(t, 4.0, value(t, reg, "gavel_model_observations", "model", "ctr"))
	assert.Equal(t, 0.0, value(t, reg, "gavel_model_observations", "model", "cvr"))
	assert.True(t, math.IsNaN(value(t, reg, "gavel_model_auc", "model", "cvr")), "an empty window has no AUC")
	assert.InDelta(t, 0.5, value(t, reg, "gavel_model_mean_prediction", "model", "ctr"), 1e-12)
	assert.Equal(t, 2.0, value(t, reg, "gavel_model_positives", "model", "ctr"))
	assert.True(t, math.IsNaN(value(t, reg, "gavel_model_baseline_normalized_entropy", "model", "ctr")), "no baseline yet")

	// Overconfident: calibration leaves its band, once.
	for range 10 {
		ctr.Observe(0.9, false, 1)
	}
	const want = `
# HELP gavel_model_drifts_total Drifts of a model seen by its predict.Monitor, by kind (calibration, entropy).
# TYPE gavel_model_drifts_total counter
gavel_model_drifts_total{kind="calibration",model="ctr"} 1
gavel_model_drifts_total{kind="calibration",model="cvr"} 0
gavel_model_drifts_total{kind="entropy",model="ctr"} 0
gavel_model_drifts_total{kind="entropy",model="cvr"} 0
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "gavel_model_drifts_total"))
	n, err := testutil.GatherAndCount(reg, "gavel_model_log_loss", "gavel_model_normalized_entropy",
		"gavel_model_calibration", "gavel_model_auc", "gavel_model_base_rate", "gavel_model_observations")
	require.NoError(t, err)
	assert.Equal(t, 12, n, "six gauges for each of two models")
	// p = 0.5 and 0.9 are both in [0.5, 1): 2 positives, 0.5*4 + 0.9*10 predicted.
	assert.Equal(t, 14.0, value(t, reg, "gavel_model_bucket_observations", "model", "ctr", "bucket", "0.5"))
	assert.InDelta(t, 5.5, value(t, reg, "gavel_model_bucket_calibration", "model", "ctr", "bucket", "0.5"), 1e-12)
	assert.Equal(t, 0.0, value(t, reg, "gavel_model_bucket_observations", "model", "ctr", "bucket", "0.2"))
	assert.True(t, math.IsNaN(value(t, reg, "gavel_model_bucket_calibration", "model", "ctr", "bucket", "0.2")), "an empty bucket")
	assert.Equal(t, 0.0, value(t, reg, "gavel_model_bucket_observations", "model", "ctr", "bucket", "0.0001"))
	n, err = testutil.GatherAndCount(reg, "gavel_model_bucket_calibration", "gavel_model_bucket_observations")
	require.NoError(t, err)
	assert.Equal(t, 2*2*predict.MonitorBuckets, n)

	base := ctr.Snapshot()
	ctr.SetBaseline(base)
	assert.InDelta(t, base.NormalizedEntropy, value(t, reg, "gavel_model_baseline_normalized_entropy", "model", "ctr"), 1e-12)
}
