// Package kafka provides a gavel EventSink that produces the event stream
// to Kafka with github.com/twmb/franz-go.
package kafka
