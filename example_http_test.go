package gavel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

func ExampleNewHTTPBidder() {
	// A demand-side platform that bids 2.50 CPM on the first imp of every
	// request; in real life, a remote OpenRTB 2.6 endpoint.
	dsp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req openrtb2.BidRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp := openrtb2.BidResponse{ID: req.ID, SeatBid: []openrtb2.SeatBid{{
			Seat: "dsp",
			Bid:  []openrtb2.Bid{{ID: "b1", ImpID: req.Imp[0].ID, Price: 2.50, AdM: "<div>ad</div>"}},
		}}}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	}))
	defer dsp.Close()

	bidder, err := gavel.NewHTTPBidder("dsp", dsp.URL+"/openrtb2",
		gavel.WithHTTPHeader("X-Api-Key", "secret"))
	if err != nil {
		log.Fatal(err)
	}
	defer bidder.CloseIdleConnections()

	a, err := gavel.New(gavel.WithBidders(
		bidder,
		auctiontest.Fixed("house", auctiontest.Bid("h1", "1", 1.80)),
	))
	if err != nil {
		log.Fatal(err)
	}
	req := auctiontest.Request("auction-1", auctiontest.BannerImp("1", 1.00, [2]int64{300, 250}))
	req.TMax = 1000 // generous: Run returns as soon as both bidders have answered
	res, err := a.Run(context.Background(), req)
	if err != nil {
		log.Fatal(err)
	}
	w := res.Winner("1")
	fmt.Printf("%s wins, bid %.2f, pays %.2f CPM\n", w.Bidder, float64(w.PriceMicros)/1e6, float64(w.ClearMicros)/1e6)
	// Output:
	// dsp wins, bid 2.50, pays 1.81 CPM
}
