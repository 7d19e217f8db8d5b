package gavel_test

import (
	"context"
	"fmt"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// A bid in another currency than the auction's takes part once converted;
// the request must allow the currency (cur) and a converter must know the
// rate. The auction currency is the first of cur.
func ExampleWithCurrencyConverter() {
	rates := gavel.RateFunc(func(from, to string) (float64, error) {
		if from == "EUR" && to == "USD" {
			return 1.10, nil // in real life, rates kept in memory and refreshed out of band
		}
		return 0, fmt.Errorf("%w: %s to %s", gavel.ErrNoRate, from, to)
	})
	euroBidder := gavel.BidderFunc("euro", func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		resp := auctiontest.Response(req.ID, "euro", auctiontest.Bid("e1", "1", 2.50))
		resp.Cur = "EUR"
		return resp, nil
	})
	a, err := gavel.New(
		gavel.WithBidders(euroBidder, auctiontest.Fixed("dollar", auctiontest.Bid("d1", "1", 2.60))),
		gavel.WithCurrencyConverter(rates),
	)
	if err != nil {
		panic(err)
	}
	req := auctiontest.Request("auction-1", auctiontest.BannerImp("1", 1.00))
	req.Cur = []string{"USD", "EUR"}
	res, err := a.Run(context.Background(), req)
	if err != nil {
		panic(err)
	}
	for _, b := range res.Bids {
		fmt.Printf("%s: %s %s, won %v\n", b.Bidder, gavel.FormatMicros(b.PriceMicros), res.Currency, b.Won)
	}
	w := res.Winner("1")
	fmt.Printf("%s pays %s %s CPM\n", w.Bidder, gavel.FormatMicros(w.ClearMicros), res.Currency)
	// Output:
	// euro: 2.75 USD, won true
	// dollar: 2.6 USD, won false
	// euro pays 2.61 USD CPM
}
