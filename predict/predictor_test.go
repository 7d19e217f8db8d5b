package predict_test

import (
	"bytes"
	"context"
	"math"
	"sync"
	"testing"

	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/predict"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// models returns a click and a conversion model over x's buckets, the click
// model trained so that c1's CTR on request(5) is about 1%.
func models(t testing.TB, x *predict.Extractor) (ctr, cvr *predict.Model) {
	t.Helper()
	cfg := predict.DefaultConfig()
	cfg.Bits = x.Bits()
	ctr, err := predict.NewModel(cfg)
	require.NoError(t, err)
	cvr, err = predict.NewModel(cfg)
	require.NoError(t, err)
	c := cpcCampaign("c1")
	req := request(5)
	f := x.Extract(nil, req, &req.Imp[0], c, &c.Creatives[0], noon)
	for i := range 5_000 {
		ctr.Learn(f, i%100 == 0)
		cvr.Learn(f, i%10 == 0)
	}
	return ctr, cvr
}

func TestPredictorPredicts(t *testing.T) {
	x := extractor(t)
	ctr, cvr := models(t, x)
	p, err := predict.NewPredictor(ctr, cvr, x, predict.WithClock(auctiontest.NewClock(noon)))
	require.NoError(t, err)
	c := cpcCampaign("c1")
	req := request(5)
	got, err := p.Predict(context.Background(), req, &req.Imp[0], c, &c.Creatives[0])
	require.NoError(t, err)
	f := p.Features(nil, req, &req.Imp[0], c, &c.Creatives[0], noon)
	assert.Equal(t, campaign.Prediction{CTR: ctr.Predict(f), CVR: cvr.Predict(f)}, got)
	assert.InDelta(t, 0.01, got.CTR, 0.003)
	assert.InDelta(t, 0.1, got.CVR, 0.02)

	noCVR, err := predict.NewPredictor(ctr, nil, x)
	require.NoError(t, err)
	c.Goal.FallbackCVR = 0.25
	got, err = noCVR.Predict(context.Background(), req, &req.Imp[0], c, &c.Creatives[0])
	require.NoError(t, err)
	assert.Equal(t, 0.25, got.CVR)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.Predict(ctx, req, &req.Imp[0], c, &c.Creatives[0])
	assert.ErrorIs(t, err, context.Canceled)
}

func TestPredictorDoesNotAllocate(t *testing.T) {
	x := extractor(t)
	ctr, cvr := models(t, x)
	p, err := predict.NewPredictor(ctr, cvr, x, predict.WithClock(auctiontest.NewClock(noon)))
	require.NoError(t, err)
	c := cpcCampaign("c1")
	req := request(5)
	ctx := context.Background()
	var got campaign.Prediction
	allocs := testing.AllocsPerRun(1000, func() {
		got, _ = p.Predict(ctx, req, &req.Imp[0], c, &c.Creatives[0])
	})
	assert.Zero(t, allocs)
	assert.Positive(t, got.CTR)
}

func TestNewPredictorNamesEveryProblem(t *testing.T) {
	x := extractor(t, predict.WithBits(12))
	cfg := predict.DefaultConfig()
	cfg.Bits = 10
	m, err := predict.NewModel(cfg)
	require.NoError(t, err)
	_, err = predict.NewPredictor(nil, m, x, predict.WithClock(nil))
	require.Error(t, err)
	for _, s := range []string{"nil click model", "conversion model of 10 bits, extractor of 12", "nil clock"} {
		assert.ErrorContains(t, err, s)
	}
	_, err = predict.NewPredictor(m, nil, nil)
	assert.ErrorContains(t, err, "nil extractor")
}

// A CPC campaign bids its value per click × the predicted CTR × 1000,
// capped by its BidCapMicros.
func TestPredictorInBidder(t *testing.T) {
	x := extractor(t)
	ctr, cvr := models(t, x)
	clock := auctiontest.NewClock(noon)
	p, err := predict.NewPredictor(ctr, cvr, x, predict.WithClock(clock))
	require.NoError(t, err)
	cheap, dear := cpcCampaign("c1"), cpcCampaign("c1")
	cheap.Goal.Value, cheap.BidCapMicros = 200_000, 10_000_000 // 0.20 per click
	dear.Goal.Value, dear.BidCapMicros = 5_000_000, 3_000_000  // 5.00 per click, capped at 3.00 CPM
	req := request(5)
	want, err := p.Predict(context.Background(), req, &req.Imp[0], cheap, &cheap.Creatives[0])
	require.NoError(t, err)
	for _, tt := range []struct {
		name string
		c    *campaign.Campaign
		cpm  float64
	}{
		{"cpc", cheap, math.Round(200_000*want.CTR*1000) / 1e6},
		{"cpc capped", dear, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := campaign.NewBidder("house", campaign.WithCampaigns(tt.c), campaign.WithPredictor(p), campaign.WithClock(clock))
			require.NoError(t, err)
			resp, err := b.Bid(context.Background(), request(5))
			require.NoError(t, err)
			require.NotNil(t, resp)
			require.Len(t, resp.SeatBid, 1)
			require.Len(t, resp.SeatBid[0].Bid, 1)
			bid := resp.SeatBid[0].Bid[0]
			assert.InDelta(t, tt.cpm, bid.Price, 1e-9)
			assert.Equal(t, openrtb2.MarkupBanner, bid.MType)
			assert.Zero(t, b.Stats().PredictorErrors)
		})
	}
	assert.InDelta(t, 2.0, math.Round(200_000*want.CTR*1000)/1e6, 0.6, "about 0.20 × 1% × 1000")
}

// A process that learns saves a snapshot; one that serves loads it and
// swaps it in while predicting.
func TestPredictorSetModels(t *testing.T) {
	defer goleak.VerifyNone(t)
	x := extractor(t)
	ctr, cvr := models(t, x)
	var snap bytes.Buffer
	require.NoError(t, ctr.Save(&snap))

	cfg := predict.DefaultConfig()
	cfg.Bits = x.Bits()
	fresh, err := predict.NewModel(cfg)
	require.NoError(t, err)
	p, err := predict.NewPredictor(fresh, nil, x, predict.WithClock(auctiontest.NewClock(noon)))
	require.NoError(t, err)
	c := cpcCampaign("c1")
	req := request(5)

	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			got, err := p.Predict(context.Background(), req, &req.Imp[0], c, &c.Creatives[0])
			if err != nil || !(got.CTR > 0 && got.CTR < 1) {
				t.Errorf("prediction %+v, %v", got, err)
				return
			}
		}
	})
	loaded, err := predict.Load(&snap)
	require.NoError(t, err)
	require.NoError(t, p.SetModels(loaded, cvr))
	close(done)
	wg.Wait()

	got, err := p.Predict(context.Background(), req, &req.Imp[0], c, &c.Creatives[0])
	require.NoError(t, err)
	want, _ := predict.NewPredictor(ctr, cvr, x, predict.WithClock(auctiontest.NewClock(noon)))
	wantP, err := want.Predict(context.Background(), req, &req.Imp[0], c, &c.Creatives[0])
	require.NoError(t, err)
	assert.Equal(t, wantP, got)
	gotCTR, gotCVR := p.Models()
	assert.Same(t, loaded, gotCTR)
	assert.Same(t, cvr, gotCVR)

	small, err := predict.NewModel(predict.Config{Bits: 8, Alpha: 1, Beta: 1, NegativeRate: 1})
	require.NoError(t, err)
	assert.ErrorContains(t, p.SetModels(small, nil), "click model of 8 bits, extractor of 20")
	assert.ErrorContains(t, p.SetModels(nil, small), "nil click model")
	gotCTR, _ = p.Models()
	assert.Same(t, loaded, gotCTR, "unchanged after an error")
}
