package gavelkafka

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gavelrtb/gavel"
)

// BillingRead says what SumBilling read.
type BillingRead struct {
	Partitions int   // partitions of the topic
	Records    int64 // records read and given to the SpendSummer
	// Deleted counts the records before the partitions' log start
	// offsets when the read began: deleted by retention, their billing
	// events are not counted. Restoring from a topic with Deleted > 0
	// restores less than was committed, unless the deleted records were
	// all older than the current periods.
	Deleted int64
	// Malformed are the first gavel.MaxMalformedLines records whose value
	// the SpendSummer refused (gavel.SpendSummer.AddJSON); all of them are
	// counted in its Stats().Malformed.
	Malformed []MalformedRecord
}

// MalformedRecord is a record of the topic that was not an event a
// SpendSummer can count.
type MalformedRecord struct {
	Partition int32
	Offset    int64
	Err       error
}

// SumBilling reads topic, every partition from its start up to the high
// watermark it had when the read began, and gives each record's value
// (an event's JSON, as a Sink writes it) to sum, which adds up its billing
// events per account and period; see gavel.SpendSummer, which also
// counts a record delivered twice once. Records produced after the read
// began are not read, so the read ends on a topic that is still written
// to. opts configure the client that SumBilling makes and closes: at
// least kgo.SeedBrokers; they must not consume (kgo.ConsumeTopics and the
// like).
//
// It returns an error if the topic does not exist, a partition cannot be
// read, or ctx ends first; sum then holds what was read so far, which is
// not the topic's whole spend. A topic written in transactions (whose
// control records take offsets that no record fills) is not supported:
// the read would wait for ctx. A Sink never writes one.
func SumBilling(ctx context.Context, sum *gavel.SpendSummer, topic string, opts ...kgo.Opt) (BillingRead, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return BillingRead{}, fmt.Errorf("gavel: kafka billing: client: %w", err)
	}
	starts, ends, err := listOffsets(ctx, cl, topic)
	cl.Close()
	if err != nil {
		return BillingRead{}, fmt.Errorf("gavel: kafka billing: topic %s: %w", topic, err)
	}
	read := BillingRead{Partitions: len(ends)}
	from := map[int32]kgo.Offset{}
	for p, end := range ends {
		read.Deleted += starts[p]
		if starts[p] < end {
			from[p] = kgo.NewOffset().At(starts[p])
		}
	}
	if len(from) == 0 {
		return read, nil
	}
	cl, err = kgo.NewClient(append(slices.Clip(opts), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))...)
	if err != nil {
		return read, fmt.Errorf("gavel: kafka billing: client: %w", err)
	}
	defer cl.Close()
	err = consumeUntil(ctx, cl, ends, from, func(r *kgo.Record) {
		read.Records++
		if _, err := sum.AddJSON(r.Value); err != nil && len(read.Malformed) < gavel.MaxMalformedLines {
			read.Malformed = append(read.Malformed, MalformedRecord{Partition: r.Partition, Offset: r.Offset, Err: err})
		}
	})
	if err != nil {
		return read, fmt.Errorf("gavel: kafka billing: reading topic %s: %w", topic, err)
	}
	return read, nil
}

// consumeUntil polls cl, which consumes the partitions of pending, and
// gives f each record below its partition's end offset, until every
// partition of pending is read up to its end.
func consumeUntil(ctx context.Context, cl *kgo.Client, ends map[int32]int64, pending map[int32]kgo.Offset, f func(*kgo.Record)) error {
	for len(pending) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("partition %d: %w", errs[0].Partition, errs[0].Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			end := ends[r.Partition]
			if r.Offset >= end {
				return
			}
			f(r)
			if r.Offset+1 >= end {
				delete(pending, r.Partition)
			}
		})
	}
	return nil
}

// listOffsets returns the log start offset and the high watermark of
// every partition of topic.
func listOffsets(ctx context.Context, cl *kgo.Client, topic string) (starts, ends map[int32]int64, err error) {
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, nil, err
	}
	if len(mresp.Topics) != 1 {
		return nil, nil, fmt.Errorf("metadata answered for %d topics", len(mresp.Topics))
	}
	if err := kerr.ErrorForCode(mresp.Topics[0].ErrorCode); err != nil {
		return nil, nil, err
	}
	var parts []int32
	for _, p := range mresp.Topics[0].Partitions {
		parts = append(parts, p.Partition)
	}
	if starts, err = offsetsAt(ctx, cl, topic, parts, -2); err != nil { // -2: the earliest
		return nil, nil, err
	}
	if ends, err = offsetsAt(ctx, cl, topic, parts, -1); err != nil { // -1: the latest, the high watermark
		return nil, nil, err
	}
	return starts, ends, nil
}

// offsetsAt lists the offsets of parts of topic at timestamp (-1 latest,
// -2 earliest).
func offsetsAt(ctx context.Context, cl *kgo.Client, topic string, parts []int32, timestamp int64) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, p := range parts {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, timestamp
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(parts))
	var errs []error
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				errs = append(errs, fmt.Errorf("partition %d: %w", p.Partition, err))
				continue
			}
			out[p.Partition] = p.Offset
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(out) != len(parts) {
		return nil, fmt.Errorf("offsets of %d partitions answered, want %d", len(out), len(parts))
	}
	return out, nil
}
