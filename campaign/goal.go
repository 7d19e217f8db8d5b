package campaign

import (
	"context"
	"math"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// bidMicros is what campaign c bids for one impression of imp with cr, in
// CPM micros, capped by c.BidCapMicros; 0 means no bid. For CPC and CPA
// goals it asks the Bidder's Predictor, and returns the rates it used.
func (b *Bidder) bidMicros(ctx context.Context, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *Campaign, cr *Creative) (int64, Prediction) {
	g := &c.Goal
	if g.Kind == GoalCPM {
		return min(g.Value, c.BidCapMicros), Prediction{}
	}
	p, err := b.cfg.predictor.Predict(ctx, req, imp, c, cr)
	if err != nil || !validRate(p.CTR) || !validRate(p.CVR) {
		b.predictorFailed(ctx, c, p, err)
		if g.OnPredictorError != FallbackOnError {
			return 0, p
		}
		p = Prediction{CTR: g.FallbackCTR, CVR: g.FallbackCVR}
	}
	return goalBid(g, p, c.BidCapMicros), p
}

// goalBid is the bid per impression, in CPM micros, for a CPC or CPA goal
// at the predicted rates: value × CTR (× CVR for CPA) × 1000, rounded to
// the micro and capped.
func goalBid(g *Goal, p Prediction, capMicros int64) int64 {
	rate := p.CTR
	if g.Kind == GoalCPA {
		rate *= p.CVR
	}
	v := math.Round(float64(g.Value) * rate * 1000)
	if v >= float64(capMicros) {
		return capMicros
	}
	return int64(v)
}

func validRate(r float64) bool { return r >= 0 && r <= 1 }
