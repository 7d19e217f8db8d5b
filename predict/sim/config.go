package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/gavelrtb/gavel"
)

// Config configures a simulation. Start from DefaultConfig.
type Config struct {
	Seed uint64
	// Training is the number of auctions of the training days, in which
	// the models learn online from the house's billed impressions, clicks
	// and conversions, spread evenly over TrainingDays days; HeldOut the
	// number of the held-out day, a week after the first. Each day lasts
	// 24 hours of simulated time.
	Training, HeldOut int
	TrainingDays      int
	// CPC and CPA are the numbers of house campaigns of each goal.
	CPC, CPA int
	// Sites, Users and Segments size the World.
	Sites, Users, Segments int
	// CTRLogOdds and CVRLogOdds are the base log odds of a click and of a
	// conversion after a click, before the World's effects.
	CTRLogOdds, CVRLogOdds float64
	// Competitors is the number of in-process bidders the house competes
	// with; each bids on 80% of the imps, lognormal (σ 0.5) around the
	// site's price, itself lognormal (σ 0.3) around MarketCPMMicros.
	Competitors     int
	MarketCPMMicros int64
	// FloorMicros is every imp's floor, CPM micros.
	FloorMicros int64
	// The house campaigns' targets, micros per click and per conversion,
	// and their bid cap, CPM micros.
	TargetCPCMicros, TargetCPAMicros, BidCapMicros int64
	// BudgetPerAuction is each campaign's budget, micros per auction of
	// the day: a day of n auctions has a budget of n × BudgetPerAuction.
	BudgetPerAuction int64
	// WarmUp is how long, from the start of training, the campaigns bid
	// on their fixed rates (Goal.FallbackCTR, FallbackCVR) while the
	// models learn, before they bid on the models' predictions.
	WarmUp time.Duration
	// PacerStep is the EvenPacer's step.
	PacerStep time.Duration
	// Bits is the log2 of the models' buckets.
	Bits int
	// ClickDelay and ConversionDelay are the mean delays of a click after
	// its impression and of a conversion after its click (exponential,
	// cut at the windows); ClickWindow and ConversionWindow the Learner's.
	ClickDelay, ConversionDelay   time.Duration
	ClickWindow, ConversionWindow time.Duration
	// Start is when the training day starts; the held-out day follows.
	Start time.Time
	// HeldOutLearns keeps the models learning on the held-out day, as they
	// would in production; its numbers are still of predictions made
	// before each impression's outcome. Without it the models are frozen
	// at the end of training.
	HeldOutLearns bool
	// CompareFixedCPM runs the held-out day a second time, on the same
	// traffic, with every house campaign bidding a fixed CPM: the price per
	// mille it paid in the first run.
	CompareFixedCPM bool
}

// DefaultConfig returns the configuration the package's tests check: 1M
// training auctions, 250k held out, 4 CPC and 4 CPA campaigns against 3
// competitors, first price.
func DefaultConfig() Config {
	return Config{
		Seed: 1, Training: 1_000_000, HeldOut: 250_000, TrainingDays: 4,
		CPC: 4, CPA: 4, Sites: 30, Users: 20_000, Segments: 12,
		CTRLogOdds: -3.4, CVRLogOdds: -2.0,
		Competitors: 3, MarketCPMMicros: 20_000_000, FloorMicros: 500_000,
		TargetCPCMicros: 800_000, TargetCPAMicros: 6_000_000, BidCapMicros: 150_000_000,
		BudgetPerAuction: 2000,
		WarmUp:           2 * time.Hour,
		PacerStep:        5 * time.Minute,
		Bits:             16,
		ClickDelay:       30 * time.Second, ConversionDelay: 10 * time.Minute,
		ClickWindow: 10 * time.Minute, ConversionWindow: time.Hour,
		Start:           time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC),
		HeldOutLearns:   true,
		CompareFixedCPM: true,
	}
}

// Validate returns every problem of c at once, each wrapping
// gavel.ErrInvalidOption.
func (c Config) Validate() error {
	var errs []error
	bad := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("%w: sim: "+format, append([]any{gavel.ErrInvalidOption}, args...)...))
		}
	}
	bad(c.Training >= 1 && c.HeldOut >= 1, "training %d and held-out %d auctions must be positive", c.Training, c.HeldOut)
	bad(c.TrainingDays >= 1 && c.TrainingDays <= 6 && c.TrainingDays <= c.Training,
		"training days %d not in [1, 6] or more than the auctions", c.TrainingDays)
	bad(c.CPC >= 0 && c.CPA >= 0 && c.CPC+c.CPA > 0, "%d CPC and %d CPA campaigns", c.CPC, c.CPA)
	bad(c.Sites >= 1 && c.Users >= 1 && c.Segments >= 0 && c.Competitors >= 0,
		"%d sites, %d users, %d segments, %d competitors", c.Sites, c.Users, c.Segments, c.Competitors)
	bad(allPositive(c.MarketCPMMicros, c.TargetCPCMicros, c.TargetCPAMicros, c.BidCapMicros, c.BudgetPerAuction) && c.FloorMicros >= 0,
		"prices, targets and budgets must be positive")
	bad(allPositive(int64(c.PacerStep), int64(c.ClickDelay), int64(c.ConversionDelay), int64(c.ClickWindow), int64(c.ConversionWindow)) && c.WarmUp >= 0,
		"step, delays and windows must be positive, warm-up not negative")
	bad(c.Bits >= 1 && c.Bits <= 28, "bits %d not in [1, 28]", c.Bits)
	return errors.Join(errs...)
}

func allPositive(xs ...int64) bool {
	for _, x := range xs {
		if x <= 0 {
			return false
		}
	}
	return true
}
