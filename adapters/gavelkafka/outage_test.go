package gavelkafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelkafka"
)

// TestSinkBrokerOutage stops the broker in the middle of a stream of
// writes and starts it again on the same port. The broker keeps its state
// on disk (kfake.DataDir), as a real one does: a broker that came back
// empty would have a new topic ID, and the client would fail the records
// of the topic as deleted. Every event that Write accepted must then be in
// the topic exactly once, in order per auction, including those whose
// requests were in flight when the broker went away; every event refused
// while the buffer was full must be counted as dropped.
func TestSinkBrokerOutage(t *testing.T) {
	dir := t.TempDir()
	c1 := startCluster(t, kfake.DataDir(dir))
	addr := c1.ListenAddrs()[0]
	hooks := &countingHooks{}
	const buffer = 400
	s := newSink(t, gavelkafka.WithBrokers(addr), gavelkafka.WithMaxBufferedRecords(buffer), gavelkafka.WithSinkHooks(hooks),
		gavelkafka.WithDeliveryTimeout(time.Minute), gavelkafka.WithLinger(time.Millisecond), fastRecovery())
	ctx := context.Background()

	var (
		accepted         syncByKey
		offered, refused atomic.Int64
		stop             = make(chan struct{})
		wg               sync.WaitGroup
		eventually       = func(cond func() bool, msg string) {
			t.Helper()
			require.Eventually(t, cond, 15*time.Second, 2*time.Millisecond, msg)
		}
	)
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Ten auctions per writer; Time grows along each.
				evs := events(fmt.Sprintf("w%d-a%d", g, i%10), 3*i, 1+i%3)
				offered.Add(int64(len(evs)))
				switch err := s.Write(ctx, evs); {
				case err == nil:
					accepted.add(evs...)
				case errors.Is(err, gavelkafka.ErrBufferFull):
					refused.Add(int64(len(evs)))
				default:
					t.Errorf("write: %v", err)
					return
				}
				time.Sleep(100 * time.Microsecond)
			}
		})
	}

	eventually(func() bool { return s.Stats().Delivered >= 500 }, "a healthy stream")
	c1.Close()
	// The writers may outpace even a healthy broker on a busy box, so
	// some events may have been dropped already.
	dropped := s.Stats().Dropped
	eventually(func() bool {
		st := s.Stats()
		return st.Queued > buffer-3 && st.Dropped >= dropped+200 // full, but for less than a Write
	}, "the buffer fills during the outage, then Writes are refused")
	st := s.Stats()
	assert.LessOrEqual(t, st.Queued, int64(buffer))

	startCluster(t, kfake.DataDir(dir), kfake.Ports(portOf(t, addr)))
	eventually(func() bool { return s.Stats().Delivered >= st.Delivered+st.Queued+500 }, "the stream recovers")
	close(stop)
	wg.Wait()
	require.NoError(t, s.Close(ctx))

	st = s.Stats()
	t.Logf("offered %d: %+v", offered.Load(), st)
	assert.Equal(t, offered.Load(), st.Delivered+st.Dropped+st.Failed, "every event is accounted for")
	assert.Equal(t, gavel.SinkStats{Accepted: st.Delivered, Delivered: st.Delivered, Dropped: refused.Load()}, st,
		"everything accepted is delivered; what was refused is dropped")
	assert.Equal(t, fmt.Sprintf("dropped %d, failed 0, delivered %d", st.Dropped, st.Delivered), hooks.counts())
	got := consume(t, addr, int(st.Delivered))
	assert.Equal(t, int(st.Delivered), got.count(), "each event exactly once")
	assert.Equal(t, accepted.m, got, "in order per auction")
}

// TestSinkTopicRecreated restarts the broker empty on the same port: to the
// client, the topic was deleted and created again, with a new topic ID. It
// refuses to produce to the new topic (as franz-go documents), so every
// event buffered then, and every event written after, fails with
// UNKNOWN_TOPIC_ID, and is counted so.
func TestSinkTopicRecreated(t *testing.T) {
	c1 := startCluster(t)
	addr := c1.ListenAddrs()[0]
	hooks := &countingHooks{}
	s := newSink(t, gavelkafka.WithBrokers(addr), gavelkafka.WithSinkHooks(hooks), fastRecovery())
	ctx := context.Background()
	require.NoError(t, s.Write(ctx, events("a", 0, 10)))
	require.NoError(t, s.Flush(ctx))
	c1.Close()
	require.NoError(t, s.Write(ctx, events("a", 10, 10)))
	startCluster(t, kfake.Ports(portOf(t, addr)))
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, s.Flush(fctx))
	require.NoError(t, s.Write(ctx, events("a", 20, 5)))
	require.NoError(t, s.Close(fctx))

	assert.Equal(t, gavel.SinkStats{Accepted: 25, Delivered: 10, Failed: 15}, s.Stats())
	assert.Equal(t, "dropped 0, failed 15, delivered 10", hooks.counts())
	require.NotEmpty(t, hooks.errs)
	assert.ErrorIs(t, hooks.errs[0], kerr.UnknownTopicID)
	assert.Zero(t, consume(t, addr, 0).count(), "nothing reached the new topic")
}
