package predict

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// MonitorStats are a model's statistics over a Monitor's window. Sums and
// rates are weighted by the observations' importance weights; counts are
// not. A rate that is undefined is NaN: every rate of an empty window, the
// calibration of a window without positives, the normalised entropy of a
// window whose base rate is 0 or 1, the AUC of a sample without both
// positives and negatives.
type MonitorStats struct {
	// Window is the span of time the statistics cover, from the start of
	// the oldest slot with observations to now; 0 when empty.
	Window time.Duration
	// Observations and Positives count the observations in the window.
	Observations, Positives int64
	// Rejected counts the observations Observe refused since the
	// Monitor was created (p outside (0, 1), weight not positive).
	Rejected int64
	// Weight and PositiveWeight sum the importance weights of the
	// observations and of the positive ones.
	Weight, PositiveWeight float64
	// LogLoss is the mean cross-entropy of the predictions, in nats.
	LogLoss float64
	// BaseRate is the observed rate, PositiveWeight / Weight.
	BaseRate float64
	// MeanPrediction is the mean predicted probability.
	MeanPrediction float64
	// NormalizedEntropy is LogLoss over the entropy of BaseRate: 1 for a
	// model that always predicts the base rate, lower for a better one.
	NormalizedEntropy float64
	// Calibration is MeanPrediction over BaseRate: 1 when the model
	// predicts as many events as happen, above 1 when it predicts more.
	Calibration float64
	// AUC is the area under the ROC curve of the sample, ties counted
	// half, each sampled observation weighted by its importance weight
	// and the number of observations it stands for.
	AUC float64
	// AUCSample is the size of the sample AUC was computed on.
	AUCSample int
	// Buckets holds the calibration of the predictions by range of p
	// (see BucketBounds).
	Buckets [MonitorBuckets]CalibrationBucket
}

// A CalibrationBucket is the calibration of the predictions in [Min, Max).
// Its rates are NaN when undefined, as in MonitorStats.
type CalibrationBucket struct {
	Min, Max       float64
	Observations   int64
	Weight         float64
	MeanPrediction float64
	Rate           float64 // observed rate
	Calibration    float64 // MeanPrediction / Rate
}

// weightedAUC returns the AUC of xs, sorting them by p: the probability
// that a positive scores above a negative, weighted, ties counting half.
// It returns NaN unless xs has positives and negatives.
func weightedAUC(xs []monitorSample) float64 {
	slices.SortFunc(xs, func(a, b monitorSample) int { return cmp.Compare(a.p, b.p) })
	var negBelow, pos, neg, area float64
	for i := 0; i < len(xs); {
		var gPos, gNeg float64
		j := i
		for ; j < len(xs) && xs[j].p == xs[i].p; j++ {
			if xs[j].positive {
				gPos += xs[j].w
			} else {
				gNeg += xs[j].w
			}
		}
		area += gPos * (negBelow + gNeg/2)
		negBelow += gNeg
		pos += gPos
		neg += gNeg
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return area / (pos * neg)
}
