package gavel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// fixedPrice returns a bidder that bids price (CPM) on every imp of every
// request, with the given markup.
func fixedPrice(name string, price float64) gavel.Bidder {
	return gavel.BidderFunc(name, func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		resp := &openrtb2.BidResponse{ID: req.ID, SeatBid: []openrtb2.SeatBid{{Seat: name}}}
		for _, imp := range req.Imp {
			resp.SeatBid[0].Bid = append(resp.SeatBid[0].Bid, openrtb2.Bid{
				ID: name + "-" + imp.ID, ImpID: imp.ID, Price: price, AdM: "<div>" + name + "</div>",
			})
		}
		return resp, nil
	})
}

func ExampleNew() {
	a, err := gavel.New(
		gavel.WithBidders(fixedPrice("alpha", 2.50), fixedPrice("beta", 3.10)),
		gavel.WithBidderTimeout("beta", 40*time.Millisecond), // beta never gets more than 40ms
		gavel.WithReserve(10*time.Millisecond),               // keep 10ms for the caller
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, h := range a.Health() {
		fmt.Println(h.Bidder, h.Calls)
	}

	// New checks its options and reports every problem at once.
	_, err = gavel.New(
		gavel.WithBidders(fixedPrice("alpha", 1), fixedPrice("alpha", 2)),
		gavel.WithReserve(-time.Millisecond),
	)
	fmt.Println(errors.Is(err, gavel.ErrInvalidOption))
	fmt.Println(err)
	// Output:
	// alpha 0
	// beta 0
	// true
	// gavel: invalid option: reserve must not be negative, got -1ms
	// gavel: invalid option: bidder name "alpha" is not unique
}

func ExampleAuction_Run() {
	a, err := gavel.New(gavel.WithBidders(
		fixedPrice("alpha", 2.50),
		fixedPrice("beta", 3.10),
		gavel.BidderFunc("gamma", func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
			return nil, nil // no bid
		}),
	))
	if err != nil {
		panic(err)
	}
	req := &openrtb2.BidRequest{
		ID:   "auction-1",
		Imp:  []openrtb2.Imp{{ID: "1", Banner: &openrtb2.Banner{}, BidFloor: 1.00, BidFloorCur: "USD"}},
		TMax: 200, // ms; Run returns by then, less the reserve, whatever the bidders do
		Cur:  []string{"USD"},
	}
	res, err := a.Run(context.Background(), req)
	if err != nil {
		panic(err)
	}
	w := res.Winner("1")
	// Second price: beta pays alpha's bid plus the 0.01 increment.
	fmt.Printf("winner %s bid %.2f pays %.2f\n", w.Bidder, float64(w.PriceMicros)/1e6, float64(w.ClearMicros)/1e6)
	for _, b := range res.Bids {
		fmt.Printf("bid %s: won %v, loss reason %d\n", b.Bid.ID, b.Won, b.Loss)
	}
	for _, br := range res.Bidders {
		fmt.Printf("%s: %v\n", br.Bidder, br.Status)
	}
	// Output:
	// winner beta bid 3.10 pays 2.51
	// bid alpha-1: won false, loss reason 102
	// bid beta-1: won true, loss reason 0
	// alpha: bid
	// beta: bid
	// gamma: no_bid
}

func ExampleResult_BidResponse() {
	a, err := gavel.New(gavel.WithBidders(fixedPrice("alpha", 2.50), fixedPrice("beta", 3.10)))
	if err != nil {
		panic(err)
	}
	show := func(req *openrtb2.BidRequest) {
		res, err := a.Run(context.Background(), req)
		if err != nil {
			panic(err)
		}
		out, _ := json.Marshal(res.BidResponse())
		fmt.Println(string(out))
	}

	req := auctiontest.Request("auction-1", auctiontest.BannerImp("1", 1.00))
	show(req)

	// Nothing wins when every bid is under the floor: the response says why,
	// with no-bid reason 501 (NoBidNoEligibleBids).
	req = auctiontest.Request("auction-2", auctiontest.BannerImp("1", 5.00))
	show(req)
	// Output:
	// {"id":"auction-1","seatbid":[{"bid":[{"id":"beta-1","impid":"1","price":2.51,"adm":"\u003cdiv\u003ebeta\u003c/div\u003e"}],"seat":"beta"}],"cur":"USD"}
	// {"id":"auction-2","cur":"USD","nbr":501}
}

func ExampleBidderFunc() {
	// A bidder that bids 20% over the floor of every banner imp, and
	// respects the time it is given.
	overFloor := gavel.BidderFunc("over-floor", func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		resp := &openrtb2.BidResponse{ID: req.ID}
		var bids []openrtb2.Bid
		for _, imp := range req.Imp {
			if imp.Banner == nil || imp.BidFloor == 0 {
				continue
			}
			bids = append(bids, openrtb2.Bid{
				ID: "b-" + imp.ID, ImpID: imp.ID, Price: imp.BidFloor * 1.2, AdM: "<img src='https://ads.example/1.png'>",
			})
		}
		if len(bids) == 0 {
			return nil, nil // no bid
		}
		resp.SeatBid = []openrtb2.SeatBid{{Bid: bids}} // the seat defaults to the bidder's name
		return resp, nil
	})

	a, err := gavel.New(gavel.WithBidders(overFloor))
	if err != nil {
		panic(err)
	}
	req := auctiontest.Request("auction-1",
		auctiontest.BannerImp("top", 2.00, [2]int64{728, 90}),
		auctiontest.VideoImp("preroll", 10.00),
		auctiontest.BannerImp("side", 0.50, [2]int64{300, 250}),
	)
	res, err := a.Run(context.Background(), req)
	if err != nil {
		panic(err)
	}
	for _, imp := range res.Imps {
		if w := res.Winner(imp.ImpID); w != nil {
			fmt.Printf("%s: %s (seat %s) bids %.2f, pays %.2f\n", imp.ImpID, w.Bid.ID, w.Seat,
				float64(w.PriceMicros)/1e6, float64(w.ClearMicros)/1e6)
		} else {
			fmt.Printf("%s: no winner\n", imp.ImpID)
		}
	}
	// Output:
	// top: b-top (seat over-floor) bids 2.40, pays 2.01
	// preroll: no winner
	// side: b-side (seat over-floor) bids 0.60, pays 0.51
}

func ExampleWithThrottling() {
	// A test clock, so that the health window moves only when told.
	clk := auctiontest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	a, err := gavel.New(
		gavel.WithBidders(
			fixedPrice("steady", 2.00),
			auctiontest.Error("flaky", errors.New("upstream unavailable")),
		),
		gavel.WithClock(clk),
		gavel.WithHealthWindow(10*time.Second),
		// Call a bidder that fails more than half of at least 20 calls in
		// only 10% of the auctions, until it behaves again.
		gavel.WithThrottling(gavel.Throttle{MaxFailureRate: 0.5, MinCalls: 20, MinCallRate: 0.1}),
	)
	if err != nil {
		panic(err)
	}
	run := func(n int, prefix string) (throttled int) {
		for i := range n {
			res, err := a.Run(context.Background(), auctiontest.Request(fmt.Sprint(prefix, i), auctiontest.BannerImp("1", 0.50)))
			if err != nil {
				panic(err)
			}
			if res.Bidders[1].Status == gavel.StatusThrottled {
				throttled++
			}
		}
		return throttled
	}

	run(20, "a-")
	clk.Advance(time.Second) // health is judged once per tenth of the window
	run(1, "b-")
	h, _ := a.BidderHealth("flaky")
	fmt.Printf("after %d failures: call rate %.1f\n", h.Errors+h.Timeouts, h.CallRate)

	throttled := run(1000, "c-")
	fmt.Printf("throttled in %d of 1000 auctions\n", throttled)

	clk.Advance(11 * time.Second) // its failures slide out of the window
	fmt.Printf("later: throttled in %d of 100 auctions\n", run(100, "d-"))
	// Output:
	// after 21 failures: call rate 0.1
	// throttled in 906 of 1000 auctions
	// later: throttled in 0 of 100 auctions
}

// Example_stuckBidder shows that a bidder that hangs does not hold up the
// auction: it is reported as timed out and the others' bids still win.
func Example_stuckBidder() {
	a, err := gavel.New(gavel.WithBidders(
		fixedPrice("alpha", 2.50),
		auctiontest.Hang("sleepy"),
	))
	if err != nil {
		panic(err)
	}
	req := auctiontest.Request("auction-1", auctiontest.BannerImp("1", 1.00))
	req.TMax = 200
	res, err := a.Run(context.Background(), req)
	if err != nil {
		panic(err)
	}
	fmt.Println("winner:", res.Winner("1").Bidder)
	for _, br := range res.Bidders {
		fmt.Printf("%s: %v (%v)\n", br.Bidder, br.Status, br.Err)
	}
	fmt.Println("waited until the fan-out ended:", res.Duration >= res.FanoutEnd.Sub(res.Start))
	// Output:
	// winner: alpha
	// alpha: bid (<nil>)
	// sleepy: timeout (gavel: bidder timed out)
	// waited until the fan-out ended: true
}
