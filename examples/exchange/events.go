package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelkafka"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
)

// Kinds of event sinks.
const (
	eventsJSONLines = "jsonl"
	eventsKafka     = "kafka"
	eventsNone      = "none"
)

// events is where an exchange's Auctions send their events, shared across
// reloads: a sink that never blocks (an AsyncSink over a JSON lines file,
// or the Kafka sink), or none.
type events struct {
	sink  gavel.EventSink             // nil: no events
	stats gavelprom.SinkStatsReader   // the sink, for the metrics; nil for none
	where string                      // for the banner
	close func(context.Context) error // flushes and closes the sink; nil for none
}

// openJSONLines returns events appended to the file at path as JSON lines,
// through an AsyncSink. Closing flushes the sink, then closes the file.
func openJSONLines(path string, metrics *gavelprom.Metrics) (*events, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	sink, err := gavel.NewAsyncSink(gavel.NewJSONLinesSink(f), gavel.WithSinkHooks(metrics))
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return &events{sink: sink, stats: sink, where: path + " (JSON lines, appended)",
		close: func(ctx context.Context) error { return errors.Join(sink.Close(ctx), f.Close()) }}, nil
}

// openKafka returns events produced to topic on brokers by the Kafka
// adapter's sink, once one of the brokers answers (within
// kafkaPingTimeout). Closing delivers what the sink holds, within ctx.
func openKafka(brokers []string, topic string, metrics *gavelprom.Metrics) (*events, error) {
	if err := pingKafka(brokers); err != nil {
		return nil, err
	}
	sink, err := gavelkafka.NewSink(gavelkafka.WithBrokers(brokers...), gavelkafka.WithTopic(topic),
		gavelkafka.WithSinkHooks(metrics))
	if err != nil {
		return nil, err
	}
	return &events{sink: sink, stats: sink, where: fmt.Sprintf("kafka topic %s on %s", topic, strings.Join(brokers, ",")),
		close: sink.Close}, nil
}

// kafkaPingTimeout bounds the wait for a Kafka broker at start.
const kafkaPingTimeout = 5 * time.Second

// pingKafka checks that one of brokers answers, so that a wrong address
// fails the start rather than every event later. The sink's own client,
// which the sink makes and owns, does not say.
func pingKafka(brokers []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaPingTimeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("no kafka broker of %s answers: %w", strings.Join(brokers, ","), err)
	}
	return nil
}

// openEvents returns the events of kind: jsonl (file), kafka (brokers,
// topic) or none.
func openEvents(kind, file string, brokers []string, topic string, metrics *gavelprom.Metrics) (*events, error) {
	var (
		ev  *events
		err error
	)
	switch kind {
	case eventsJSONLines:
		ev, err = openJSONLines(file, metrics)
	case eventsKafka:
		ev, err = openKafka(brokers, topic, metrics)
	case eventsNone:
		ev = &events{where: "none"}
	default:
		err = fmt.Errorf("unknown kind %q", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return ev, nil
}
