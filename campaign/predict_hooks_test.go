package campaign_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/campaign"
)

type predictorFailures struct {
	mu   sync.Mutex
	errs []error
	fell []bool
}

func (h *predictorFailures) OnPredictorError(_ *campaign.Campaign, err error, fellBack bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errs = append(h.errs, err)
	h.fell = append(h.fell, fellBack)
}

// TestPredictorFailuresAreReported: a Predictor that fails, returns a
// rate out of range or runs out of the bidder's time is counted and told
// to the hooks; the Bidder still answers.
func TestPredictorFailuresAreReported(t *testing.T) {
	fail := errors.New("model down")
	slow := campaign.PredictorFunc(func(ctx context.Context, _ *openrtb2.BidRequest, _ *openrtb2.Imp, _ *campaign.Campaign, _ *campaign.Creative) (campaign.Prediction, error) {
		<-ctx.Done()
		return campaign.Prediction{}, ctx.Err()
	})
	tests := []struct {
		name      string
		predictor campaign.Predictor
		policy    campaign.PredictorErrorPolicy
		wantErr   error
		timeout   bool
	}{
		{"error, skip", rates(0, 0, fail), campaign.SkipOnError, fail, false},
		{"error, fall back", rates(0, 0, fail), campaign.FallbackOnError, fail, false},
		{"out of range", rates(1.5, 0, nil), campaign.SkipOnError, campaign.ErrInvalidPrediction, false},
		{"out of time", slow, campaign.FallbackOnError, context.DeadlineExceeded, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validCampaign("c")
			c.Goal = campaign.Goal{Kind: campaign.GoalCPC, Value: 1_000_000, FallbackCTR: 0.001, OnPredictorError: tt.policy}
			hook := &predictorFailures{}
			b, err := campaign.NewBidder("house", campaign.WithCampaigns(c), campaign.WithPredictor(tt.predictor),
				campaign.WithPredictorHooks(hook))
			require.NoError(t, err)
			req := baseRequest()
			req.Imp[0].BidFloor = 0
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			resp, err := b.Bid(ctx, req)
			require.NoError(t, err)
			if tt.policy == campaign.FallbackOnError {
				_, bid := onlyBid(t, resp)
				assert.InDelta(t, 1.0, bid.Price, 1e-9, "the fallback rate's bid")
			} else {
				assert.Nil(t, resp)
			}
			st := b.Stats()
			assert.Equal(t, int64(1), st.PredictorErrors)
			assert.Equal(t, map[bool]int64{true: 1, false: 0}[tt.timeout], st.PredictorTimeouts)
			require.Len(t, hook.errs, 1)
			assert.ErrorIs(t, hook.errs[0], tt.wantErr)
			assert.Equal(t, tt.policy == campaign.FallbackOnError, hook.fell[0])
		})
	}
	_, err := campaign.NewBidder("house", campaign.WithPredictorHooks(nil))
	assert.Error(t, err)
}
