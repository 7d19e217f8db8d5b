package predict_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/predict"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// A click model learns that one site clicks ten times more than another
// (5% against 0.5%), and the Predictor serves it to a CPC campaign's bids.
func ExampleNewPredictor() {
	x, err := predict.NewExtractor(predict.WithBits(16))
	if err != nil {
		panic(err)
	}
	cfg := predict.DefaultConfig()
	cfg.Bits = x.Bits()
	cfg.NegativeRate = 0.2 // learn from a fifth of the negatives, weighted 5
	ctr, err := predict.NewModel(cfg)
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	p, err := predict.NewPredictor(ctr, nil, x, predict.WithClock(auctiontest.NewClock(now)))
	if err != nil {
		panic(err)
	}

	c := &campaign.Campaign{
		ID: "spring", Account: "acme", Advertiser: "acme",
		Goal:         campaign.Goal{Kind: campaign.GoalCPC, Value: 500_000}, // 0.50 per click
		BidCapMicros: 10_000_000,
		Creatives:    []campaign.Creative{{ID: "banner", MType: openrtb2.MarkupBanner, W: 300, H: 250}},
	}
	on := func(domain string) *openrtb2.BidRequest {
		req := auctiontest.Request("a", auctiontest.BannerImp("1", 0, [2]int64{300, 250}))
		req.Site = &openrtb2.Site{Domain: domain}
		return req
	}
	sites := map[string]int{"news.example": 20, "games.example": 200} // one click in every n impressions
	for i := range 50_000 {
		for _, site := range []string{"news.example", "games.example"} {
			req := on(site)
			f := p.Features(nil, req, &req.Imp[0], c, &c.Creatives[0], now)
			ctr.Learn(f, i%sites[site] == 0)
		}
	}
	for _, site := range []string{"news.example", "games.example"} {
		req := on(site)
		pr, err := p.Predict(context.Background(), req, &req.Imp[0], c, &c.Creatives[0])
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: CTR %.3f, bid %.2f CPM\n", site, pr.CTR, float64(c.Goal.Value)*pr.CTR*1000/1e6)
	}
	// Output:
	// news.example: CTR 0.050, bid 25.23 CPM
	// games.example: CTR 0.005, bid 2.44 CPM
}
