package gavelkafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelkafka"
	"github.com/gavelrtb/gavel/internal/codectest"
)

// TestSinkCodec produces events through a Sink with a codec of its own and
// reads the records back from a broker: each value is what the codec
// wrote, the key the auction id. An event the codec refuses fails its
// Write whole, dropped; an event of an unknown type is refused before the
// codec sees it.
func TestSinkCodec(t *testing.T) {
	c := startCluster(t)
	addr := c.ListenAddrs()[0]
	codec := new(codectest.IDCodec)
	sink := newSink(t, gavelkafka.WithBrokers(addr), gavelkafka.WithCodec(codec))
	ctx := context.Background()

	evs := events("auction-1", 0, 3)
	require.NoError(t, sink.Write(ctx, evs))
	refused := append(events("auction-2", 0, 2), gavel.Event{Version: 1, Type: gavel.EventError, AuctionID: "auction-2", Error: "refuse"})
	assert.ErrorContains(t, sink.Write(ctx, refused), "codec refuses")
	before := codec.Events()
	assert.ErrorContains(t, sink.Write(ctx, []gavel.Event{{Type: 0, AuctionID: "auction-3"}}), "unknown event type 0")
	assert.Equal(t, before, codec.Events(), "the codec is not given an event of an unknown type")
	require.NoError(t, sink.Flush(ctx))
	assert.Equal(t, gavel.SinkStats{Accepted: 3, Delivered: 3, Dropped: 4}, sink.Stats())

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	pollCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var values []string
	for len(values) < len(evs) && pollCtx.Err() == nil {
		cl.PollFetches(pollCtx).EachRecord(func(r *kgo.Record) {
			assert.Equal(t, "auction-1", string(r.Key))
			values = append(values, string(r.Value))
		})
	}
	line := codectest.Line("auction-1")
	assert.Equal(t, []string{line, line, line}, values)
}
