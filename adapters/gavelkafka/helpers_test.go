package gavelkafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelkafka"
)

const (
	topic      = "gavel-events"
	partitions = 6
)

// startCluster starts a one-broker fake Kafka cluster on 127.0.0.1 with the
// test topic, closed when the test ends.
func startCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// fastRecovery makes a client retry and refresh metadata quickly, so that
// tests of outages do not wait for the production backoffs (up to 5s).
func fastRecovery() gavelkafka.Option {
	return gavelkafka.WithClientOptions(
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }),
		kgo.MetadataMinAge(50*time.Millisecond),
	)
}

// newSink makes a Sink for the test topic, closed when the test ends.
func newSink(t testing.TB, opts ...gavelkafka.Option) *gavelkafka.Sink {
	t.Helper()
	s, err := gavelkafka.NewSink(append([]gavelkafka.Option{gavelkafka.WithTopic(topic)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

// deadPort returns an address on 127.0.0.1 where nothing listens.
func deadPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func portOf(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	port, err := strconv.Atoi(p)
	require.NoError(t, err)
	return port
}

// events returns n events of auction id, with Time numbering them from
// first, so that a test can see their order.
func events(id string, first, n int) []gavel.Event {
	evs := make([]gavel.Event, n)
	for i := range evs {
		typ := gavel.EventType(1 + (first+i)%10)
		evs[i] = gavel.Event{
			Version: gavel.EventSchemaVersion, Type: typ, Time: int64(first + i),
			AuctionID: id, Bidder: "dsp-" + strconv.Itoa((first+i)%5), Currency: "USD", PriceMicros: int64(1000 * (first + i)),
			Status: "bid", LatencyUS: 1234,
		}
		if typ >= gavel.EventClick { // the campaign fields travel too
			evs[i].Campaign, evs[i].Creative, evs[i].ClickID = "c7", "cr2", "0123456789abcdef0123456789abcdef"
		}
	}
	return evs
}

// recordBytes is the size of the records of evs as the Sink counts it:
// key, value and header.
func recordBytes(t testing.TB, evs []gavel.Event) int64 {
	t.Helper()
	var n int64
	for _, e := range evs {
		v, err := e.AppendJSON(nil)
		require.NoError(t, err)
		n += int64(len(e.AuctionID) + len(v) + len(gavelkafka.SchemaVersionHeader) + len(strconv.Itoa(e.Version)))
	}
	return n
}

// byKey collects events per auction, in order: what a test wrote, or
// what it consumed.
type byKey map[string][]gavel.Event

func (m byKey) add(evs ...gavel.Event) {
	for _, e := range evs {
		m[e.AuctionID] = append(m[e.AuctionID], e)
	}
}

func (m byKey) count() int {
	n := 0
	for _, evs := range m {
		n += len(evs)
	}
	return n
}

// syncByKey is a byKey for many writers.
type syncByKey struct {
	mu sync.Mutex
	m  byKey
}

func (s *syncByKey) add(evs ...gavel.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = byKey{}
	}
	s.m.add(evs...)
}

// consume reads the whole test topic from the cluster at addr, from the
// start, and returns its events per key in offset order. It checks every
// record: the key is the event's auction id, the header holds its schema
// version, the value is exactly encoding/json's form of the event, and all
// the records of a key are in one partition. It reads until it has want
// records, then a little longer to catch any extra, and checks that it has
// read each partition up to its high watermark.
func consume(t testing.TB, addr string, want int) byKey {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(50*time.Millisecond),
	)
	require.NoError(t, err)
	defer cl.Close()

	got := byKey{}
	partOf := map[string]int32{}
	read := map[int32]int64{}
	hwm := map[int32]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var extra context.CancelFunc
	for {
		if got.count() >= want && extra == nil {
			// Everything expected is in: poll a little longer for extras.
			ctx, extra = context.WithTimeout(ctx, 200*time.Millisecond)
			defer extra()
		}
		if ctx.Err() != nil {
			break
		}
		fetches := cl.PollFetches(ctx)
		fetches.EachError(func(tp string, p int32, err error) {
			if ctx.Err() == nil {
				require.NoError(t, err, "fetch %s/%d", tp, p)
			}
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			hwm[p.Partition] = p.HighWatermark
		})
		fetches.EachRecord(func(r *kgo.Record) {
			var e gavel.Event
			require.NoError(t, json.Unmarshal(r.Value, &e), "record %s", r.Value)
			again, err := json.Marshal(e)
			require.NoError(t, err)
			require.Equal(t, string(again), string(r.Value), "the value is the event's JSON")
			require.Equal(t, e.AuctionID, string(r.Key), "the key is the auction id")
			require.Len(t, r.Headers, 1)
			require.Equal(t, gavelkafka.SchemaVersionHeader, r.Headers[0].Key)
			require.Equal(t, strconv.Itoa(e.Version), string(r.Headers[0].Value))
			if p, ok := partOf[e.AuctionID]; ok {
				require.Equal(t, p, r.Partition, "all the events of auction %s are in one partition", e.AuctionID)
			}
			partOf[e.AuctionID] = r.Partition
			read[r.Partition]++
			got.add(e)
		})
	}
	require.GreaterOrEqual(t, got.count(), want, "consumed too few records before the timeout")
	for p, n := range read {
		require.Equal(t, hwm[p], n, "partition %d read up to its high watermark", p)
	}
	return got
}

// countingHooks counts what a Sink reports to its hooks.
type countingHooks struct {
	mu        sync.Mutex
	dropped   int
	failed    int
	delivered int
	errs      []error // distinct errors of failures, in order
}

func (h *countingHooks) OnEventsDropped(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropped += n
}

func (h *countingHooks) OnEventsFailed(n int, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failed += n
	if len(h.errs) == 0 || h.errs[len(h.errs)-1].Error() != err.Error() {
		h.errs = append(h.errs, err)
	}
}

func (h *countingHooks) OnEventsDelivered(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.delivered += n
}

func (h *countingHooks) counts() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return fmt.Sprintf("dropped %d, failed %d, delivered %d", h.dropped, h.failed, h.delivered)
}
