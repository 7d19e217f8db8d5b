package benchmarks_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelkafka"
)

const (
	kafkaTopic      = "gavel-events"
	kafkaPartitions = 6
)

// kafkaCodecs are the compressions BenchmarkKafkaSink compares; the first
// is the Sink's default.
var kafkaCodecs = []struct {
	name  string
	codec kgo.CompressionCodec
}{
	{"zstd-fastest", kgo.ZstdCompression().WithLevel(int(zstd.SpeedFastest))},
	{"zstd-default", kgo.ZstdCompression()},
	{"lz4", kgo.Lz4Compression()},
	{"snappy", kgo.SnappyCompression()},
	{"none", kgo.NoCompression()},
}

// BenchmarkKafkaSink produces the events of one auction (33, as with 16
// bidders) per op to a fake one-broker cluster (kfake) on 127.0.0.1, and
// reports events per second, CPU time and allocations per event. The
// broker runs in the benchmark's process and acknowledges without storing
// (kfake.BlackholeProduce), so its CPU time and allocations are in the
// numbers too. A Write refused because the buffer is full is tried again,
// so the rate is what the client and the broker sustain (full/op counts
// the refusals); at the end every event must have been delivered.
func BenchmarkKafkaSink(b *testing.B) {
	for _, c := range kafkaCodecs {
		b.Run("compression="+c.name, func(b *testing.B) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(kafkaPartitions, kafkaTopic),
				kfake.BlackholeProduce())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(cluster.Close)
			sent := &batchBytes{}
			s, err := gavelkafka.NewSink(gavelkafka.WithTopic(kafkaTopic), gavelkafka.WithBrokers(cluster.ListenAddrs()[0]),
				gavelkafka.WithCompression(c.codec), gavelkafka.WithClientOptions(kgo.WithHooks(sent)))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				s.Close(ctx)
			})
			ctx := context.Background()

			// 1000 auctions' worth of events, written in turn.
			rnd := rand.New(rand.NewPCG(1, 2))
			auctions := make([][]gavel.Event, 1000)
			for i := range auctions {
				auctions[i] = auctionEvents(rnd, 1767225600000+int64(i))
			}
			perOp := len(auctions[0])
			// Warm the client (metadata, producer id) and the pools.
			for _, evs := range auctions {
				if err := s.Write(ctx, evs); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			before := s.Stats()

			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			start, cpu0 := time.Now(), cpuTime()
			b.ReportAllocs()
			i, full := 0, 0
			for b.Loop() {
				for {
					err := s.Write(ctx, auctions[i%len(auctions)])
					if err == nil {
						break
					}
					if !errors.Is(err, gavelkafka.ErrBufferFull) {
						b.Fatal(err)
					}
					full++
					runtime.Gosched()
				}
				i++
			}
			fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := s.Flush(fctx); err != nil {
				b.Fatal(err)
			}
			elapsed, cpu := time.Since(start), cpuTime()-cpu0
			runtime.ReadMemStats(&ms1)

			st := s.Stats()
			events := int64(i * perOp)
			// A refused Write drops its events whole; the loop writes them again.
			delivered, dropped := st.Delivered-before.Delivered, st.Dropped-before.Dropped
			if delivered != events || st.Failed != 0 || dropped != int64(full*perOp) {
				b.Fatalf("%d events written: %d delivered, %d failed, %d dropped; want %d dropped (%d refused writes)",
					events, delivered, st.Failed, dropped, full*perOp, full)
			}
			b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(events), "allocs/event")
			b.ReportMetric(float64(full)/float64(i), "full/op")
			if cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "cpu-ns/event")
			}
			if u := sent.uncompressed.Load(); u > 0 {
				b.ReportMetric(float64(sent.compressed.Load())/float64(u), "compressed/raw")
			}
		})
	}
}

// auctionEvents returns the 33 events of an auction with 16 bidders that
// all bid on its one imp, as Run emits them, with random ids, latencies and
// prices, so that they compress as real ones would.
func auctionEvents(rnd *rand.Rand, ts int64) []gavel.Event {
	uuid := func() string {
		return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rnd.Uint32(), rnd.Uint32()&0xffff, rnd.Uint32()&0xffff,
			rnd.Uint32()&0xffff, rnd.Uint64()&0xffffffffffff)
	}
	id := uuid()
	evs := []gavel.Event{{
		Version: gavel.EventSchemaVersion, Type: gavel.EventAuction, Time: ts, AuctionID: id, Currency: "USD",
		LatencyUS: 20_000 + rnd.Int64N(60_000), Bids: 16, Imps: 1, Winners: 1,
	}}
	for i := range 16 {
		latency := 2_000 + rnd.Int64N(70_000)
		evs = append(evs, gavel.Event{
			Version: gavel.EventSchemaVersion, Type: gavel.EventBid, Time: ts + latency/1000, AuctionID: id,
			Bidder: "dsp-" + strconv.Itoa(i), Status: "bid", LatencyUS: latency, Bids: 1,
		})
	}
	best := 0
	prices := make([]int64, 16)
	for i := range prices {
		prices[i] = 100_000 + 10_000*rnd.Int64N(500) // 0.10 to 5.09 CPM
		if prices[i] > prices[best] {
			best = i
		}
	}
	for i := range 16 {
		e := gavel.Event{
			Version: gavel.EventSchemaVersion, Type: gavel.EventLoss, Time: ts + 75, AuctionID: id, ImpID: "1",
			Bidder: "dsp-" + strconv.Itoa(i), Seat: "seat-" + strconv.Itoa(i), BidID: uuid(),
			Currency: "USD", PriceMicros: prices[i], LossReason: 102,
		}
		if i == best {
			e.Type, e.LossReason = gavel.EventWin, 0
			e.ClearMicros, e.CostMicros, e.Account = prices[i], prices[i]/1000, "acme"
		}
		evs = append(evs, e)
	}
	return evs
}

// batchBytes adds up the sizes of the record batches a client wrote.
type batchBytes struct {
	uncompressed, compressed atomic.Int64
}

func (h *batchBytes) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	h.uncompressed.Add(int64(m.UncompressedBytes))
	h.compressed.Add(int64(m.CompressedBytes))
}
