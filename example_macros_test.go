package gavel_test

import (
	"context"
	"fmt"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

func ExampleExpandMacros() {
	v := gavel.MacroValues{
		AuctionID: "auction-1", ImpID: "1", SeatID: "beta",
		Price: 2_510_000, BidPrice: 3_100_000, Currency: "USD", // micros of CPM
	}
	fmt.Println(gavel.ExpandMacros("https://dsp.example/win?auction=${AUCTION_ID}&imp=${AUCTION_IMP_ID}&price=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}", &v))
	fmt.Println(gavel.ExpandMacros("https://dsp.example/win?p=${AUCTION_PRICE:B64}&mbr=${AUCTION_MBR}", &v))

	// A macro without a value is removed (OpenRTB 2.6 §4.4): nothing is
	// known of a multiplier here.
	fmt.Println(gavel.ExpandMacros("https://dsp.example/win?p=${AUCTION_PRICE}&qty=${AUCTION_MULTIPLIER}", &v))

	// The time of the impression is known only when it is billed:
	// KeepImpTS leaves its macro for that stage, as Result.BidResponse does.
	v.KeepImpTS = true
	burl := gavel.ExpandMacros("https://dsp.example/bill?price=${AUCTION_PRICE}&ts=${AUCTION_IMP_TS}", &v)
	fmt.Println(burl)
	v.ImpTS = 1767225600000 // Unix milliseconds
	fmt.Println(gavel.ExpandMacros(burl, &v))
	// Output:
	// https://dsp.example/win?auction=auction-1&imp=1&price=2.51&cur=USD
	// https://dsp.example/win?p=Mi41MQ==&mbr=0.8096774193548387
	// https://dsp.example/win?p=2.51&qty=
	// https://dsp.example/bill?price=2.51&ts=${AUCTION_IMP_TS}
	// https://dsp.example/bill?price=2.51&ts=1767225600000
}

// LossURL gives the loss notice of a losing bid, with its loss reason and
// the price it had to beat: at second price, the winner's clearing price
// (OpenRTB 2.6 §4.4.1), 3.10 clearing at 2.50 + 0.01.
func ExampleResult_LossURL() {
	lost := auctiontest.Bid("a1", "1", 2.50)
	lost.LURL = "https://alpha.example/loss?auction=${AUCTION_ID}&reason=${AUCTION_LOSS}&min=${AUCTION_MIN_TO_WIN}"
	a, err := gavel.New(gavel.WithBidders(
		auctiontest.Fixed("alpha", lost),
		auctiontest.Fixed("beta", auctiontest.Bid("b1", "1", 3.10)),
	))
	if err != nil {
		panic(err)
	}
	res, err := a.Run(context.Background(), auctiontest.Request("auction-1", auctiontest.BannerImp("1", 1.00)))
	if err != nil {
		panic(err)
	}
	for i, b := range res.Bids {
		if u := res.LossURL(i); u != "" {
			fmt.Println(b.Bidder, u)
		}
	}
	// Output:
	// alpha https://alpha.example/loss?auction=auction-1&reason=102&min=2.51
}
