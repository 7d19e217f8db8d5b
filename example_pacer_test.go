package gavel_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// An EvenPacer spreads a daily budget over the day: a bidder whose account
// spends ahead of its target is called for fewer auctions (StatusPaced)
// until it falls back in line. Accounts without a budget are not paced.
func ExampleWithPacer() {
	clock := auctiontest.NewClock(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	pacer, err := gavel.NewEvenPacer(gavel.WithPacerClock(clock))
	if err != nil {
		panic(err)
	}
	// beta may spend 14.40 a day, in micros: 0.01 a minute, four impressions
	// at its price.
	if err := pacer.SetBudget(context.Background(), gavel.Budget{Account: "beta", Amount: 14_400_000, Period: gavel.DailyPeriod(time.UTC, 0)}); err != nil {
		panic(err)
	}
	a, err := gavel.New(
		gavel.WithBidders(
			auctiontest.Fixed("alpha", auctiontest.Bid("a1", "1", 2.50)),
			auctiontest.Fixed("beta", auctiontest.Bid("b1", "1", 3.10)),
		),
		gavel.WithPacer(pacer), // the account of a bidder is its name (WithAccounts)
	)
	if err != nil {
		panic(err)
	}
	minute := func(n int) {
		called := 0
		for i := range n {
			req := auctiontest.Request(fmt.Sprint(clock.Now().Format("15:04-"), i), auctiontest.BannerImp("1", 1.00))
			res, err := a.Run(context.Background(), req)
			if err != nil {
				panic(err)
			}
			if res.Bidders[1].Status != gavel.StatusPaced {
				called++
			}
		}
		fmt.Printf("%s: beta called for %d of %d auctions, rate now %.2f\n",
			clock.Now().Format("15:04"), called, n, pacer.Rate("beta"))
		clock.Advance(time.Minute)
	}
	// Every minute (WithPacerStep) the pacer compares beta's spend with its
	// target and sets the share of the auctions it takes part in.
	minute(20) // no demand known yet: beta takes part in every auction
	minute(100)
	minute(100)
	// Output:
	// 00:00: beta called for 20 of 20 auctions, rate now 1.00
	// 00:01: beta called for 10 of 100 auctions, rate now 0.12
	// 00:02: beta called for 4 of 100 auctions, rate now 0.06
}
