package gavel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// gateSink blocks every Write until release is closed or the Write's ctx is
// done, then records the events. Each Write announces itself on entered if
// someone is listening.
type gateSink struct {
	entered chan struct{}
	release chan struct{}
	rec     auctiontest.EventRecorder
}

func newGateSink() *gateSink {
	return &gateSink{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (g *gateSink) Write(ctx context.Context, events []gavel.Event) error {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.rec.Write(ctx, events)
}

// sinkHookRecorder implements every sink hook and keeps what it was told.
type sinkHookRecorder struct {
	dropped, failed, delivered atomic.Int64

	mu         sync.Mutex
	retries    []int
	retryErrs  []error
	failedErrs []error
}

func (h *sinkHookRecorder) OnEventsDropped(n int)   { h.dropped.Add(int64(n)) }
func (h *sinkHookRecorder) OnEventsDelivered(n int) { h.delivered.Add(int64(n)) }
func (h *sinkHookRecorder) OnEventsFailed(n int, err error) {
	h.failed.Add(int64(n))
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failedErrs = append(h.failedErrs, err)
}
func (h *sinkHookRecorder) OnSinkRetry(attempt int, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.retries = append(h.retries, attempt)
	h.retryErrs = append(h.retryErrs, err)
}

// assertAccounting checks the identities that SinkStats documents, and that
// the hooks were told the same as the counters.
func assertAccounting(t *testing.T, st gavel.SinkStats, h *sinkHookRecorder) {
	t.Helper()
	assert.Equal(t, st.Accepted, st.Delivered+st.Failed+st.Queued, "Accepted == Delivered + Failed + Queued: %+v", st)
	if h != nil {
		assert.Equal(t, st.Dropped, h.dropped.Load(), "dropped: stats vs hook")
		assert.Equal(t, st.Delivered, h.delivered.Load(), "delivered: stats vs hook")
		assert.Equal(t, st.Failed, h.failed.Load(), "failed: stats vs hook")
		h.mu.Lock()
		assert.Equal(t, st.Retries, int64(len(h.retries)), "retries: stats vs hook")
		h.mu.Unlock()
	}
}

func newSink(t *testing.T, inner gavel.EventSink, opts ...gavel.SinkOption) *gavel.AsyncSink {
	t.Helper()
	s, err := gavel.NewAsyncSink(inner, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, s.Close(ctx))
	})
	return s
}

func TestNewAsyncSinkInvalid(t *testing.T) {
	var rec auctiontest.EventRecorder
	tests := []struct {
		name string
		sink gavel.EventSink
		opts []gavel.SinkOption
		want string
	}{
		{"nil sink", nil, nil, "event sink must not be nil"},
		{"queue 0", &rec, []gavel.SinkOption{gavel.WithQueueSize(0)}, "queue size must be at least 1"},
		{"batch -1", &rec, []gavel.SinkOption{gavel.WithBatchSize(-1)}, "batch size must be at least 1"},
		{"batch above queue", &rec, []gavel.SinkOption{gavel.WithQueueSize(10), gavel.WithBatchSize(11)}, "batch size 11 exceeds queue size 10"},
		{"default batch above queue", &rec, []gavel.SinkOption{gavel.WithQueueSize(100)}, "batch size 512 exceeds queue size 100"},
		{"negative linger", &rec, []gavel.SinkOption{gavel.WithLinger(-time.Millisecond)}, "linger must not be negative"},
		{"no attempts", &rec, []gavel.SinkOption{gavel.WithRetry(0, time.Millisecond, time.Second)}, "attempts must be at least 1"},
		{"zero base", &rec, []gavel.SinkOption{gavel.WithRetry(3, 0, time.Second)}, "0 < base <= max"},
		{"max below base", &rec, []gavel.SinkOption{gavel.WithRetry(3, time.Second, time.Millisecond)}, "0 < base <= max"},
		{"zero write timeout", &rec, []gavel.SinkOption{gavel.WithWriteTimeout(0)}, "write timeout must be positive"},
		{"hook of no kind", &rec, []gavel.SinkOption{gavel.WithSinkHooks(42)}, "sink hook int implements no sink hook interface"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := gavel.NewAsyncSink(tt.sink, tt.opts...)
			assert.Nil(t, s)
			require.ErrorIs(t, err, gavel.ErrInvalidOption)
			assert.ErrorContains(t, err, tt.want)
		})
	}
	t.Run("all problems at once", func(t *testing.T) {
		_, err := gavel.NewAsyncSink(nil, gavel.WithQueueSize(-1), gavel.WithWriteTimeout(-1))
		assert.ErrorContains(t, err, "event sink must not be nil")
		assert.ErrorContains(t, err, "queue size")
		assert.ErrorContains(t, err, "write timeout")
	})
}

func TestAsyncSinkCloseDeliversEverythingInOrder(t *testing.T) {
	var rec auctiontest.EventRecorder
	hooks := &sinkHookRecorder{}
	s, err := gavel.NewAsyncSink(&rec, gavel.WithBatchSize(100), gavel.WithSinkHooks(hooks))
	require.NoError(t, err)
	all := makeEvents(0, 10_000)
	rnd := rand.New(rand.NewPCG(1, 2))
	for rest := all; len(rest) > 0; {
		n := min(len(rest), 1+rnd.IntN(64))
		require.NoError(t, s.Write(context.Background(), rest[:n]))
		rest = rest[n:]
	}
	require.NoError(t, s.Close(waitCtx(t)))
	assert.Equal(t, all, rec.Events())
	st := s.Stats()
	assert.Equal(t, gavel.SinkStats{Accepted: 10_000, Delivered: 10_000}, st)
	assertAccounting(t, st, hooks)
}

func TestAsyncSinkDropsWhatDoesNotFit(t *testing.T) {
	gate := newGateSink()
	hooks := &sinkHookRecorder{}
	s := newSink(t, gate, gavel.WithQueueSize(100), gavel.WithBatchSize(10), gavel.WithLinger(0), gavel.WithSinkHooks(hooks))
	for i := range 15 {
		err := s.Write(context.Background(), makeEvents(10*i, 10))
		if i < 10 {
			require.NoError(t, err, "write %d", i)
		} else {
			require.ErrorIs(t, err, gavel.ErrSinkFull, "write %d", i)
		}
	}
	st := s.Stats()
	assert.Equal(t, gavel.SinkStats{Accepted: 100, Dropped: 50, Queued: 100}, st)
	assert.Equal(t, int64(50), hooks.dropped.Load())
	assert.ErrorIs(t, s.Write(context.Background(), makeEvents(0, 101)), gavel.ErrSinkFull, "a batch larger than the queue never fits")

	close(gate.release)
	require.NoError(t, s.Flush(waitCtx(t)))
	assert.Equal(t, makeEvents(0, 100), gate.rec.Events())
	st = s.Stats()
	assert.Equal(t, gavel.SinkStats{Accepted: 100, Delivered: 100, Dropped: 151}, st)
	assertAccounting(t, st, hooks)
}

func TestAsyncSinkCloseGivesUpWhenCtxDone(t *testing.T) {
	expired := func() (context.Context, context.CancelFunc) {
		return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	}
	canceled := func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx, cancel
	}
	for name, newCtx := range map[string]func() (context.Context, context.CancelFunc){"expired": expired, "canceled": canceled} {
		t.Run(name, func(t *testing.T) {
			gate := newGateSink()
			hooks := &sinkHookRecorder{}
			s, err := gavel.NewAsyncSink(gate, gavel.WithBatchSize(10), gavel.WithLinger(0), gavel.WithSinkHooks(hooks))
			require.NoError(t, err)
			require.NoError(t, s.Write(context.Background(), makeEvents(0, 10)))
			<-gate.entered // the first 10 are being written
			require.NoError(t, s.Write(context.Background(), makeEvents(10, 20)))

			ctx, cancel := newCtx()
			defer cancel()
			err = s.Close(ctx)
			require.ErrorIs(t, err, ctx.Err())
			st := s.Stats()
			assert.Zero(t, st.Delivered)
			assert.GreaterOrEqual(t, st.Failed, int64(20), "the queued events fail at once")
			assert.Equal(t, int64(30), st.Failed+st.Queued, "the batch in flight is failed or still queued")
			assertAccounting(t, st, nil)

			require.NoError(t, s.Close(waitCtx(t)), "a second Close waits for the goroutine")
			st = s.Stats()
			assert.Equal(t, gavel.SinkStats{Accepted: 30, Failed: 30}, st, "the batch in flight is not retried")
			assertAccounting(t, st, hooks)
			assert.Zero(t, gate.rec.Len())
			require.Len(t, hooks.failedErrs, 2, "the queued events, then the batch in flight, in either order")
			for _, err := range hooks.failedErrs {
				assert.ErrorIs(t, err, ctx.Err(), "abandoned events fail with the cause of Close's ctx")
			}
		})
	}
}

func TestAsyncSinkCloseEmptyWithDoneCtx(t *testing.T) {
	var rec auctiontest.EventRecorder
	s, err := gavel.NewAsyncSink(&rec)
	require.NoError(t, err)
	require.NoError(t, s.Write(context.Background(), makeEvents(0, 3)))
	require.NoError(t, s.Flush(waitCtx(t)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.NoError(t, s.Close(ctx), "nothing left to give up")
	assert.NoError(t, s.Close(ctx), "Close is idempotent")
}

func TestAsyncSinkRetriesThenDeliversOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec auctiontest.EventRecorder
		boom := errors.New("broker unavailable")
		rec.FailNext(2, boom)
		hooks := &sinkHookRecorder{}
		s := newSink(t, &rec, gavel.WithRetry(5, time.Millisecond, 2*time.Millisecond), gavel.WithSinkHooks(hooks))
		events := makeEvents(0, 10)
		require.NoError(t, s.Write(context.Background(), events))
		require.NoError(t, s.Flush(waitCtx(t)))

		assert.Equal(t, events, rec.Events(), "delivered once, no duplicates")
		st := s.Stats()
		assert.Equal(t, gavel.SinkStats{Accepted: 10, Delivered: 10, Retries: 2}, st)
		assertAccounting(t, st, hooks)
		assert.Equal(t, []int{1, 2}, hooks.retries)
		assert.Equal(t, []error{boom, boom}, hooks.retryErrs)
	})
}

func TestAsyncSinkRetriesExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec auctiontest.EventRecorder
		boom := errors.New("broker unavailable")
		rec.FailNext(1000, boom)
		hooks := &sinkHookRecorder{}
		s := newSink(t, &rec, gavel.WithRetry(3, time.Millisecond, time.Millisecond), gavel.WithSinkHooks(hooks))
		require.NoError(t, s.Write(context.Background(), makeEvents(0, 10)))
		require.NoError(t, s.Flush(waitCtx(t)), "Flush returns once the events failed")

		st := s.Stats()
		assert.Equal(t, gavel.SinkStats{Accepted: 10, Failed: 10, Retries: 2}, st)
		assertAccounting(t, st, hooks)
		assert.Equal(t, []error{boom}, hooks.failedErrs)
		assert.Zero(t, rec.Len())

		// The sink keeps working after a failed batch.
		rec.Reset()
		require.NoError(t, s.Write(context.Background(), makeEvents(10, 5)))
		require.NoError(t, s.Flush(waitCtx(t)))
		assert.Equal(t, makeEvents(10, 5), rec.Events())
	})
}

func TestAsyncSinkWriteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := gavel.EventSinkFunc(func(ctx context.Context, _ []gavel.Event) error {
			<-ctx.Done()
			return ctx.Err()
		})
		hooks := &sinkHookRecorder{}
		s := newSink(t, hang, gavel.WithWriteTimeout(5*time.Millisecond), gavel.WithRetry(2, time.Millisecond, time.Millisecond),
			gavel.WithSinkHooks(hooks))
		require.NoError(t, s.Write(context.Background(), makeEvents(0, 1)))
		require.NoError(t, s.Flush(waitCtx(t)))
		assert.Equal(t, gavel.SinkStats{Accepted: 1, Failed: 1, Retries: 1}, s.Stats())
		require.Len(t, hooks.failedErrs, 1)
		assert.ErrorIs(t, hooks.failedErrs[0], context.DeadlineExceeded)
	})
}

func TestAsyncSinkRecoversPanic(t *testing.T) {
	t.Run("then succeeds", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var rec auctiontest.EventRecorder
			var calls atomic.Int64
			inner := gavel.EventSinkFunc(func(ctx context.Context, events []gavel.Event) error {
				if calls.Add(1) == 1 {
					panic("sink bug")
				}
				return rec.Write(ctx, events)
			})
			hooks := &sinkHookRecorder{}
			s := newSink(t, inner, gavel.WithRetry(3, time.Millisecond, time.Millisecond), gavel.WithSinkHooks(hooks))
			require.NoError(t, s.Write(context.Background(), makeEvents(0, 4)))
			require.NoError(t, s.Flush(waitCtx(t)))
			assert.Equal(t, makeEvents(0, 4), rec.Events())
			assert.Equal(t, gavel.SinkStats{Accepted: 4, Delivered: 4, Retries: 1}, s.Stats())
			require.Len(t, hooks.retryErrs, 1)
			assert.EqualError(t, hooks.retryErrs[0], "gavel: event sink panicked: sink bug")
		})
	})
	t.Run("always", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			inner := gavel.EventSinkFunc(func(context.Context, []gavel.Event) error { panic(errors.New("always")) })
			s := newSink(t, inner, gavel.WithRetry(2, time.Millisecond, time.Millisecond))
			require.NoError(t, s.Write(context.Background(), makeEvents(0, 4)))
			require.NoError(t, s.Flush(waitCtx(t)))
			assert.Equal(t, gavel.SinkStats{Accepted: 4, Failed: 4, Retries: 1}, s.Stats())
		})
	})
}

func TestAsyncSinkLinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const linger = 20 * time.Millisecond
		var rec auctiontest.EventRecorder
		s := newSink(t, &rec, gavel.WithLinger(linger))
		start := time.Now()
		require.NoError(t, s.Write(context.Background(), makeEvents(0, 1)))
		synctest.Wait()
		assert.Zero(t, rec.Len(), "a lone event waits for its batch to fill")
		require.NoError(t, rec.WaitFor(waitCtx(t), 1), "delivered without Flush")
		assert.Equal(t, linger, time.Since(start), "but no longer than the linger")
	})
}

func TestAsyncSinkBatchSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var sizes []int
		var rec auctiontest.EventRecorder
		inner := gavel.EventSinkFunc(func(ctx context.Context, events []gavel.Event) error {
			mu.Lock()
			sizes = append(sizes, len(events))
			mu.Unlock()
			return rec.Write(ctx, events)
		})
		s := newSink(t, inner, gavel.WithBatchSize(7), gavel.WithLinger(time.Hour))

		// A full batch is written at once, without waiting for the linger.
		start := time.Now()
		require.NoError(t, s.Write(context.Background(), makeEvents(0, 3)))
		require.NoError(t, s.Write(context.Background(), makeEvents(3, 4)))
		require.NoError(t, rec.WaitFor(waitCtx(t), 7))
		assert.Zero(t, time.Since(start))

		require.NoError(t, s.Write(context.Background(), makeEvents(7, 100)))
		for i := 107; i < 200; i += 3 {
			require.NoError(t, s.Write(context.Background(), makeEvents(i, 3)))
		}
		require.NoError(t, s.Flush(waitCtx(t)))
		assert.Equal(t, makeEvents(0, 200), rec.Events())
		mu.Lock()
		defer mu.Unlock()
		sum := 0
		for _, n := range sizes {
			assert.LessOrEqual(t, n, 7)
			assert.Positive(t, n)
			sum += n
		}
		assert.Equal(t, 200, sum)
		assert.Equal(t, 7, sizes[0])
	})
}

func TestAsyncSinkFlush(t *testing.T) {
	t.Run("writes at once", func(t *testing.T) {
		var rec auctiontest.EventRecorder
		s := newSink(t, &rec, gavel.WithLinger(time.Hour))
		require.NoError(t, s.Flush(waitCtx(t)), "nothing to flush")
		require.NoError(t, s.Write(context.Background(), makeEvents(0, 5)))
		require.NoError(t, s.Flush(waitCtx(t)))
		assert.Equal(t, makeEvents(0, 5), rec.Events())
	})
	t.Run("ctx done first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			gate := newGateSink()
			s := newSink(t, gate)
			require.NoError(t, s.Write(context.Background(), makeEvents(0, 5)))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			start := time.Now()
			assert.ErrorIs(t, s.Flush(ctx), context.DeadlineExceeded)
			assert.Equal(t, 10*time.Millisecond, time.Since(start), "Flush returns when its ctx ends")
			assert.Equal(t, int64(5), s.Stats().Queued, "the events stay queued")

			// Events written after Flush started are not waited for.
			close(gate.release)
			require.NoError(t, s.Flush(waitCtx(t)))
			assert.Equal(t, 5, gate.rec.Len())
		})
	})
	t.Run("concurrent", func(t *testing.T) {
		var rec auctiontest.EventRecorder
		s := newSink(t, &rec, gavel.WithBatchSize(16), gavel.WithLinger(time.Hour))
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					assert.NoError(t, s.Write(context.Background(), makeEvents(g*1000+i, 1)))
					if i%10 == 0 {
						assert.NoError(t, s.Flush(waitCtx(t)))
					}
				}
				assert.NoError(t, s.Flush(waitCtx(t)))
			})
		}
		wg.Wait()
		assert.Equal(t, 400, rec.Len())
	})
}

func TestAsyncSinkWriteAfterClose(t *testing.T) {
	var rec auctiontest.EventRecorder
	hooks := &sinkHookRecorder{}
	s, err := gavel.NewAsyncSink(&rec, gavel.WithSinkHooks(hooks))
	require.NoError(t, err)
	require.NoError(t, s.Write(context.Background(), makeEvents(0, 2)))
	require.NoError(t, s.Close(waitCtx(t)))
	require.NoError(t, s.Close(waitCtx(t)), "Close is idempotent")

	assert.ErrorIs(t, s.Write(context.Background(), makeEvents(2, 3)), gavel.ErrSinkClosed)
	assert.ErrorIs(t, s.Write(context.Background(), nil), gavel.ErrSinkClosed)
	assert.NoError(t, s.Flush(waitCtx(t)))
	st := s.Stats()
	assert.Equal(t, gavel.SinkStats{Accepted: 2, Delivered: 2, Dropped: 3}, st)
	assertAccounting(t, st, hooks)
	assert.Equal(t, makeEvents(0, 2), rec.Events())
}

// TestAsyncSinkAccountingUnderLoad writes from many goroutines into a small
// queue in front of a sink that fails at random, and checks that every event
// is counted exactly once.
func TestAsyncSinkAccountingUnderLoad(t *testing.T) {
	var written, refused atomic.Int64
	var delivered atomic.Int64
	flaky := rand.New(rand.NewPCG(3, 5)) // used by the sink's goroutine only
	inner := gavel.EventSinkFunc(func(_ context.Context, events []gavel.Event) error {
		if flaky.IntN(2) == 0 {
			return errors.New("flaky")
		}
		delivered.Add(int64(len(events)))
		return nil
	})
	hooks := &sinkHookRecorder{}
	s, err := gavel.NewAsyncSink(inner, gavel.WithQueueSize(256), gavel.WithBatchSize(8), gavel.WithLinger(time.Millisecond),
		gavel.WithRetry(2, time.Microsecond, time.Microsecond), gavel.WithSinkHooks(hooks))
	require.NoError(t, err)
	events := makeEvents(0, 5)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				n := 1 + rand.IntN(len(events))
				written.Add(int64(n))
				if err := s.Write(context.Background(), events[:n]); err != nil {
					assert.ErrorIs(t, err, gavel.ErrSinkFull)
					refused.Add(int64(n))
				}
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
	require.NoError(t, s.Close(waitCtx(t)))
	st := s.Stats()
	assert.Equal(t, written.Load(), st.Accepted+st.Dropped)
	assert.Equal(t, refused.Load(), st.Dropped)
	assert.Equal(t, delivered.Load(), st.Delivered)
	assert.Zero(t, st.Queued)
	assertAccounting(t, st, hooks)
	t.Logf("stats: %+v", st)
}

// TestAsyncSinkWriteDoesNotAllocate checks that a Write into a sink whose
// buffers have grown to their working size allocates nothing.
func TestAsyncSinkWriteDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	var delivered atomic.Int64
	inner := gavel.EventSinkFunc(func(_ context.Context, events []gavel.Event) error {
		delivered.Add(int64(len(events)))
		return nil
	})
	// A linger of an hour keeps the goroutine from writing during the
	// measurement: what it allocates per batch (a context) is not Write's.
	s := newSink(t, inner, gavel.WithQueueSize(8192), gavel.WithBatchSize(8192), gavel.WithLinger(time.Hour))
	events := makeEvents(0, 33) // one auction's worth
	for range 2 {               // warm up both buffers
		for range 120 {
			require.NoError(t, s.Write(context.Background(), events))
		}
		require.NoError(t, s.Flush(waitCtx(t)))
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := s.Write(context.Background(), events); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
	require.NoError(t, s.Flush(waitCtx(t)))
	assert.Equal(t, int64((240+101)*33), delivered.Load())
}

// TestAsyncSinkSlowSinkDoesNotSlowWrite writes into an AsyncSink whose
// inner sink takes 20ms per Write: no Write waits for it, not one, and
// those that find the queue full are refused at once.
func TestAsyncSinkSlowSinkDoesNotSlowWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := gavel.NewAsyncSink(slowSink(20*time.Millisecond), gavel.WithBatchSize(64), gavel.WithLinger(time.Millisecond))
		require.NoError(t, err)
		events := makeEvents(0, 33)
		assertNeverWaits(t, 1000, func() {
			if err := s.Write(context.Background(), events); err != nil {
				assert.ErrorIs(t, err, gavel.ErrSinkFull)
			}
		})

		// The slow sink would take seconds to drain: give up on it.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_ = s.Close(ctx)
		require.NoError(t, s.Close(waitCtx(t)))
		st := s.Stats()
		assert.Equal(t, int64(1000*33), st.Accepted+st.Dropped)
		assertAccounting(t, st, nil)
	})
}

// BenchmarkAsyncSinkWrite measures Write from parallel goroutines. In mode
// "paced" each goroutine flushes often enough that the queue never fills,
// so every Write is accepted and the time includes the delivery of the
// events; the benchmark fails if any is dropped. In mode "flood" the
// writers never wait: the sink's goroutine cannot keep up, most Writes are
// refused, and the time is mostly that of a refusal; dropped/event says how
// many.
func BenchmarkAsyncSinkWrite(b *testing.B) {
	sinks := []struct {
		name  string
		inner func(delivered *atomic.Int64) gavel.EventSink
	}{
		{"noop", func(delivered *atomic.Int64) gavel.EventSink {
			return gavel.EventSinkFunc(func(_ context.Context, events []gavel.Event) error {
				delivered.Add(int64(len(events)))
				return nil
			})
		}},
		{"jsonlines", func(delivered *atomic.Int64) gavel.EventSink {
			js := gavel.NewJSONLinesSink(io.Discard)
			return gavel.EventSinkFunc(func(ctx context.Context, events []gavel.Event) error {
				err := js.Write(ctx, events)
				if err == nil {
					delivered.Add(int64(len(events)))
				}
				return err
			})
		}},
	}
	const queue = 65536 // the default
	for _, mode := range []string{"paced", "flood"} {
		for _, sk := range sinks {
			for _, n := range []int{1, 33} {
				b.Run(fmt.Sprintf("mode=%s/sink=%s/events=%d", mode, sk.name, n), func(b *testing.B) {
					var delivered atomic.Int64
					s, err := gavel.NewAsyncSink(sk.inner(&delivered), gavel.WithQueueSize(queue))
					require.NoError(b, err)
					events := makeEvents(0, n)
					// Flushing every flushEvery Writes, the writers never have
					// more than half the queue outstanding between them.
					flushEvery := max(1, queue/(2*n*runtime.GOMAXPROCS(0)))
					if mode == "flood" {
						flushEvery = math.MaxInt
					}
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						for i := 1; pb.Next(); i++ {
							if err := s.Write(context.Background(), events); err != nil && !errors.Is(err, gavel.ErrSinkFull) {
								b.Error(err)
							}
							if i%flushEvery == 0 {
								if err := s.Flush(context.Background()); err != nil {
									b.Error(err)
								}
							}
						}
					})
					b.StopTimer()
					require.NoError(b, s.Close(context.Background()))
					st := s.Stats()
					if st.Delivered == 0 || st.Delivered != delivered.Load() || st.Accepted != st.Delivered ||
						st.Accepted+st.Dropped != int64(b.N*n) || mode == "paced" && st.Dropped != 0 {
						b.Fatalf("events not all delivered: N=%d, stats %+v, inner sink got %d", b.N, st, delivered.Load())
					}
					b.ReportMetric(float64(st.Dropped)/float64(b.N*n), "dropped/event")
				})
			}
		}
	}
}
