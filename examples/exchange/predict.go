package main

import (
	"math"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/predict"
)

// predictBits is the log2 of the demo models' buckets: 2^18, 6 MB per
// model.
const predictBits = 18

// The demo's attribution windows (predict.WithClickWindow,
// WithConversionWindow).
const (
	demoClickWindow      = 20 * time.Second
	demoConversionWindow = time.Minute
)

// housePredictor is what the house campaigns' CPC and CPA goals bid on: a
// click model and a model of conversions given a click, learning online
// from the exchange's own traffic. The Predictor keeps the features of
// every house bid (it is a campaign.BidObserver) and, when the
// impression is billed (it is one of the Notices' hooks), gives them to
// the Learner, which the Tracker's clicks and conversions label (it is
// one of the Tracker's hooks). Its Monitors watch both models.
type housePredictor struct {
	predictor      *predict.Predictor
	learner        *predict.Learner
	ctrMon, cvrMon *predict.Monitor
}

// newHousePredictor makes the models, warm-started on the campaigns'
// fallback rates, and the Predictor and Learner around them. The
// Monitors tell monitorHooks (predict.StatsHook, predict.DriftHook: the
// dashboard's model panel) what they see.
func newHousePredictor(cs []*campaign.Campaign, monitorHooks ...any) (*housePredictor, error) {
	x, err := predict.NewExtractor(predict.WithBits(predictBits))
	if err != nil {
		return nil, err
	}
	cfg := predict.DefaultConfig()
	cfg.Bits = predictBits
	ctr, err := predict.NewModel(cfg)
	if err != nil {
		return nil, err
	}
	cvr, err := predict.NewModel(cfg)
	if err != nil {
		return nil, err
	}
	warmStart(x, ctr, cvr, cs)
	hp := &housePredictor{}
	if hp.ctrMon, err = predict.NewMonitor("ctr", predict.WithMonitorHooks(monitorHooks...)); err != nil {
		return nil, err
	}
	if hp.cvrMon, err = predict.NewMonitor("cvr", predict.WithMonitorHooks(monitorHooks...)); err != nil {
		return nil, err
	}
	// The demo's windows are short, so that the dashboard's model panel
	// sees negatives (an impression is one once its window closed without
	// a click) within a minute of the start; a click comes seconds after
	// its impression.
	if hp.learner, err = predict.NewLearner(ctr, cvr, predict.WithMonitors(hp.ctrMon, hp.cvrMon),
		predict.WithClickWindow(demoClickWindow), predict.WithConversionWindow(demoConversionWindow)); err != nil {
		return nil, err
	}
	hp.predictor, err = predict.NewPredictor(ctr, cvr, x, predict.WithLearner(hp.learner),
		predict.WithBidMemory(1<<14, predict.DefaultBidTTL))
	return hp, err
}

// warmStart teaches the models each CPC or CPA campaign's fallback
// rates on its campaign feature, so that a new exchange bids as the
// campaigns say until its own events teach the models better: an
// untrained model predicts 0.5 for everything.
func warmStart(x *predict.Extractor, ctr, cvr *predict.Model, cs []*campaign.Campaign) {
	req := &openrtb2.BidRequest{}
	imp := &openrtb2.Imp{}
	for _, c := range cs {
		if c.Goal.Kind == campaign.GoalCPM {
			continue
		}
		// The second feature is the campaign's (predict.Extractor: the
		// bias, the campaign, ...), which no other campaign shares.
		f := x.Extract(nil, req, imp, c, &c.Creatives[0], time.Unix(0, 0))[1:2]
		learnRate(ctr, f, c.Goal.FallbackCTR)
		learnRate(cvr, f, c.Goal.FallbackCVR)
	}
}

// learnRate gives m examples of f, positive at rate r, until m predicts
// r within 5% (at most 200,000); none for a rate of 0.
func learnRate(m *predict.Model, f []uint32, r float64) {
	if r <= 0 {
		return
	}
	pos := 0
	for i := range 200_000 {
		if i%1000 == 0 && math.Abs(m.Predict(f)-r) <= 0.05*r {
			return
		}
		y := float64(pos) < r*float64(i+1)
		if y {
			pos++
		}
		m.Learn(f, y)
	}
}
