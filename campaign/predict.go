package campaign

import (
	"context"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// A Prediction is the expected click-through rate of an impression and the
// expected conversion rate of a click, each in [0, 1].
type Prediction struct {
	CTR, CVR float64
}

// A Predictor predicts the rates that turn a CPC or CPA goal into a bid per
// impression. The Bidder calls it from many goroutines at once, for each
// candidate campaign and creative of an imp, under the bidder's deadline
// (ctx); it must not modify or keep the request, the imp, the campaign or
// the creative. An error (ctx's, when it runs out of time), or a rate
// outside [0, 1], is a failure, counted (Stats.PredictorErrors,
// PredictorTimeouts) and told to the PredictorErrorHooks: the campaign
// skips the imp or falls back to its fixed rates, as its
// Goal.OnPredictorError says; the auction goes on. GoalCPM campaigns never call it.
type Predictor interface {
	Predict(ctx context.Context, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *Campaign, cr *Creative) (Prediction, error)
}

// A BidObserver is told of every bid a Bidder makes, once per bid, with
// what the bid was made from: a Predictor that implements it (as
// predict.Predictor does) learns at bid time which features its
// prediction used, to label them when the impression is billed and
// clicked. The Bidder calls ObserveBid from Bid, after the bid's id is
// made and before Bid returns, for CPM goals too: p is then the zero
// Prediction, which nothing asked for; for a failed prediction it is the
// fallback rates the bid used. Like Predict it runs in many goroutines at
// once, must be quick, and must not modify or keep req, imp, c or cr
// (bidID it may keep). See WithPredictor and WithBidObserver.
type BidObserver interface {
	ObserveBid(bidID string, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *Campaign, cr *Creative, p Prediction)
}

// PredictorFunc adapts a function to a Predictor.
type PredictorFunc func(ctx context.Context, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *Campaign, cr *Creative) (Prediction, error)

// Predict calls f.
func (f PredictorFunc) Predict(ctx context.Context, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *Campaign, cr *Creative) (Prediction, error) {
	return f(ctx, req, imp, c, cr)
}

// FixedRates is the default Predictor: every campaign's Goal.FallbackCTR
// and Goal.FallbackCVR.
var FixedRates Predictor = PredictorFunc(fixedRates)

func fixedRates(_ context.Context, _ *openrtb2.BidRequest, _ *openrtb2.Imp, c *Campaign, _ *Creative) (Prediction, error) {
	return Prediction{CTR: c.Goal.FallbackCTR, CVR: c.Goal.FallbackCVR}, nil
}
