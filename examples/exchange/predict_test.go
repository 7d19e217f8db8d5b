package main

import (
	"context"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
)

// The house predictor starts on the campaigns' fallback rates and moves
// as billed impressions and clicks come in.
func TestHousePredictorLearns(t *testing.T) {
	cs := houseCampaigns()
	hp, err := newHousePredictor(cs)
	require.NoError(t, err)
	var puzzle *campaign.Campaign
	for _, c := range cs {
		if c.Goal.Kind == campaign.GoalCPC {
			puzzle = c
		}
	}
	require.NotNil(t, puzzle)
	req := &openrtb2.BidRequest{ID: "r", Imp: []openrtb2.Imp{{ID: "1", Banner: &openrtb2.Banner{Format: []openrtb2.Format{{W: 320, H: 50}}}}},
		Device: &openrtb2.Device{DeviceType: adcom1.DevicePhone, OS: "iOS"}, Site: &openrtb2.Site{Domain: "news.example"}}
	ctx := context.Background()
	p0, err := hp.predictor.Predict(ctx, req, &req.Imp[0], puzzle, &puzzle.Creatives[0])
	require.NoError(t, err)
	t.Logf("warm-started CTR %.5f", p0.CTR)
	assert.InDelta(t, puzzle.Goal.FallbackCTR, p0.CTR, 0.003, "warm-started on the fallback CTR")

	for i := range 200 { // every impression clicked
		id := campaign.BidID{Campaign: puzzle.ID, Creative: puzzle.Creatives[0].ID, User: campaign.NoUser, Nonce: string(rune('a'+i%26)) + time.Duration(i).String()}.String()
		hp.predictor.ObserveBid(id, req, &req.Imp[0], puzzle, &puzzle.Creatives[0], p0)
		hp.predictor.Billed(gavel.Billing{Bidder: houseBidder, BidID: id}, 1)
		hp.learner.Clicked(gavel.Event{Type: gavel.EventClick, BidID: id, Time: time.Now().UnixMilli()})
	}
	p1, err := hp.predictor.Predict(ctx, req, &req.Imp[0], puzzle, &puzzle.Creatives[0])
	require.NoError(t, err)
	assert.Greater(t, p1.CTR, 2*p0.CTR)
	assert.Equal(t, int64(200), hp.learner.Stats().Clicks)
}
