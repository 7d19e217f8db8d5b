package gavelkafka_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelkafka"
	"github.com/gavelrtb/gavel/auctiontest"
)

// An Auction that reports its events to Kafka. A fake cluster stands in
// for the brokers here.
func ExampleSink() {
	cluster, err := kfake.NewCluster(kfake.SeedTopics(3, "gavel-events"))
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()

	sink, err := gavelkafka.NewSink(
		gavelkafka.WithBrokers(cluster.ListenAddrs()...),
		gavelkafka.WithTopic("gavel-events"),
	)
	if err != nil {
		log.Fatal(err)
	}
	a, err := gavel.New(
		gavel.WithBidders(auctiontest.Fixed("dsp", auctiontest.Bid("b1", "1", 2.50))),
		gavel.WithEventSink(sink),
	)
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	if _, err := a.Run(ctx, auctiontest.Request("r1", auctiontest.BannerImp("1", 0.50))); err != nil {
		log.Fatal(err)
	}

	// At shutdown, close the Auction first: it hands what it queued to
	// the sink; then the sink, which delivers it to Kafka.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		log.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", sink.Stats())
	// Output: {Accepted:3 Delivered:3 Dropped:0 Failed:0 Retries:0 Queued:0}
}
