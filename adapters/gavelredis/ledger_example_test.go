package gavelredis_test

import (
	"context"
	"log"
	"time"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelredis"
)

// An exchange keeps its budgets in Redis: most accounts in strict mode,
// the busiest in lease mode, where each process reserves from a slice of
// the budget in memory. (It needs a Redis server, so it does not run as a
// test.)
func ExampleNewLedger() {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close() // the caller owns the client
	ledger, err := gavelredis.NewLedger(client,
		gavelredis.WithAccountMode("big-dsp", gavelredis.ModeLease),
		gavelredis.WithLeaseSlice(50_000_000), // 50.00: at most this much overspent per lease lost
	)
	if err != nil {
		log.Fatal(err)
	}
	defer ledger.Close(context.Background()) // reports and gives back the leases

	ctx := context.Background()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		log.Fatal(err)
	}
	// 5000.00 a day, from 06:00 New York time.
	if err := ledger.SetBudget(ctx, gavel.Budget{Account: "big-dsp", Amount: 5_000_000_000, Period: gavel.DailyPeriod(ny, 6*time.Hour)}); err != nil {
		log.Fatal(err)
	}
	auction, err := gavel.New(
		gavel.WithLedger(ledger),
		gavel.WithClearingTime(5*time.Millisecond), // time for a round trip to Redis
	)
	if err != nil {
		log.Fatal(err)
	}
	_ = auction // auction.Run(ctx, req) reserves each winner's cost on the ledger
}
