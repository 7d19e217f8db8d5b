package gavel_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// Health tells how each bidder fared over the health window: what an
// exchange's status page or a metrics scrape reads.
func ExampleAuction_Health() {
	clk := auctiontest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	a, err := gavel.New(
		gavel.WithBidders(
			auctiontest.Fixed("alpha", auctiontest.Bid("a1", "1", 2.50)),
			auctiontest.NoBid("beta"),
			auctiontest.Error("gamma", errors.New("upstream unavailable")),
		),
		gavel.WithClock(clk), // the window moves only when told
		gavel.WithHealthWindow(time.Minute),
	)
	if err != nil {
		panic(err)
	}
	for i := range 10 {
		req := auctiontest.Request(fmt.Sprint("auction-", i), auctiontest.BannerImp("1", 1.00))
		if _, err := a.Run(context.Background(), req); err != nil {
			panic(err)
		}
	}
	for _, h := range a.Health() {
		fmt.Printf("%s: calls %d, bids %d, no-bids %d, errors %d, failure rate %.1f\n",
			h.Bidder, h.Calls, h.Bids, h.NoBids, h.Errors, h.FailureRate)
	}
	clk.Advance(2 * time.Minute) // the calls slide out of the window
	h, _ := a.BidderHealth("gamma")
	fmt.Printf("later, %s: calls %d\n", h.Bidder, h.Calls)
	// Output:
	// alpha: calls 10, bids 10, no-bids 0, errors 0, failure rate 0.0
	// beta: calls 10, bids 0, no-bids 10, errors 0, failure rate 0.0
	// gamma: calls 10, bids 0, no-bids 0, errors 10, failure rate 1.0
	// later, gamma: calls 0
}
