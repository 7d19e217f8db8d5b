package gavel

import (
	"fmt"
	"time"
)

// A SinkOption configures an AsyncSink. Options are applied in order by
// NewAsyncSink, which validates the result; a later option overrides an
// earlier one of the same kind, except WithSinkHooks, which adds.
type SinkOption interface {
	applySink(*sinkConfig)
}

type sinkOptionFunc func(*sinkConfig)

func (f sinkOptionFunc) applySink(c *sinkConfig) { f(c) }

type sinkConfig struct {
	queue    int
	batch    int
	linger   time.Duration
	attempts int
	base     time.Duration
	max      time.Duration
	timeout  time.Duration
	hooks    []SinkHook
}

// Defaults of the AsyncSink options.
const (
	DefaultSinkQueueSize    = 65536
	DefaultSinkBatchSize    = 512
	DefaultSinkLinger       = 50 * time.Millisecond
	DefaultSinkAttempts     = 5
	DefaultSinkBackoff      = 10 * time.Millisecond
	DefaultSinkMaxBackoff   = time.Second
	DefaultSinkWriteTimeout = 5 * time.Second
)

func defaultSinkConfig() sinkConfig {
	return sinkConfig{
		queue:    DefaultSinkQueueSize,
		batch:    DefaultSinkBatchSize,
		linger:   DefaultSinkLinger,
		attempts: DefaultSinkAttempts,
		base:     DefaultSinkBackoff,
		max:      DefaultSinkMaxBackoff,
		timeout:  DefaultSinkWriteTimeout,
	}
}

// WithQueueSize bounds the events an AsyncSink holds: queued, or being
// written to the inner sink. A Write that would exceed the bound is refused
// whole with ErrSinkFull. The queue's memory is taken in blocks of the
// batch size as the queue fills, and kept for reuse. It must be at least 1
// and at least the batch size. Default DefaultSinkQueueSize (65536).
func WithQueueSize(events int) SinkOption {
	return sinkOptionFunc(func(c *sinkConfig) { c.queue = events })
}

// WithBatchSize sets the most events passed to one Write of the inner sink.
// A batch is written as soon as it is full; see WithLinger for one that is
// not. It must be at least 1. Default DefaultSinkBatchSize (512).
func WithBatchSize(events int) SinkOption {
	return sinkOptionFunc(func(c *sinkConfig) { c.batch = events })
}

// WithLinger sets the longest an event waits in the queue for its batch to
// fill before the batch is written anyway. 0 writes whatever is queued at
// once. It must not be negative. Default DefaultSinkLinger (50ms).
func WithLinger(d time.Duration) SinkOption {
	return sinkOptionFunc(func(c *sinkConfig) { c.linger = d })
}

// WithRetry sets how a failing Write of the inner sink is retried: at most
// attempts tries in all (1: never retried). Before retry k (from 1) the sink
// waits base doubled k-1 times, capped at max, less a random part of up to
// half (jitter). When every attempt has failed, the batch is dropped and its
// events counted as failed. attempts must be at least 1, base positive and
// max at least base. Default DefaultSinkAttempts (5), DefaultSinkBackoff
// (10ms), DefaultSinkMaxBackoff (1s).
func WithRetry(attempts int, base, max time.Duration) SinkOption {
	return sinkOptionFunc(func(c *sinkConfig) { c.attempts, c.base, c.max = attempts, base, max })
}

// WithWriteTimeout sets the deadline of the context given to each Write of
// the inner sink, counted from the start of that Write. A Write that runs
// past it should return the context's error; it is then retried like any
// failure. It must be positive. Default DefaultSinkWriteTimeout (5s).
func WithWriteTimeout(d time.Duration) SinkOption {
	return sinkOptionFunc(func(c *sinkConfig) { c.timeout = d })
}

// WithSinkHooks registers hooks that observe an AsyncSink. Each must
// implement at least one of EventsDroppedHook, SinkRetryHook,
// EventsFailedHook and EventsDeliveredHook; NewAsyncSink fails otherwise.
func WithSinkHooks(hooks ...SinkHook) SinkOption {
	return sinkOptionFunc(func(c *sinkConfig) { c.hooks = append(c.hooks, hooks...) })
}

func (c *sinkConfig) validate(errs *optionErrors) {
	fail := errs.fail
	if c.queue < 1 {
		fail("sink queue size must be at least 1, got %d", c.queue)
	}
	if c.batch < 1 {
		fail("sink batch size must be at least 1, got %d", c.batch)
	} else if c.queue >= 1 && c.batch > c.queue {
		fail("sink batch size %d exceeds queue size %d", c.batch, c.queue)
	}
	if c.linger < 0 {
		fail("sink linger must not be negative, got %v", c.linger)
	}
	if c.attempts < 1 {
		fail("sink write attempts must be at least 1, got %d", c.attempts)
	}
	if c.base <= 0 || c.max < c.base {
		fail("sink retry backoff must have 0 < base <= max, got base %v, max %v", c.base, c.max)
	}
	if c.timeout <= 0 {
		fail("sink write timeout must be positive, got %v", c.timeout)
	}
}

// A SinkHook observes an AsyncSink. It is any value that implements one or
// more of the interfaces EventsDroppedHook, SinkRetryHook, EventsFailedHook
// and EventsDeliveredHook; register hooks with WithSinkHooks. Hooks are
// called synchronously: OnEventsDropped from the goroutine that called
// Write, the others from the sink's own goroutine (and OnEventsFailed from
// Close). They must be fast and safe for concurrent use, and must not call
// the sink's Flush or Close, which would wait for the hook itself.
type SinkHook any

// EventsDroppedHook is called when Write refuses n events because the queue
// is full or the sink is closed.
type EventsDroppedHook interface {
	OnEventsDropped(n int)
}

// SinkRetryHook is called when a Write of the inner sink failed with err
// and is about to be retried; attempt is the number of the attempt that
// failed, from 1.
type SinkRetryHook interface {
	OnSinkRetry(attempt int, err error)
}

// EventsFailedHook is called when n accepted events are given up: their
// batch failed every attempt (err is the last attempt's error), or Close
// gave up on them (err is the cause of Close's ctx).
type EventsFailedHook interface {
	OnEventsFailed(n int, err error)
}

// EventsDeliveredHook is called when the inner sink has accepted a batch of
// n events.
type EventsDeliveredHook interface {
	OnEventsDelivered(n int)
}

type sinkHooks struct {
	dropped   []EventsDroppedHook
	retry     []SinkRetryHook
	failed    []EventsFailedHook
	delivered []EventsDeliveredHook
}

func (hs *sinkHooks) add(h SinkHook) error {
	known := false
	if x, ok := h.(EventsDroppedHook); ok {
		hs.dropped, known = append(hs.dropped, x), true
	}
	if x, ok := h.(SinkRetryHook); ok {
		hs.retry, known = append(hs.retry, x), true
	}
	if x, ok := h.(EventsFailedHook); ok {
		hs.failed, known = append(hs.failed, x), true
	}
	if x, ok := h.(EventsDeliveredHook); ok {
		hs.delivered, known = append(hs.delivered, x), true
	}
	if !known {
		return fmt.Errorf("%w: sink hook %T implements no sink hook interface", ErrInvalidOption, h)
	}
	return nil
}
