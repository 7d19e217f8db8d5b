package gavelhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// Mount the auction endpoint on a server of your own. The bidder here is a
// func in process; gavel.NewHTTPBidder makes one for a DSP over HTTP.
func ExampleNewAuctionHandler() {
	house := gavel.BidderFunc("house", func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		return &openrtb2.BidResponse{ID: req.ID, SeatBid: []openrtb2.SeatBid{{
			Bid: []openrtb2.Bid{{ID: "h1", ImpID: req.Imp[0].ID, Price: 1.5, AdM: "<div>ad</div>"}},
		}}}, nil
	})
	auction, err := gavel.New(gavel.WithBidders(house))
	if err != nil {
		log.Fatal(err)
	}
	defer auction.Close(context.Background())
	handler, err := gavelhttp.NewAuctionHandler(auction, gavelhttp.WithMaxRequestSize(256<<10))
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("POST /openrtb2/auction", handler)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body := `{"id":"r1","imp":[{"id":"1","banner":{"w":300,"h":250}}],"at":1,"tmax":100,"cur":["USD"]}`
	resp, err := http.Post(srv.URL+"/openrtb2/auction", "application/json", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var br openrtb2.BidResponse
	if err := json.NewDecoder(resp.Body).Decode(&br); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, resp.Header.Get("x-openrtb-version"))
	fmt.Println(br.SeatBid[0].Seat, br.SeatBid[0].Bid[0].Price, br.SeatBid[0].Bid[0].AdM)
	fmt.Println(handler.Stats().Won)
	// Output:
	// 200 2.6
	// house 1.5 <div>ad</div>
	// 1
}
