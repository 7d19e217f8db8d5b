package campaign_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type observed struct {
	bidID, impID, campaign, creative string
	p                                campaign.Prediction
}

// observingPredictor predicts fixed rates and records the bids it is told of.
type observingPredictor struct {
	campaign.Predictor
	mu   sync.Mutex
	seen []observed
}

func (o *observingPredictor) ObserveBid(bidID string, _ *openrtb2.BidRequest, imp *openrtb2.Imp, c *campaign.Campaign, cr *campaign.Creative, p campaign.Prediction) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, observed{bidID, imp.ID, c.ID, cr.ID, p})
}

// A Predictor that is a BidObserver is told of every bid, once, with the
// rates the bid used: predicted, the zero Prediction for a CPM goal, the
// fallback rates for a failed prediction; and so is WithBidObserver.
func TestBidObserver(t *testing.T) {
	cpc, cpm, failing := validCampaign("cpc"), validCampaign("cpm"), validCampaign("failing")
	cpc.Goal = campaign.Goal{Kind: campaign.GoalCPC, Value: 1_000_000}
	cpc.Targeting.Deals = []string{"d1"}
	failing.Goal = campaign.Goal{Kind: campaign.GoalCPC, Value: 1_000_000, FallbackCTR: 0.004, OnPredictorError: campaign.FallbackOnError}
	failing.Targeting.Deals = []string{"d3"}
	cpm.Targeting.Deals = []string{"d2"}
	p := &observingPredictor{Predictor: campaign.PredictorFunc(func(_ context.Context, _ *openrtb2.BidRequest, _ *openrtb2.Imp, c *campaign.Campaign, _ *campaign.Creative) (campaign.Prediction, error) {
		if c.ID == "failing" {
			return campaign.Prediction{}, errors.New("down")
		}
		return campaign.Prediction{CTR: 0.003, CVR: 0.1}, nil
	})}
	other := &observingPredictor{}
	b, err := campaign.NewBidder("house", campaign.WithCampaigns(cpc, cpm, failing), campaign.WithPredictor(p), campaign.WithBidObserver(other))
	require.NoError(t, err)
	req := baseRequest()
	req.Imp = append(req.Imp, auctiontest.BannerImp("2", 0, [2]int64{300, 250}), auctiontest.BannerImp("3", 0, [2]int64{300, 250}))
	req.Imp[0].BidFloor = 0
	for i, id := range []string{"d1", "d2", "d3"} {
		req.Imp[i].PMP = &openrtb2.PMP{PrivateAuction: 1, Deals: []openrtb2.Deal{{ID: id}}}
	}
	resp, err := b.Bid(context.Background(), req)
	require.NoError(t, err)
	ids := map[string]string{} // imp -> bid id
	for _, sb := range resp.SeatBid {
		for _, bid := range sb.Bid {
			ids[bid.ImpID] = bid.ID
		}
	}
	require.Len(t, ids, 3)
	want := []observed{
		{ids["1"], "1", "cpc", "b1", campaign.Prediction{CTR: 0.003, CVR: 0.1}},
		{ids["2"], "2", "cpm", "b1", campaign.Prediction{}},
		{ids["3"], "3", "failing", "b1", campaign.Prediction{CTR: 0.004}},
	}
	assert.ElementsMatch(t, want, p.seen)
	assert.ElementsMatch(t, want, other.seen)

	_, err = campaign.NewBidder("house", campaign.WithBidObserver(nil))
	assert.ErrorIs(t, err, gavel.ErrInvalidOption)
}

// A candidate whose bid cap cannot beat the best bid so far, or is below
// the floor, is not predicted: it could not win.
func TestCapThatCannotWinIsNotPredicted(t *testing.T) {
	first, low, under := validCampaign("a-first"), validCampaign("b-low"), validCampaign("c-under")
	for _, c := range []*campaign.Campaign{first, low, under} {
		c.Goal = campaign.Goal{Kind: campaign.GoalCPC, Value: 1_000_000}
	}
	first.BidCapMicros, low.BidCapMicros, under.BidCapMicros = 3_000_000, 3_000_000, 900_000
	var mu sync.Mutex
	var asked []string
	p := campaign.PredictorFunc(func(_ context.Context, _ *openrtb2.BidRequest, _ *openrtb2.Imp, c *campaign.Campaign, _ *campaign.Creative) (campaign.Prediction, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, c.ID)
		return campaign.Prediction{CTR: 0.01}, nil // 10 CPM: capped
	})
	b, err := campaign.NewBidder("house", campaign.WithCampaigns(first, low, under), campaign.WithPredictor(p))
	require.NoError(t, err)
	req := baseRequest()
	req.Imp[0].BidFloor = 1
	resp, err := b.Bid(context.Background(), req)
	require.NoError(t, err)
	_, bid := onlyBid(t, resp)
	assert.Equal(t, "a-first", bid.CID)
	assert.Equal(t, 3.0, bid.Price)
	assert.Equal(t, []string{"a-first"}, asked)
}
