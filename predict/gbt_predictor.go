package predict

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// A GBTPredictor is a campaign.Predictor over gradient boosted tree
// models trained elsewhere (LoadXGBoost): a click model and, optionally, a
// model of conversions given a click. For each (imp, campaign, creative)
// it fills one feature vector (its GBTFeatureFunc) and asks both. It takes
// no lock, does not allocate once warm (the vectors are pooled), and its
// models may be replaced while it predicts (SetModels). Create one with
// NewGBTPredictor; the zero GBTPredictor is not usable.
type GBTPredictor struct {
	models   atomic.Pointer[gbtModels]
	features GBTFeatureFunc
	clock    gavel.Clock
	vectors  sync.Pool // *[]float64
}

// gbtModels are the two models a GBTPredictor serves, swapped as one, and
// the length of the vector they read.
type gbtModels struct {
	ctr, cvr *GBTModel
	n        int
}

var _ campaign.Predictor = (*GBTPredictor)(nil)

// NewGBTPredictor returns a GBTPredictor of CTR by ctr and CVR by cvr over
// the features that features fills. cvr may be nil: the CVR is then each
// campaign's Goal.FallbackCVR. features may be nil when ctr was trained
// with feature names: the mapping is then GBTFeaturesByName(ctr's names).
// Of the PredictorOptions only WithClock applies (the time of the hour,
// weekday and age features). It reports every problem at once, wrapping
// gavel.ErrInvalidOption: a nil ctr, a nil features without names to map,
// names GBTFeaturesByName does not know, a nil clock.
func NewGBTPredictor(ctr, cvr *GBTModel, features GBTFeatureFunc, opts ...PredictorOption) (*GBTPredictor, error) {
	var o Predictor // the options are Predictor's
	o.clock = systemClock{}
	for _, opt := range opts {
		opt.apply(&o)
	}
	p := &GBTPredictor{features: features, clock: o.clock}
	var errs []error
	if ctr == nil {
		errs = append(errs, fmt.Errorf("%w: predict: nil click model", gavel.ErrInvalidOption))
	} else if features == nil {
		var err error
		if len(ctr.FeatureNames()) == 0 {
			err = fmt.Errorf("%w: predict: no GBTFeatureFunc, and a click model without feature names", gavel.ErrInvalidOption)
		} else {
			p.features, err = GBTFeaturesByName(ctr.FeatureNames())
		}
		errs = append(errs, err)
	}
	if p.clock == nil {
		errs = append(errs, fmt.Errorf("%w: predict: nil clock", gavel.ErrInvalidOption))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p.store(ctr, cvr)
	return p, nil
}

func (p *GBTPredictor) store(ctr, cvr *GBTModel) {
	n := ctr.NumFeature()
	if cvr != nil {
		n = max(n, cvr.NumFeature())
	}
	p.models.Store(&gbtModels{ctr: ctr, cvr: cvr, n: n})
}

// SetModels replaces the models p serves; predictions under way finish
// with the old ones. The GBTFeatureFunc stays: the new models must read
// the same columns. It returns an error wrapping gavel.ErrInvalidOption,
// and changes nothing, if ctr is nil. cvr may be nil.
func (p *GBTPredictor) SetModels(ctr, cvr *GBTModel) error {
	if ctr == nil {
		return fmt.Errorf("%w: predict: nil click model", gavel.ErrInvalidOption)
	}
	p.store(ctr, cvr)
	return nil
}

// Models returns the models p serves now.
func (p *GBTPredictor) Models() (ctr, cvr *GBTModel) {
	m := p.models.Load()
	return m.ctr, m.cvr
}

// Predict implements campaign.Predictor. It returns ctx.Err() if ctx is
// done, and nothing else fails.
func (p *GBTPredictor) Predict(ctx context.Context, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *campaign.Campaign, cr *campaign.Creative) (campaign.Prediction, error) {
	if err := ctx.Err(); err != nil {
		return campaign.Prediction{}, err
	}
	m := p.models.Load()
	vp, _ := p.vectors.Get().(*[]float64)
	if vp == nil {
		vp = new([]float64)
	}
	if cap(*vp) < m.n {
		*vp = make([]float64, m.n)
	}
	x := (*vp)[:m.n]
	for i := range x {
		x[i] = math.NaN()
	}
	p.features(x, req, imp, c, cr, p.clock.Now())
	out := campaign.Prediction{CTR: m.ctr.Predict(x), CVR: c.Goal.FallbackCVR}
	if m.cvr != nil {
		out.CVR = m.cvr.Predict(x)
	}
	p.vectors.Put(vp)
	return out, nil
}
