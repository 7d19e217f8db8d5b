package benchmarks_test

import (
	"context"
	"testing"
	"time"

	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/predict"
)

// BenchmarkCampaignBidPredicted is BenchmarkCampaignBid's request against
// its 20 matching campaigns, made CPC goals (a target of 0.50, a cap of
// 50.00 CPM that no bid reaches, so that every candidate is predicted),
// bidding on their fixed CTR of 1% (predictor=fixed) or on a
// predict.Predictor of a click and a conversion model over 2^20 buckets
// (predictor=ftrl); the difference is the prediction's cost. Every call
// must bid on all 3 imps.
func BenchmarkCampaignBidPredicted(b *testing.B) {
	cs := campaignSet(campaignMatches)
	for _, c := range cs {
		c.Goal = campaign.Goal{Kind: campaign.GoalCPC, Value: 500_000, FallbackCTR: 0.01}
		c.BidCapMicros = 50_000_000
	}
	x, err := predict.NewExtractor()
	if err != nil {
		b.Fatal(err)
	}
	ctr, err := predict.NewModel(predict.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	cvr, err := predict.NewModel(predict.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	req := campaignRequest()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for i := range 20_000 { // a click model at about 1% on this traffic
		c := cs[i%len(cs)]
		f := x.Extract(nil, req, &req.Imp[i%2], c, &c.Creatives[i%2], now)
		ctr.Learn(f, i%100 == 0)
		cvr.Learn(f, i%10 == 0)
	}
	p, err := predict.NewPredictor(ctr, cvr, x)
	if err != nil {
		b.Fatal(err)
	}
	for _, bench := range []struct {
		name string
		p    campaign.Predictor
	}{{"fixed", campaign.FixedRates}, {"ftrl", p}} {
		b.Run("campaigns=20/imps=3/predictor="+bench.name, func(b *testing.B) {
			bd, err := campaign.NewBidder("house", campaign.WithCampaigns(cs...), campaign.WithPredictor(bench.p))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := bd.Bid(ctx, req)
				bids := 0
				if resp != nil {
					for _, sb := range resp.SeatBid {
						bids += len(sb.Bid)
					}
				}
				if err != nil || bids != 3 {
					b.Fatalf("want 3 bids, got %d (%v)", bids, err)
				}
			}
		})
	}
}
