package gavelprom

import (
	"fmt"
	"math"
	"strconv"
	"sync"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/predict"
	"github.com/prometheus/client_golang/prometheus"
)

// modelCollector reads the watched Monitors' snapshots on scrape.
type modelCollector struct {
	logLoss, ne, calibration, auc, baseRate, observations *prometheus.Desc
	meanPrediction, positives, baselineNE                 *prometheus.Desc
	bucketCalibration, bucketObservations                 *prometheus.Desc // model, bucket
	bucketNames                                           [predict.MonitorBuckets]string

	mu     sync.Mutex
	models []watchedModel // append-only
	names  map[string]bool
}

type watchedModel struct {
	name string
	m    *predict.Monitor
}

func newModelCollector(b *builder) *modelCollector {
	return &modelCollector{
		logLoss:            b.desc("model_log_loss", "Mean log loss of the model's predictions over its monitor's window, in nats, weighted by importance.", "model"),
		ne:                 b.desc("model_normalized_entropy", "Log loss of the model over the entropy of its base rate, over its monitor's window: 1 for always predicting the base rate.", "model"),
		calibration:        b.desc("model_calibration", "Mean predicted probability over the observed rate, over the model's monitor's window: 1 when calibrated.", "model"),
		auc:                b.desc("model_auc", "Area under the ROC curve of a sample of the model's monitor's window.", "model"),
		baseRate:           b.desc("model_base_rate", "Observed rate of the event the model predicts, over its monitor's window, weighted by importance.", "model"),
		observations:       b.desc("model_observations", "Observations in the model's monitor's window.", "model"),
		meanPrediction:     b.desc("model_mean_prediction", "Mean predicted probability over the model's monitor's window, weighted by importance.", "model"),
		positives:          b.desc("model_positives", "Positive observations in the model's monitor's window.", "model"),
		baselineNE:         b.desc("model_baseline_normalized_entropy", "Normalized entropy of the model's monitor's baseline (the window when its last snapshot was taken), which entropy drift is measured against; NaN without a baseline.", "model"),
		bucketCalibration:  b.desc("model_bucket_calibration", "Calibration of the model's predictions in a range of p, over its monitor's window; bucket is the range's lower bound.", "model", "bucket"),
		bucketObservations: b.desc("model_bucket_observations", "Observations of the model's monitor's window with predictions in a range of p; bucket is the range's lower bound.", "model", "bucket"),
		bucketNames:        bucketNames(),
		names:              map[string]bool{},
	}
}

// bucketNames returns the lower bounds of the calibration buckets, as
// label values.
func bucketNames() (names [predict.MonitorBuckets]string) {
	for i := range names {
		lo, _ := predict.BucketBounds(i)
		names[i] = strconv.FormatFloat(lo, 'g', -1, 64)
	}
	return names
}

// Describe implements prometheus.Collector.
func (c *modelCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.logLoss, c.ne, c.calibration, c.auc, c.baseRate, c.observations,
		c.meanPrediction, c.positives, c.baselineNE, c.bucketCalibration, c.bucketObservations,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A rate the window leaves
// undefined (NaN in predict.MonitorStats) is exported as NaN.
func (c *modelCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	models := c.models
	c.mu.Unlock()
	for _, w := range models {
		s := w.m.Snapshot()
		baseNE := math.NaN()
		if b, ok := w.m.Baseline(); ok {
			baseNE = b.NormalizedEntropy
		}
		for _, x := range []struct {
			d *prometheus.Desc
			v float64
		}{
			{c.logLoss, s.LogLoss},
			{c.ne, s.NormalizedEntropy},
			{c.calibration, s.Calibration},
			{c.auc, s.AUC},
			{c.baseRate, s.BaseRate},
			{c.observations, float64(s.Observations)},
			{c.meanPrediction, s.MeanPrediction},
			{c.positives, float64(s.Positives)},
			{c.baselineNE, baseNE},
		} {
			ch <- prometheus.MustNewConstMetric(x.d, prometheus.GaugeValue, x.v, w.name)
		}
		for i, b := range s.Buckets {
			ch <- prometheus.MustNewConstMetric(c.bucketCalibration, prometheus.GaugeValue, b.Calibration, w.name, c.bucketNames[i])
			ch <- prometheus.MustNewConstMetric(c.bucketObservations, prometheus.GaugeValue, float64(b.Observations), w.name, c.bucketNames[i])
		}
	}
}

// WatchModel makes every scrape read m's Snapshot and export it with the
// label model=name: gavel_model_log_loss, gavel_model_normalized_entropy,
// gavel_model_calibration, gavel_model_auc, gavel_model_base_rate and
// gavel_model_observations, gavel_model_mean_prediction,
// gavel_model_positives and gavel_model_baseline_normalized_entropy (the
// reference of entropy drift, NaN without a baseline), and by calibration
// bucket (predict.BucketBounds;
// the label bucket is its lower bound) gavel_model_bucket_calibration and
// gavel_model_bucket_observations. Each scrape costs a Snapshot, a sort of the
// monitor's AUC sample. It returns an error wrapping gavel.ErrInvalidOption
// when name is empty or already watched, or m is nil.
func (m *Metrics) WatchModel(name string, mon *predict.Monitor) error {
	if name == "" || mon == nil {
		return fmt.Errorf("%w: gavelprom: WatchModel needs a model name and a monitor", gavel.ErrInvalidOption)
	}
	c := m.models
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.names[name] {
		return fmt.Errorf("%w: gavelprom: model %q is already watched", gavel.ErrInvalidOption, name)
	}
	c.names[name] = true
	c.models = append(c.models, watchedModel{name: name, m: mon})
	m.drifts.WithLabelValues(name, predict.DriftCalibration.String())
	m.drifts.WithLabelValues(name, predict.DriftEntropy.String())
	return nil
}

// OnDrift implements predict.DriftHook: it counts the drift in
// gavel_model_drifts_total, by model and kind (calibration, entropy).
// Register the Metrics with predict.WithMonitorHooks.
func (m *Metrics) OnDrift(model string, d predict.Drift) {
	m.drifts.WithLabelValues(model, d.Kind.String()).Inc()
}
