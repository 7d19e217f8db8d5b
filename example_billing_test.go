package gavel_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// The billing flow: Run reserves the winner's cost on the ledger, the
// exchange keeps the winner's Billing, then bills it with Commit when the
// impression's billing notice arrives, or gives the money back with Release
// when it learns that the impression will never be shown.
func ExampleAuction_Commit() {
	ctx := context.Background()
	ledger, err := gavel.NewMemoryLedger()
	if err != nil {
		panic(err)
	}
	// The seat "beta" may spend 1.00 in all, in micros of the currency.
	if err := ledger.SetBudget(ctx, gavel.Budget{Account: "beta", Amount: 1_000_000}); err != nil {
		panic(err)
	}
	a, err := gavel.New(
		gavel.WithBidders(auctiontest.Fixed("beta", auctiontest.Bid("b1", "1", 3.10))),
		gavel.WithLedger(ledger), // the account of a bid is its seat (WithAccounts)
	)
	if err != nil {
		panic(err)
	}
	balance := func(when string) {
		b, err := ledger.Balance(ctx, "beta")
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-16s committed %-7s reserved %-7s remaining %s\n", when,
			gavel.FormatMicros(b.Committed), gavel.FormatMicros(b.Reserved), gavel.FormatMicros(b.Remaining()))
	}
	win := func(id string) gavel.Billing {
		res, err := a.Run(ctx, auctiontest.Request(id, auctiontest.BannerImp("1", 2.00)))
		if err != nil {
			panic(err)
		}
		// Keep the Billing, a plain value, until the impression's notice
		// arrives (in real life, in the notice URL's signed token).
		bill, err := res.Billing(res.Imps[0].Winner)
		if err != nil {
			panic(err)
		}
		return bill
	}

	balance("before:")
	bill := win("auction-1")
	fmt.Printf("%s wins %s/%s at %s CPM and holds %s\n", bill.Seat, bill.AuctionID, bill.ImpID,
		gavel.FormatMicros(bill.ClearMicros), gavel.FormatMicros(bill.Hold.Amount))
	balance("won:")
	// The billing notice: bill the impression at the cost that was held.
	if err := a.Commit(ctx, bill, bill.Hold.Amount); err != nil {
		panic(err)
	}
	balance("billed:")
	// A second notice for the same impression bills nothing.
	err = a.Commit(ctx, bill, bill.Hold.Amount)
	fmt.Println("billed again:", errors.Is(err, gavel.ErrHoldNotFound))

	bill = win("auction-2")
	balance("won again:")
	// The loss notice: the impression will not be shown, the money returns.
	if err := a.Release(ctx, bill); err != nil {
		panic(err)
	}
	balance("released:")
	// Output:
	// before:          committed 0       reserved 0       remaining 1
	// beta wins auction-1/1 at 2.01 CPM and holds 0.00201
	// won:             committed 0       reserved 0.00201 remaining 0.99799
	// billed:          committed 0.00201 reserved 0       remaining 0.99799
	// billed again: true
	// won again:       committed 0.00201 reserved 0.00201 remaining 0.99598
	// released:        committed 0.00201 reserved 0       remaining 0.99799
}

// When the ledger refuses the best bid's cost, that bid loses with
// LossBudget and the next bid wins, at its own clearing price.
func ExampleWithLedger() {
	ledger, err := gavel.NewMemoryLedger()
	if err != nil {
		panic(err)
	}
	// Money is in micros: beta has 0.002 left, less than one impression at
	// its price; alpha has 10.00.
	if err := ledger.SetBudget(context.Background(), gavel.Budget{Account: "alpha", Amount: 10_000_000}); err != nil {
		panic(err)
	}
	if err := ledger.SetBudget(context.Background(), gavel.Budget{Account: "beta", Amount: 2_000}); err != nil {
		panic(err)
	}
	a, err := gavel.New(
		gavel.WithBidders(
			auctiontest.Fixed("alpha", auctiontest.Bid("a1", "1", 2.50)),
			auctiontest.Fixed("beta", auctiontest.Bid("b1", "1", 3.10)),
		),
		gavel.WithLedger(ledger),
	)
	if err != nil {
		panic(err)
	}
	res, err := a.Run(context.Background(), auctiontest.Request("auction-1", auctiontest.BannerImp("1", 1.00)))
	if err != nil {
		panic(err)
	}
	for _, b := range res.Bids {
		fmt.Printf("%s bids %s CPM: won %v, loss reason %d, pays %s CPM, costs %s\n", b.Bidder,
			gavel.FormatMicros(b.PriceMicros), b.Won, b.Loss, gavel.FormatMicros(b.ClearMicros), gavel.FormatMicros(b.CostMicros()))
	}
	fmt.Println("refusals:", a.Stats().BudgetRefusals)
	// Output:
	// alpha bids 2.5 CPM: won true, loss reason 0, pays 1.01 CPM, costs 0.00101
	// beta bids 3.1 CPM: won false, loss reason 504, pays 0 CPM, costs 0
	// refusals: 1
}

// A MemoryLedger on its own: a daily budget that starts again every day at
// 06:00 local time, and holds that are reserved, then committed or released.
func ExampleMemoryLedger() {
	ctx := context.Background()
	paris := time.FixedZone("CET", 3600)
	clock := auctiontest.NewClock(time.Date(2026, 3, 2, 20, 0, 0, 0, paris))
	ledger, err := gavel.NewMemoryLedger(gavel.WithLedgerClock(clock))
	if err != nil {
		panic(err)
	}
	// 50.00 a day, in micros, from 06:00 to 06:00.
	if err := ledger.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: 50_000_000, Period: gavel.DailyPeriod(paris, 6*time.Hour)}); err != nil {
		panic(err)
	}
	show := func() {
		b, err := ledger.Balance(ctx, "acme")
		if err != nil {
			panic(err)
		}
		fmt.Printf("period from %s: committed %s, reserved %s, remaining %s\n",
			b.PeriodStart.Format("Jan 2 15:04"), gavel.FormatMicros(b.Committed),
			gavel.FormatMicros(b.Reserved), gavel.FormatMicros(b.Remaining()))
	}

	h1, err := ledger.Reserve(ctx, "acme", 30_000_000, time.Minute)
	if err != nil {
		panic(err)
	}
	h2, err := ledger.Reserve(ctx, "acme", 15_000_000, time.Minute)
	if err != nil {
		panic(err)
	}
	_, err = ledger.Reserve(ctx, "acme", 10_000_000, time.Minute)
	fmt.Println("third reservation:", err)
	show()

	if err := ledger.Commit(ctx, h1, 25_000_000); err != nil { // bills 25.00, 5.00 returns
		panic(err)
	}
	if err := ledger.Release(ctx, h2); err != nil {
		panic(err)
	}
	show()

	clock.Advance(10 * time.Hour) // 06:00 the next day: a new period
	show()
	// Output:
	// third reservation: gavel: budget exhausted
	// period from Mar 2 06:00: committed 0, reserved 45, remaining 5
	// period from Mar 2 06:00: committed 25, reserved 0, remaining 25
	// period from Mar 3 06:00: committed 0, reserved 0, remaining 50
}

// FormatMicros prints money exactly. Prices are CPM: one impression costs
// the price divided by 1000.
func ExampleFormatMicros() {
	var price int64 = 2_510_000 // 2.51 CPM, in micros
	b := gavel.BidOutcome{ClearMicros: price}
	fmt.Println(gavel.FormatMicros(price), "CPM")
	fmt.Println(gavel.FormatMicros(b.CostMicros()), "per impression")
	fmt.Println(gavel.FormatMicros(-1_500_000), gavel.FormatMicros(1))
	// Output:
	// 2.51 CPM
	// 0.00251 per impression
	// -1.5 0.000001
}
