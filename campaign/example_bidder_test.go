package campaign_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// A house campaign in an Auction with a ledger: it bids 2.00 CPM on
// 300x250 banners in the USA, and wins at second price.
func ExampleNewBidder() {
	house, err := campaign.NewBidder("house",
		campaign.WithCampaigns(&campaign.Campaign{
			ID: "spring", Account: "acme", Advertiser: "acme",
			Targeting:    campaign.Targeting{Countries: []string{"USA"}},
			Goal:         campaign.Goal{Kind: campaign.GoalCPM, Value: 2_000_000},
			BidCapMicros: 2_000_000,
			Creatives: []campaign.Creative{{
				ID: "banner", MType: openrtb2.MarkupBanner, W: 300, H: 250,
				Markup:  `<a href="` + campaign.ClickMacro + `"><img src="https://acme.example/a.png"></a>`,
				Landing: "https://acme.example/spring", ADomain: []string{"acme.example"},
			}},
		}),
		campaign.WithBudgets(gavel.Budget{Account: "acme", Amount: 100_000_000, Period: gavel.DailyPeriod(time.UTC, 0)}))
	if err != nil {
		panic(err)
	}
	ledger, err := gavel.NewMemoryLedger()
	if err != nil {
		panic(err)
	}
	a, err := gavel.New(
		gavel.WithBidders(house),
		gavel.WithBidderSeats(house.Name(), house.Accounts()...),
		gavel.WithAccounts(house.AccountFunc(gavel.BidderAccount)),
		gavel.WithLedger(ledger),
		gavel.WithBudgets(house.Budgets()...),
	)
	if err != nil {
		panic(err)
	}
	defer a.Close(context.Background())

	req := auctiontest.Request("auction-1", auctiontest.BannerImp("1", 0.5, [2]int64{300, 250}))
	req.Device = &openrtb2.Device{Geo: &openrtb2.Geo{Country: "USA"}}
	req.Site = &openrtb2.Site{Domain: "news.example"}
	res, err := a.Run(context.Background(), req)
	if err != nil {
		panic(err)
	}
	w := res.Bids[res.Imps[0].Winner]
	fmt.Println(w.Seat, w.Bid.CrID, gavel.FormatMicros(w.PriceMicros), gavel.FormatMicros(w.ClearMicros))
	// Output: acme banner 2 0.51
}
