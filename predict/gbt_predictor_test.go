package predict_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/predict"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// gbtRequest is request(0) with the fields of the default mapping set.
func gbtRequest() *openrtb2.BidRequest {
	req := request(0)
	req.Imp[0].BidFloor = 1.5
	pos := adcom1.PositionAboveFold
	req.Imp[0].Banner.Pos = &pos
	ct := adcom1.ConnectionWIFI
	req.Device.ConnectionType = &ct
	req.Device.Geo.UTCOffset = -300 // 07:00 at noon UTC
	req.User.Yob = 1990
	return req
}

func TestGBTFeaturesByName(t *testing.T) {
	names := predict.GBTFeatureNames()
	f, err := predict.GBTFeaturesByName(append(names, ""))
	require.NoError(t, err)
	req := gbtRequest()
	c := cpcCampaign("c1")
	x := make([]float64, len(names)+1)
	for i := range x {
		x[i] = math.NaN()
	}
	f(x, req, &req.Imp[0], c, &c.Creatives[0], noon)
	got := map[string]float64{}
	for i, n := range names {
		got[n] = x[i]
		if math.IsNaN(x[i]) {
			got[n] = -1 // missing: NaN is not equal to itself
		}
	}
	assert.True(t, math.IsNaN(x[len(names)]), "the unnamed column stays missing")
	assert.Equal(t, map[string]float64{
		"age": 36, "app": 0, "bidfloor": 1.5, "connectiontype": float64(adcom1.ConnectionWIFI),
		"creative_h": 250, "creative_w": 300, "devicetype": float64(adcom1.DeviceMobile),
		"h": 250, "hour": 7, "instl": 0, "mtype": float64(openrtb2.MarkupBanner),
		"pos": float64(adcom1.PositionAboveFold), "w": 300, "weekday": float64(time.Tuesday),
		"duration": -1, "secure": -1, // a banner creative has no duration; secure is not set
	}, got)

	_, err = predict.GBTFeaturesByName([]string{"w", "ctr_7d"})
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	assert.ErrorContains(t, err, `"ctr_7d"`)
}

// gbtVector is what the default mapping fills for the model's columns.
func gbtVector(t testing.TB, m *predict.GBTModel, req *openrtb2.BidRequest, c *campaign.Campaign) []float64 {
	f, err := predict.GBTFeaturesByName(m.FeatureNames())
	require.NoError(t, err)
	x := make([]float64, m.NumFeature())
	for i := range x {
		x[i] = math.NaN()
	}
	f(x, req, &req.Imp[0], c, &c.Creatives[0], noon)
	return x
}

func TestGBTPredictor(t *testing.T) {
	m := loadGBT(t)
	req, c := gbtRequest(), cpcCampaign("c1")
	c.Goal.FallbackCVR = 0.05
	want := m.Predict(gbtVector(t, m, req, c))
	clock := predict.WithClock(auctiontest.NewClock(noon))

	p, err := predict.NewGBTPredictor(m, nil, nil, clock)
	require.NoError(t, err)
	got, err := p.Predict(context.Background(), req, &req.Imp[0], c, &c.Creatives[0])
	require.NoError(t, err)
	assert.Equal(t, campaign.Prediction{CTR: want, CVR: 0.05}, got, "without a CVR model, the campaign's fallback")

	// The same model as CVR model, over a mapping of the user's that
	// leaves out the floor.
	custom := func(x []float64, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *campaign.Campaign, cr *campaign.Creative, now time.Time) {
		def, _ := predict.GBTFeaturesByName(m.FeatureNames())
		def(x, req, imp, c, cr, now)
		x[0] = math.NaN()
	}
	p, err = predict.NewGBTPredictor(m, m, custom, clock)
	require.NoError(t, err)
	got, err = p.Predict(context.Background(), req, &req.Imp[0], c, &c.Creatives[0])
	require.NoError(t, err)
	x := gbtVector(t, m, req, c)
	x[0] = math.NaN()
	assert.Equal(t, campaign.Prediction{CTR: m.Predict(x), CVR: m.Predict(x)}, got)
	assert.NotEqual(t, want, got.CTR, "the floor matters to this request")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.Predict(ctx, req, &req.Imp[0], c, &c.Creatives[0])
	assert.ErrorIs(t, err, context.Canceled)
}

func TestNewGBTPredictorNamesEveryProblem(t *testing.T) {
	_, err := predict.NewGBTPredictor(nil, nil, nil, predict.WithClock(nil))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	assert.ErrorContains(t, err, "nil click model")
	assert.ErrorContains(t, err, "nil clock")

	m := loadGBT(t)
	p, err := predict.NewGBTPredictor(m, nil, nil)
	require.NoError(t, err)
	assert.ErrorIs(t, p.SetModels(nil, m), gavel.ErrInvalidOption)
	ctr, cvr := p.Models()
	assert.Same(t, m, ctr)
	assert.Nil(t, cvr)
}

func TestGBTPredictorDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race")
	}
	m := loadGBT(t)
	p, err := predict.NewGBTPredictor(m, m, nil, predict.WithClock(auctiontest.NewClock(noon)))
	require.NoError(t, err)
	req, c := gbtRequest(), cpcCampaign("c1")
	ctx := context.Background()
	var got campaign.Prediction
	allocs := testing.AllocsPerRun(1000, func() {
		got, _ = p.Predict(ctx, req, &req.Imp[0], c, &c.Creatives[0])
	})
	assert.Zero(t, allocs)
	assert.Positive(t, got.CTR)
}

// TestGBTPredictorSetModelsWhilePredicting swaps models under predictions
// (run it with -race).
func TestGBTPredictorSetModelsWhilePredicting(t *testing.T) {
	defer goleak.VerifyNone(t)
	m := loadGBT(t)
	p, err := predict.NewGBTPredictor(m, nil, nil)
	require.NoError(t, err)
	req, c := gbtRequest(), cpcCampaign("c1")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				got, err := p.Predict(context.Background(), req, &req.Imp[0], c, &c.Creatives[0])
				if err != nil || !(got.CTR > 0 && got.CTR < 1) {
					t.Errorf("prediction %+v, %v", got, err)
					return
				}
			}
		})
	}
	for i := range 200 {
		cvr := m
		if i%2 == 0 {
			cvr = nil
		}
		require.NoError(t, p.SetModels(m, cvr))
	}
	wg.Wait()
}

// A CPC campaign bids on the CTR of an XGBoost model as on an online
// model's: its value per click × the predicted CTR × 1000.
func TestGBTPredictorInBidder(t *testing.T) {
	m := loadGBT(t)
	clock := auctiontest.NewClock(noon)
	p, err := predict.NewGBTPredictor(m, nil, nil, predict.WithClock(clock))
	require.NoError(t, err)
	c := cpcCampaign("c1")
	c.Goal.Value, c.BidCapMicros = 200_000, 100_000_000
	req := gbtRequest()
	want, err := p.Predict(context.Background(), req, &req.Imp[0], c, &c.Creatives[0])
	require.NoError(t, err)
	b, err := campaign.NewBidder("house", campaign.WithCampaigns(c), campaign.WithPredictor(p), campaign.WithClock(clock))
	require.NoError(t, err)
	resp, err := b.Bid(context.Background(), gbtRequest())
	require.NoError(t, err)
	require.NotNil(t, resp)
	require.Len(t, resp.SeatBid, 1)
	require.Len(t, resp.SeatBid[0].Bid, 1)
	assert.InDelta(t, math.Round(200_000*want.CTR*1000)/1e6, resp.SeatBid[0].Bid[0].Price, 1e-9)
	assert.Zero(t, b.Stats().PredictorErrors)
}
