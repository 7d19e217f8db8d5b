package predict

import (
	"context"
	"errors"
	"fmt"
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
// learn while it predicts. Create one with NewPredictor; the zero
// Predictor is not usable.
type Predictor struct {
	ctr, cvr *Model
	x        *Extractor
	clock    gavel.Clock
}

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
// x's, a nil clock.
func NewPredictor(ctr, cvr *Model, x *Extractor, opts ...PredictorOption) (*Predictor, error) {
	p := &Predictor{ctr: ctr, cvr: cvr, x: x, clock: systemClock{}}
	for _, o := range opts {
		o.apply(p)
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: predict: "+format, append([]any{gavel.ErrInvalidOption}, args...)...))
	}
	if x == nil {
		bad("nil extractor")
	}
	if ctr == nil {
		bad("nil click model")
	}
	if x != nil && ctr != nil && ctr.Bits() != x.Bits() {
		bad("click model of %d bits, extractor of %d", ctr.Bits(), x.Bits())
	}
	if x != nil && cvr != nil && cvr.Bits() != x.Bits() {
		bad("conversion model of %d bits, extractor of %d", cvr.Bits(), x.Bits())
	}
	if p.clock == nil {
		bad("nil clock")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// Predict implements campaign.Predictor. It returns ctx.Err() if ctx is
// done, and nothing else fails.
func (p *Predictor) Predict(ctx context.Context, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *campaign.Campaign, cr *campaign.Creative) (campaign.Prediction, error) {
	if err := ctx.Err(); err != nil {
		return campaign.Prediction{}, err
	}
	var buf [maxStackFeatures]uint32
	f := p.x.Extract(buf[:0], req, imp, c, cr, p.clock.Now())
	out := campaign.Prediction{CTR: p.ctr.Predict(f), CVR: c.Goal.FallbackCVR}
	if p.cvr != nil {
		out.CVR = p.cvr.Predict(f)
	}
	return out, nil
}

// Features appends the features Predict uses for (req, imp, c, cr) at
// now to dst: the example to give the models' Learn once the impression's
// outcome is known.
func (p *Predictor) Features(dst []uint32, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *campaign.Campaign, cr *campaign.Creative, now time.Time) []uint32 {
	return p.x.Extract(dst, req, imp, c, cr, now)
}
