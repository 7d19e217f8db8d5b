package predict

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// maxStackFeatures is the capacity of the feature buffer Predict keeps on
// its stack; an Extractor with more features allocates.
const maxStackFeatures = 128

// A Predictor is a campaign.Predictor over a click model and a model of
// conversions given a click: for each (imp, campaign, creative) it
// extracts the features once and asks both. It takes no lock and does not
// allocate (with an Extractor of at most 128 features), and the models may
// learn while it predicts, or be replaced (SetModels, say by a snapshot
// loaded from the process that learns). Create one with NewPredictor; the
// zero Predictor is not usable.
type Predictor struct {
	models atomic.Pointer[models]
	x      *Extractor
	clock  gavel.Clock

	// Feedback from live traffic (feedback.go): nil bids without a Learner.
	learner     *Learner
	bids        *bidMemory
	memSize     int
	memTTL      time.Duration
	fed         feedbackCounters
	nextAdvance atomic.Int64 // Unix nanoseconds
	errs        []error      // of the options
}

// models are the two models a Predictor serves, swapped as one.
type models struct{ ctr, cvr *Model }

var _ campaign.Predictor = (*Predictor)(nil)

// A PredictorOption configures a Predictor.
type PredictorOption interface {
	apply(*Predictor)
}

type predictorOption func(*Predictor)

func (f predictorOption) apply(p *Predictor) { f(p) }

// WithClock sets the clock whose time gives the hour and weekday features.
// It must not be nil. Default: the system clock.
func WithClock(clk gavel.Clock) PredictorOption {
	return predictorOption(func(p *Predictor) { p.clock = clk })
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// NewPredictor returns a Predictor of CTR by ctr and CVR by cvr over the
// features of x. cvr may be nil: the CVR is then each campaign's
// Goal.FallbackCVR. It reports every problem at once, wrapping
// gavel.ErrInvalidOption: a nil ctr or x, a model whose Bits differ from
// x's, a nil clock, a nil Learner or an invalid bid memory.
func NewPredictor(ctr, cvr *Model, x *Extractor, opts ...PredictorOption) (*Predictor, error) {
	p := &Predictor{x: x, clock: systemClock{}, memSize: DefaultBidMemory, memTTL: DefaultBidTTL}
	for _, o := range opts {
		o.apply(p)
	}
	errs := p.errs
	p.errs = nil
	if x == nil {
		errs = append(errs, fmt.Errorf("%w: predict: nil extractor", gavel.ErrInvalidOption))
	} else {
		errs = append(errs, checkModels(ctr, cvr, x))
	}
	if p.clock == nil {
		errs = append(errs, fmt.Errorf("%w: predict: nil clock", gavel.ErrInvalidOption))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p.models.Store(&models{ctr, cvr})
	if p.learner != nil {
		p.bids = newBidMemory(p.memSize, p.memTTL, x.MaxFeatures())
	}
	return p, nil
}

// SetModels replaces the models p serves; predictions under way finish
// with the old ones. It returns an error wrapping gavel.ErrInvalidOption,
// and changes nothing, if ctr is nil or a model's Bits differ from the
// Extractor's. cvr may be nil, as for NewPredictor.
func (p *Predictor) SetModels(ctr, cvr *Model) error {
	if err := checkModels(ctr, cvr, p.x); err != nil {
		return err
	}
	p.models.Store(&models{ctr, cvr})
	return nil
}

// Models returns the models p serves now.
func (p *Predictor) Models() (ctr, cvr *Model) {
	m := p.models.Load()
	return m.ctr, m.cvr
}

// checkModels returns every problem of a click and a conversion model for
// the features of x, nil if none.
func checkModels(ctr, cvr *Model, x *Extractor) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: predict: "+format, append([]any{gavel.ErrInvalidOption}, args...)...))
	}
	if ctr == nil {
		bad("nil click model")
	} else if ctr.Bits() != x.Bits() {
		bad("click model of %d bits, extractor of %d", ctr.Bits(), x.Bits())
	}
	if cvr != nil && cvr.Bits() != x.Bits() {
		bad("conversion model of %d bits, extractor of %d", cvr.Bits(), x.Bits())
	}
	return errors.Join(errs...)
}

// Predict implements campaign.Predictor. It returns ctx.Err() if ctx is
// done, and nothing else fails.
func (p *Predictor) Predict(ctx context.Context, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *campaign.Campaign, cr *campaign.Creative) (campaign.Prediction, error) {
	if err := ctx.Err(); err != nil {
		return campaign.Prediction{}, err
	}
	var buf [maxStackFeatures]uint32
	f := p.x.Extract(buf[:0], req, imp, c, cr, p.clock.Now())
	m := p.models.Load()
	out := campaign.Prediction{CTR: m.ctr.Predict(f), CVR: c.Goal.FallbackCVR}
	if m.cvr != nil {
		out.CVR = m.cvr.Predict(f)
	}
	return out, nil
}

// Features appends the features Predict uses for (req, imp, c, cr) at
// now to dst: the example to give the models' Learn once the impression's
// outcome is known.
func (p *Predictor) Features(dst []uint32, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *campaign.Campaign, cr *campaign.Creative, now time.Time) []uint32 {
	return p.x.Extract(dst, req, imp, c, cr, now)
}
