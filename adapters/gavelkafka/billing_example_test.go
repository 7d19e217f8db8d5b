package gavelkafka_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelkafka"
)

// The committed spend of a ledger that lost it, rebuilt from the billing
// events in Kafka and restored. A fake cluster stands in for the brokers,
// and a Sink writes two billing events to it, one of them twice.
func ExampleSumBilling() {
	ctx := context.Background()
	cluster, err := kfake.NewCluster(kfake.SeedTopics(3, "gavel-events"))
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	sink, err := gavelkafka.NewSink(gavelkafka.WithBrokers(cluster.ListenAddrs()...), gavelkafka.WithTopic("gavel-events"))
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now().UnixMilli()
	bill := func(auction string, cost int64) gavel.Event {
		return gavel.Event{Version: gavel.EventSchemaVersion, Type: gavel.EventBilling, Time: now, AuctionID: auction,
			ImpID: "1", Bidder: "acme", Seat: "acme", BidID: "b1", Account: "acme", Currency: "USD", CostMicros: cost}
	}
	evs := []gavel.Event{bill("a1", 2_010), bill("a2", 3_000), bill("a1", 2_010)}
	if err := sink.Write(ctx, evs); err != nil {
		log.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil { // delivers what it holds
		log.Fatal(err)
	}

	budget := gavel.Budget{Account: "acme", Amount: 50_000_000, Period: gavel.DailyPeriod(nil, 0)}
	sum, err := gavel.NewSpendSummer(budget)
	if err != nil {
		log.Fatal(err)
	}
	read, err := gavelkafka.SumBilling(ctx, sum, "gavel-events", kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d records, %d billed, %d duplicate\n", read.Records, sum.Stats().Billed, sum.Stats().Duplicates)

	ledger, err := gavel.NewMemoryLedger() // in real life, the Redis ledger after a restart
	if err != nil {
		log.Fatal(err)
	}
	if err := ledger.SetBudget(ctx, budget); err != nil {
		log.Fatal(err)
	}
	if err := gavel.Reconcile(ctx, sum.Current(time.Now()), ledger); err != nil {
		log.Fatal(err)
	}
	b, err := ledger.Balance(ctx, "acme")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("acme committed today:", gavel.FormatMicros(b.Committed))
	// Output:
	// 3 records, 2 billed, 1 duplicate
	// acme committed today: 0.00501
}
