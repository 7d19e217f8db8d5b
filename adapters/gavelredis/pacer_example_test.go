package gavelredis_test

import (
	"context"
	"log"
	"time"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelredis"
)

// Every process of the exchange runs the same code: one Pacer each, the
// same budgets, and Redis in common. (It needs a Redis, so it does not run.)
func ExamplePacer() {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	pacer, err := gavelredis.NewPacer(client, gavelredis.WithPacerStep(time.Minute), gavelredis.WithMinRate(0.01))
	if err != nil {
		log.Fatal(err)
	}
	defer pacer.Close(context.Background())

	// 500.00 a day from 00:00 in New York, spread over the day by all processes.
	ny, _ := time.LoadLocation("America/New_York")
	if err := pacer.SetBudget(context.Background(), gavel.Budget{Account: "acme", Amount: 500_000_000, Period: gavel.DailyPeriod(ny, 0)}); err != nil {
		log.Fatal(err)
	}
	_ = pacer.Sync(context.Background()) // start from the shared state at once

	auction, err := gavel.New(gavel.WithPacer(pacer) /* , gavel.WithLedger(...), gavel.WithBidders(...) */)
	if err != nil {
		log.Fatal(err)
	}
	_ = auction
}
