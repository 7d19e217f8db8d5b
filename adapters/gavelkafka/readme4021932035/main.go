// Command exchange runs an auction and produces its events to Kafka.
package main

import (
	"context"
	"encoding/json"
	"log"
	"os"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelkafka"
)

func main() {
	sink, err := gavelkafka.NewSink(
		gavelkafka.WithBrokers("kafka-1:9092", "kafka-2:9092"),
		gavelkafka.WithTopic("gavel-events"),
	)
	if err != nil {
		log.Fatal(err)
	}
	dsp, err := gavel.NewHTTPBidder("dsp-a", "https://dsp-a.example/openrtb2")
	if err != nil {
		log.Fatal(err)
	}
	auction, err := gavel.New(gavel.WithBidders(dsp), gavel.WithEventSink(sink))
	if err != nil {
		log.Fatal(err)
	}

	var req openrtb2.BidRequest // an OpenRTB 2.6 bid request on stdin
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		log.Fatal(err)
	}
	res, err := auction.Run(context.Background(), &req) // its events go to Kafka
	if err != nil {
		log.Fatal(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res.BidResponse()); err != nil {
		log.Fatal(err)
	}

	// At shutdown, the Auction first: it hands what it queued to the sink;
	// then the sink, which delivers it to Kafka within ctx.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := auction.Close(ctx); err != nil {
		log.Print(err)
	}
	if err := sink.Close(ctx); err != nil {
		log.Print(err) // what was not delivered counts as failed
	}
	log.Printf("%+v", sink.Stats()) // gavel.SinkStats: {Accepted Delivered Dropped Failed Retries Queued}
}
