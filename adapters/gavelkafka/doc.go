// Package gavelkafka provides a gavel EventSink that produces the event stream
// to Kafka with github.com/twmb/franz-go.
//
// A Sink writes one record per event: the key is the auction id, so that
// the events of an auction stay in one partition and in order; the value is
// the event's JSON, as gavel.Event documents it; the header
// "schema-version" repeats the event's schema version. Consumers decode the
// value with encoding/json into a gavel.Event.
//
//	sink, err := gavelkafka.NewSink(
//		gavelkafka.WithBrokers("kafka-1:9092", "kafka-2:9092"),
//		gavelkafka.WithTopic("gavel-events"),
//	)
//	if err != nil { ... }
//	a, err := gavel.New(gavel.WithBidders(...), gavel.WithEventSink(sink))
//	...
//	a.Close(ctx)    // hands what the Auction queued to the sink
//	sink.Close(ctx) // delivers it to Kafka within ctx
//
// Write never waits for the network: the client batches, compresses
// (zstd by default), sends and retries in the background, with the
// idempotent producer, so a retry never duplicates an event. The buffer
// between Write and the brokers is bounded; a Write that does not fit is
// refused whole and counted as dropped, and an event that cannot be
// delivered within the delivery timeout is counted as failed. Stats and
// the hooks report both, so that
//
//	events passed to Write == Delivered + Failed + Dropped + Queued
//
// at any time.
//
// SumBilling reads the billing events of a topic back, from its start up
// to its end, into a gavel.SpendSummer, to restore the committed spend of
// a ledger that lost it (gavel.Reconcile).
//
// The package's tests run against franz-go's kfake, a fake
// Kafka cluster over TCP, including a broker outage in the middle of a
// stream.
package gavelkafka
