package predict_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/predict"
)

// BenchmarkPredict is the features and the predictions (click and
// conversion) of one (imp, campaign, creative): 20 features and 2 per
// segment, 30 with 5 segments.
func BenchmarkPredict(b *testing.B) {
	for _, segments := range []int{0, 5, 16} {
		b.Run(fmt.Sprintf("features=%d", 20+2*segments), func(b *testing.B) {
			x := extractor(b)
			ctr, cvr := models(b, x)
			p, err := predict.NewPredictor(ctr, cvr, x, predict.WithClock(auctiontest.NewClock(noon)))
			if err != nil {
				b.Fatal(err)
			}
			c := cpcCampaign("c1")
			req := request(segments)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				got, err := p.Predict(ctx, req, &req.Imp[0], c, &c.Creatives[0])
				if err != nil || !(got.CTR > 0 && got.CTR < 1) || !(got.CVR > 0 && got.CVR < 1) {
					b.Fatalf("prediction %+v, %v", got, err)
				}
			}
		})
	}
}

// BenchmarkExtract is the features alone, 30 of them.
func BenchmarkExtract(b *testing.B) {
	x := extractor(b)
	c := cpcCampaign("c1")
	req := request(5)
	dst := make([]uint32, 0, x.MaxFeatures())
	b.ReportAllocs()
	for b.Loop() {
		dst = x.Extract(dst[:0], req, &req.Imp[0], c, &c.Creatives[0], noon)
	}
	if len(dst) != 30 {
		b.Fatalf("%d features", len(dst))
	}
}

// BenchmarkLearn is one FTRL update of 30 features.
func BenchmarkLearn(b *testing.B) {
	x := extractor(b)
	m, err := predict.NewModel(predict.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	c := cpcCampaign("c1")
	req := request(5)
	f := x.Extract(nil, req, &req.Imp[0], c, &c.Creatives[0], noon)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		m.Learn(f, i%50 == 0)
	}
	if p := m.Predict(f); !(p > 0 && p < 1) {
		b.Fatalf("prediction %v", p)
	}
}

// BenchmarkBidder is a campaign.Bidder bidding for a 3-imp request with
// 20 matching CPC campaigns, with the campaigns' fixed rates and with a
// Predictor of both models: the difference is the prediction's cost.
func BenchmarkBidder(b *testing.B) {
	x := extractor(b)
	ctr, cvr := models(b, x)
	clock := auctiontest.NewClock(noon)
	p, err := predict.NewPredictor(ctr, cvr, x, predict.WithClock(clock))
	if err != nil {
		b.Fatal(err)
	}
	cs := make([]*campaign.Campaign, 20)
	for i := range cs {
		cs[i] = cpcCampaign(fmt.Sprintf("c%02d", i))
		cs[i].Goal.FallbackCTR = 0.01
	}
	for _, bench := range []struct {
		name string
		p    campaign.Predictor
	}{{"predictor=fixed", campaign.FixedRates}, {"predictor=ftrl", p}} {
		b.Run("imps=3/campaigns=20/"+bench.name, func(b *testing.B) {
			bd, err := campaign.NewBidder("house", campaign.WithCampaigns(cs...), campaign.WithPredictor(bench.p), campaign.WithClock(clock))
			if err != nil {
				b.Fatal(err)
			}
			req := request(5)
			req.Imp = append(req.Imp, auctiontest.BannerImp("2", 0.1, [2]int64{300, 250}), auctiontest.BannerImp("3", 0.1, [2]int64{300, 250}))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := bd.Bid(ctx, req)
				if err != nil || resp == nil || len(resp.SeatBid[0].Bid) != 3 {
					b.Fatalf("response %+v, %v", resp, err)
				}
			}
		})
	}
}

// BenchmarkBidderPredictionShare reports the prediction's share of the
// campaign Bidder's time for a 3-imp request with 20 matching CPC
// campaigns: each iteration bids once on the campaigns' fixed rates and
// once on a Predictor of both models, interleaved so that both see the
// same machine, and the share is (ftrl − fixed) / ftrl. The campaigns'
// caps are set well above their bids (cap=high), so that every candidate
// is predicted, or at the bids (cap=at-bid, as in BenchmarkBidder), so
// that the Bidder can skip the candidates whose cap cannot beat the best
// bid so far.
func BenchmarkBidderPredictionShare(b *testing.B) {
	for _, capMicros := range []struct {
		name   string
		micros int64
	}{{"high", 50_000_000}, {"at-bid", 5_000_000}} {
		b.Run("imps=3/campaigns=20/cap="+capMicros.name, func(b *testing.B) {
			x := extractor(b)
			ctr, cvr := models(b, x)
			clock := auctiontest.NewClock(noon)
			p, err := predict.NewPredictor(ctr, cvr, x, predict.WithClock(clock))
			if err != nil {
				b.Fatal(err)
			}
			cs := make([]*campaign.Campaign, 20)
			for i := range cs {
				cs[i] = cpcCampaign(fmt.Sprintf("c%02d", i))
				cs[i].Goal.FallbackCTR = 0.01
				cs[i].BidCapMicros = capMicros.micros
			}
			fixed, err := campaign.NewBidder("house", campaign.WithCampaigns(cs...), campaign.WithClock(clock))
			if err != nil {
				b.Fatal(err)
			}
			ftrl, err := campaign.NewBidder("house", campaign.WithCampaigns(cs...), campaign.WithPredictor(p), campaign.WithClock(clock))
			if err != nil {
				b.Fatal(err)
			}
			req := request(5)
			req.Imp = append(req.Imp, auctiontest.BannerImp("2", 0.1, [2]int64{300, 250}), auctiontest.BannerImp("3", 0.1, [2]int64{300, 250}))
			ctx := context.Background()
			var fixedNs, ftrlNs time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				r1, _ := fixed.Bid(ctx, req)
				t1 := time.Now()
				r2, _ := ftrl.Bid(ctx, req)
				t2 := time.Now()
				fixedNs, ftrlNs = fixedNs+t1.Sub(t0), ftrlNs+t2.Sub(t1)
				if r1 == nil || r2 == nil || len(r2.SeatBid[0].Bid) != 3 {
					b.Fatalf("responses %+v, %+v", r1, r2)
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64(fixedNs)/n, "fixed-ns/op")
			b.ReportMetric(float64(ftrlNs)/n, "ftrl-ns/op")
			b.ReportMetric(float64(ftrlNs-fixedNs)/float64(ftrlNs), "prediction-share")
		})
	}
}
