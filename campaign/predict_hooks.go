package campaign

import (
	"context"
	"errors"
	"fmt"
)

// ErrInvalidPrediction is the error a PredictorErrorHook is told of when
// a Predictor returned a rate outside [0, 1] (or NaN) without an error.
var ErrInvalidPrediction = errors.New("campaign: predicted rate outside [0, 1]")

// PredictorErrorHook is told of every failed prediction: the Predictor
// returned an error (ctx's error when it ran out of the bidder's time)
// or an invalid rate (ErrInvalidPrediction). fellBack says whether the
// campaign bid on its fallback rates (FallbackOnError) or skipped the imp.
// It is called on the bidding goroutine, so it must be fast and safe for
// concurrent use. The auction goes on either way.
type PredictorErrorHook interface {
	OnPredictorError(c *Campaign, err error, fellBack bool)
}

// WithPredictorHooks adds hooks told of failed predictions. Default: none.
func WithPredictorHooks(hooks ...PredictorErrorHook) Option {
	return optionFunc(func(c *config) {
		for _, h := range hooks {
			if h == nil {
				c.fail("predictor hook must not be nil")
				continue
			}
			c.predictorHooks = append(c.predictorHooks, h)
		}
	})
}

// predictorFailed counts a failed prediction of c and tells the hooks.
func (b *Bidder) predictorFailed(ctx context.Context, c *Campaign, p Prediction, err error) {
	b.stats.predictorErrors.Add(1)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		b.stats.predictorTimeouts.Add(1)
	}
	if len(b.cfg.predictorHooks) == 0 {
		return
	}
	if err == nil {
		err = fmt.Errorf("%w: ctr %v, cvr %v", ErrInvalidPrediction, p.CTR, p.CVR)
	}
	fellBack := c.Goal.OnPredictorError == FallbackOnError
	for _, h := range b.cfg.predictorHooks {
		h.OnPredictorError(c, err, fellBack)
	}
}
