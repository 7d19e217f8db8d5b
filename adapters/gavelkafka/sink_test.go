package gavelkafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelkafka"
	"github.com/gavelrtb/gavel/auctiontest"
)

func TestNewSinkOptions(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	require.NoError(t, err)
	defer cl.Close()
	tests := []struct {
		name string
		opts []gavelkafka.Option
		want []string // parts of the error; none: NewSink succeeds
	}{
		{"defaults", []gavelkafka.Option{gavelkafka.WithBrokers("127.0.0.1:1"), gavelkafka.WithTopic("t")}, nil},
		{"own client", []gavelkafka.Option{gavelkafka.WithClient(cl), gavelkafka.WithTopic("t"), gavelkafka.WithMaxBufferedRecords(5)}, nil},
		{"every option", []gavelkafka.Option{
			gavelkafka.WithBrokers("127.0.0.1:1"), gavelkafka.WithTopic("t"), gavelkafka.WithCompression(kgo.SnappyCompression()),
			gavelkafka.WithIdempotence(false), gavelkafka.WithLinger(0), gavelkafka.WithBatchMaxBytes(512),
			gavelkafka.WithMaxBufferedRecords(1), gavelkafka.WithMaxBufferedBytes(1), gavelkafka.WithDeliveryTimeout(time.Second),
			gavelkafka.WithSinkHooks(&countingHooks{}), gavelkafka.WithClientOptions(kgo.ClientID("test")),
			gavelkafka.WithCodec(gavel.StdCodec()),
		}, nil},
		{"nothing", nil, []string{"topic is required", "seed brokers are required"}},
		{"client and client options", []gavelkafka.Option{
			gavelkafka.WithClient(cl), gavelkafka.WithTopic("t"), gavelkafka.WithBrokers("x"), gavelkafka.WithLinger(time.Second),
		}, []string{"WithClient cannot be combined with WithBrokers, WithLinger"}},
		{"out of range", []gavelkafka.Option{
			gavelkafka.WithBrokers("127.0.0.1:1"), gavelkafka.WithTopic("t"), gavelkafka.WithLinger(-1), gavelkafka.WithBatchMaxBytes(511),
			gavelkafka.WithMaxBufferedRecords(0), gavelkafka.WithMaxBufferedBytes(0), gavelkafka.WithDeliveryTimeout(0),
		}, []string{
			"linger must not be negative", "batch max bytes must be in [512, 1<<30], got 511",
			"max buffered records must be at least 1", "max buffered bytes must be at least 1",
			"delivery timeout must be at least 1s, got 0s",
		}},
		{"nil codec", []gavelkafka.Option{gavelkafka.WithBrokers("b"), gavelkafka.WithTopic("t"), gavelkafka.WithCodec(nil)},
			[]string{"codec must not be nil"}},
		{"bad hook", []gavelkafka.Option{gavelkafka.WithBrokers("b"), gavelkafka.WithTopic("t"), gavelkafka.WithSinkHooks(42)},
			[]string{"hook int implements no hook interface"}},
		{"client refuses its options", []gavelkafka.Option{gavelkafka.WithBrokers("b"), gavelkafka.WithTopic("t"),
			gavelkafka.WithClientOptions(kgo.RequiredAcks(kgo.LeaderAck()))},
			[]string{"client: idempotency requires acks=all"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := gavelkafka.NewSink(tt.opts...)
			if tt.want == nil {
				require.NoError(t, err)
				require.NoError(t, s.Close(context.Background()))
				return
			}
			require.ErrorIs(t, err, gavel.ErrInvalidOption)
			assert.Nil(t, s)
			for _, w := range tt.want {
				assert.ErrorContains(t, err, w)
			}
			assert.ErrorContains(t, err, "gavel: invalid option: kafka sink: ")
		})
	}
}

// TestSinkDeliversEveryEventOnce produces the events of 50 auctions run by
// a gavel.Auction and 50 auctions written directly, each from several
// goroutines, and reads them back: every event exactly once, in order per
// auction.
func TestSinkDeliversEveryEventOnce(t *testing.T) {
	c := startCluster(t)
	addr := c.ListenAddrs()[0]
	hooks := &countingHooks{}
	sink := newSink(t, gavelkafka.WithBrokers(addr), gavelkafka.WithSinkHooks(hooks))
	ctx := context.Background()

	// 16 bidders bid on the one imp: 1 auction event, 16 bid events, 1 win
	// and 15 losses make 33 events per auction.
	var bidders []gavel.Bidder
	for i := range 16 {
		name := fmt.Sprintf("dsp-%02d", i)
		bidders = append(bidders, auctiontest.Fixed(name, auctiontest.Bid(name+"-bid", "1", 1+float64(i)/10)))
	}
	// The Auction puts an AsyncSink in front of the tee, which retries a
	// refused Write; the Sink refuses a Write whole, so recording only the
	// Writes it took records exactly what it produced.
	var wrote syncByKey
	tee := gavel.EventSinkFunc(func(ctx context.Context, evs []gavel.Event) error {
		if err := sink.Write(ctx, evs); err != nil {
			return err
		}
		wrote.add(evs...)
		return nil
	})
	a, err := gavel.New(gavel.WithBidders(bidders...), gavel.WithEventSink(tee), gavel.WithMaxTMax(5*time.Second))
	require.NoError(t, err)

	const auctions, goroutines = 50, 5
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() { // auctions through Run
			for i := g; i < auctions; i += goroutines {
				req := auctiontest.Request(fmt.Sprintf("auction-%03d", i), auctiontest.BannerImp("1", 0.5))
				req.TMax = 5000 // the bidders answer at once, but the box is noisy and -race slow
				_, err := a.Run(ctx, req)
				assert.NoError(t, err)
			}
		})
		wg.Go(func() { // the events of other auctions, directly, a few at a time
			for i := g; i < auctions; i += goroutines {
				id := fmt.Sprintf("direct-%03d", i)
				for first := 0; first < 33; first += 1 + i%7 {
					evs := events(id, first, min(1+i%7, 33-first))
					assert.NoError(t, sink.Write(ctx, evs))
					wrote.add(evs...)
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, a.Close(ctx), "the Auction's AsyncSink delivers to the Sink")
	require.NoError(t, sink.Flush(ctx))

	// A bidder that misses the deadline on a very busy box makes a
	// timeout event instead of a bid and a loss: count what was written.
	total := wrote.m.count()
	require.Len(t, wrote.m, 2*auctions)
	if total != 2*auctions*33 {
		t.Logf("%d events, not %d: a bidder timed out", total, 2*auctions*33)
	}
	for id, evs := range wrote.m {
		require.GreaterOrEqual(t, len(evs), 17, id)
	}
	got := consume(t, addr, total)
	assert.Equal(t, total, got.count(), "every event exactly once")
	assert.Equal(t, wrote.m, got, "in order per auction")
	assert.Equal(t, gavel.SinkStats{Accepted: int64(total), Delivered: int64(total)}, sink.Stats())
	require.NoError(t, sink.Close(ctx))
	assert.Equal(t, fmt.Sprintf("dropped 0, failed 0, delivered %d", total), hooks.counts())
}

func TestSinkRefusesWhatDoesNotFit(t *testing.T) {
	tests := []struct {
		name string
		opt  gavelkafka.Option
	}{
		{"records", gavelkafka.WithMaxBufferedRecords(10)},
		{"bytes", gavelkafka.WithMaxBufferedBytes(recordBytes(t, events("a", 0, 10)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hooks := &countingHooks{}
			// Nothing listens at the broker's address: records stay buffered.
			s := newSink(t, gavelkafka.WithBrokers(deadPort(t)), gavelkafka.WithSinkHooks(hooks), tt.opt)
			ctx := context.Background()
			require.NoError(t, s.Write(ctx, events("a", 0, 6)))
			assert.ErrorIs(t, s.Write(ctx, events("a", 6, 5)), gavelkafka.ErrBufferFull, "5 more do not fit: none is produced")
			require.NoError(t, s.Write(ctx, events("a", 6, 4)))
			assert.ErrorIs(t, s.Write(ctx, events("a", 10, 1)), gavelkafka.ErrBufferFull)
			require.NoError(t, s.Write(ctx, nil))
			assert.Equal(t, gavel.SinkStats{Accepted: 10, Dropped: 6, Queued: 10}, s.Stats())

			cctx, cancel := context.WithCancelCause(ctx)
			outage := errors.New("shutting down")
			cancel(outage)
			assert.ErrorIs(t, s.Close(cctx), context.Canceled, "Close gives up at once")
			assert.Equal(t, gavel.SinkStats{Accepted: 10, Dropped: 6, Failed: 10}, s.Stats(), "given up: failed")
			assert.ErrorIs(t, s.Write(ctx, events("a", 11, 2)), gavelkafka.ErrClosed)
			assert.Equal(t, gavel.SinkStats{Accepted: 10, Dropped: 8, Failed: 10}, s.Stats())
			assert.Equal(t, "dropped 8, failed 10, delivered 0", hooks.counts())
			assert.Equal(t, []error{outage}, hooks.errs, "failed with the cause of Close's ctx")
		})
	}
}

func TestSinkRefusesInvalidEvents(t *testing.T) {
	c := startCluster(t)
	addr := c.ListenAddrs()[0]
	s := newSink(t, gavelkafka.WithBrokers(addr))
	ctx := context.Background()
	evs := events("a", 0, 3)
	evs[1].Type = 0
	err := s.Write(ctx, evs)
	assert.EqualError(t, err, `gavel: event of auction "a": unknown event type 0: kafka sink: event 1`)
	require.NoError(t, s.Write(ctx, events("b", 0, 2)))
	require.NoError(t, s.Close(ctx))
	assert.Equal(t, gavel.SinkStats{Accepted: 2, Delivered: 2, Dropped: 3}, s.Stats())
	assert.Equal(t, byKey{"b": events("b", 0, 2)}, consume(t, addr, 2), "nothing of the invalid batch")
}

func TestSinkClose(t *testing.T) {
	c := startCluster(t)
	addr := c.ListenAddrs()[0]
	// A long linger: only Close's flush sends the events early.
	s := newSink(t, gavelkafka.WithBrokers(addr), gavelkafka.WithLinger(time.Minute))
	ctx := context.Background()
	want := byKey{}
	for i := range 20 {
		evs := events(fmt.Sprint("a", i%4), i, 3)
		require.NoError(t, s.Write(ctx, evs))
		want.add(evs...)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { assert.NoError(t, s.Close(cctx), "every Close waits for the first") })
	}
	wg.Wait()
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Equal(t, gavel.SinkStats{Accepted: 60, Delivered: 60}, s.Stats(), "delivered by the time Close returns")
	require.NoError(t, s.Close(ctx), "Close again")
	assert.ErrorIs(t, s.Write(ctx, events("a", 0, 1)), gavelkafka.ErrClosed)
	assert.NoError(t, s.Flush(ctx), "nothing left to flush")
	assert.Equal(t, want, consume(t, addr, 60))
}

// TestSinkCloseExpired closes a Sink whose cluster has gone: what is still
// buffered when Close's ctx ends is counted as failed.
func TestSinkCloseExpired(t *testing.T) {
	c := startCluster(t)
	hooks := &countingHooks{}
	s := newSink(t, gavelkafka.WithBrokers(c.ListenAddrs()[0]), gavelkafka.WithSinkHooks(hooks), fastRecovery())
	ctx := context.Background()
	require.NoError(t, s.Write(ctx, events("a", 0, 5)))
	require.NoError(t, s.Flush(ctx))
	c.Close()
	require.NoError(t, s.Write(ctx, events("a", 5, 7)))

	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	assert.ErrorIs(t, s.Close(cctx), context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, gavel.SinkStats{Accepted: 12, Delivered: 5, Failed: 7}, s.Stats())
	assert.Equal(t, "dropped 0, failed 7, delivered 5", hooks.counts())
	require.Len(t, hooks.errs, 1)
	assert.ErrorIs(t, hooks.errs[0], context.DeadlineExceeded)
	assert.ErrorIs(t, s.Write(ctx, events("a", 12, 1)), gavelkafka.ErrClosed)
	assert.NoError(t, s.Close(ctx), "a later Close returns at once")
}

// TestSinkDeliveryTimeout keeps writing while the cluster is gone: the
// events wait in the buffer until their delivery timeout, then fail.
func TestSinkDeliveryTimeout(t *testing.T) {
	c := startCluster(t)
	hooks := &countingHooks{}
	s := newSink(t, gavelkafka.WithBrokers(c.ListenAddrs()[0]), gavelkafka.WithSinkHooks(hooks), fastRecovery(),
		gavelkafka.WithDeliveryTimeout(time.Second), gavelkafka.WithMaxBufferedRecords(50))
	ctx := context.Background()
	require.NoError(t, s.Write(ctx, events("a", 0, 5)))
	require.NoError(t, s.Flush(ctx), "the topic is known and the client connected")
	c.Close()

	for i := range 30 {
		err := s.Write(ctx, events(fmt.Sprint("b", i%3), i*2, 2))
		if i < 25 {
			require.NoError(t, err, "write %d", i)
		} else {
			require.ErrorIs(t, err, gavelkafka.ErrBufferFull, "write %d", i)
		}
	}
	assert.Equal(t, gavel.SinkStats{Accepted: 55, Delivered: 5, Dropped: 10, Queued: 50}, s.Stats())
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, s.Flush(fctx), "the delivery timeout resolves every event")
	assert.Equal(t, gavel.SinkStats{Accepted: 55, Delivered: 5, Failed: 50, Dropped: 10}, s.Stats())
	assert.Equal(t, "dropped 10, failed 50, delivered 5", hooks.counts())
	for _, err := range hooks.errs { // the client fails them with the error that it last saw
		assert.True(t, errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, syscall.ECONNREFUSED), "%v", err)
	}
	require.NoError(t, s.Write(ctx, events("c", 0, 50)), "the buffer has room again")
}

// TestSinkWithClient produces with the caller's client, which Close leaves
// open.
func TestSinkWithClient(t *testing.T) {
	c := startCluster(t)
	addr := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	require.NoError(t, err)
	defer cl.Close()
	s := newSink(t, gavelkafka.WithClient(cl))
	ctx := context.Background()
	require.NoError(t, s.Write(ctx, events("a", 0, 4)))
	require.NoError(t, s.Close(ctx))
	assert.Equal(t, gavel.SinkStats{Accepted: 4, Delivered: 4}, s.Stats())

	other := events("a", 4, 1)[0]
	value, err := other.AppendJSON(nil)
	require.NoError(t, err)
	res := cl.ProduceSync(ctx, &kgo.Record{
		Topic: topic, Key: []byte("a"), Value: value,
		Headers: []kgo.RecordHeader{{Key: gavelkafka.SchemaVersionHeader, Value: []byte("1")}},
	})
	require.NoError(t, res.FirstErr(), "the client is still open")
	assert.Equal(t, byKey{"a": events("a", 0, 5)}, consume(t, addr, 5))
}
