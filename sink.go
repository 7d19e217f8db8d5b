package gavel

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// SinkStats counts the events that went through an AsyncSink since it was
// created. Every event passed to Write is either accepted or dropped; every
// accepted event is queued until it is delivered or failed. So at any time
//
//	Accepted == Delivered + Failed + Queued
//
// and once Close has returned nil, Queued is 0.
type SinkStats struct {
	Accepted  int64 // events Write took into the queue
	Delivered int64 // accepted events the inner sink took
	Dropped   int64 // events Write refused: queue full or sink closed; never accepted
	Failed    int64 // accepted events given up: retries exhausted, or abandoned by Close
	Retries   int64 // retried Writes of the inner sink
	Queued    int64 // accepted events not yet delivered or failed, including those being written
}

// An AsyncSink is an EventSink that never blocks its caller: Write copies the
// events into a bounded queue and returns, and one goroutine of the sink
// writes them to an inner EventSink in batches, retrying failures with
// backoff. What it cannot queue it drops, and what it cannot deliver it
// gives up; both are counted (Stats) and reported (hooks).
//
// Events reach the inner sink in the order in which their Writes were
// accepted, one batch at a time: an AsyncSink never calls its inner sink's
// Write concurrently. A retried batch is passed again whole, so its events
// reach the inner sink twice only if the inner sink failed after taking
// some of them.
//
// The queue takes memory in blocks of the batch size as it fills and keeps
// them for reuse, so a busy sink allocates nothing per Write; its goroutine
// allocates a few small objects per batch, for the write timeout's context.
//
// Create an AsyncSink with NewAsyncSink; the zero value is not usable. It is
// safe for concurrent use. Close it to deliver what is queued and stop its
// goroutine.
type AsyncSink struct {
	inner EventSink
	cfg   sinkConfig
	hooks sinkHooks

	wake   chan struct{} // cap 1: something for the goroutine to look at
	done   chan struct{} // closed when the goroutine has ended
	ctx    context.Context
	cancel context.CancelCauseFunc // abandons the goroutine's work; see Close

	// Owned by the goroutine.
	timer *time.Timer
	spare []*eventBlock // the list that the next take fills

	mu        sync.Mutex
	pending   []*eventBlock // accepted events not taken yet; all blocks but the last are full
	free      []*eventBlock // empty blocks, for reuse
	closed    bool
	abandoned bool
	taken     int64         // accepted events the goroutine has taken, in order
	resolved  int64         // taken events delivered or failed, in order
	flushTo   int64         // events accepted before this count are due at once (Flush)
	progress  chan struct{} // closed when resolved grows; nil when nobody waits
	stats     SinkStats     // Queued is computed by Stats
}

// An eventBlock holds up to a batch of queued events; the goroutine writes
// each block with one Write of the inner sink.
type eventBlock struct {
	events []Event   // capacity: the batch size
	since  time.Time // when its first event was accepted
}

// NewAsyncSink returns an AsyncSink that writes to sink, and starts its
// goroutine. It returns an error wrapping ErrInvalidOption, and starts
// nothing, when sink is nil or an option is out of range; all such problems
// are reported at once.
func NewAsyncSink(sink EventSink, opts ...SinkOption) (*AsyncSink, error) {
	cfg := defaultSinkConfig()
	for _, o := range opts {
		o.applySink(&cfg)
	}
	var errs optionErrors
	if sink == nil {
		errs.fail("event sink must not be nil")
	}
	cfg.validate(&errs)
	s := &AsyncSink{inner: sink, cfg: cfg}
	for _, h := range cfg.hooks {
		if err := s.hooks.add(h); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	s.wake = make(chan struct{}, 1)
	s.done = make(chan struct{})
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	blocks := cfg.queue/cfg.batch + 2 // the most that can exist at once
	s.pending = make([]*eventBlock, 0, blocks)
	s.free = make([]*eventBlock, 0, blocks)
	s.spare = make([]*eventBlock, 0, blocks)
	go s.run()
	return s, nil
}

// Write queues a copy of events for delivery and returns at once; it never
// waits for the inner sink, only, briefly, for other callers of the
// AsyncSink. ctx is not used. The events are accepted all together or not
// at all: if they do not all fit in the queue (WithQueueSize), none is
// queued, they are counted as dropped and Write returns ErrSinkFull. After
// Close it drops them the same way and returns ErrSinkClosed. Write does
// not keep events; the caller may reuse the slice at once. Once the queue
// has grown to its working size, Write allocates nothing.
func (s *AsyncSink) Write(_ context.Context, events []Event) error {
	n := len(events)
	s.mu.Lock()
	var err error
	switch {
	case s.closed:
		err = ErrSinkClosed
	case n == 0:
		s.mu.Unlock()
		return nil
	case s.queuedLocked()+int64(n) > int64(s.cfg.queue):
		err = ErrSinkFull
	}
	if err != nil {
		s.stats.Dropped += int64(n)
		s.mu.Unlock()
		if n > 0 {
			for _, h := range s.hooks.dropped {
				h.OnEventsDropped(n)
			}
		}
		return err
	}
	wake := len(s.pending) == 0 // the linger starts
	for rest := events; len(rest) > 0; {
		b := s.tailLocked()
		k := min(len(rest), s.cfg.batch-len(b.events))
		b.events = append(b.events, rest[:k]...)
		rest = rest[k:]
		wake = wake || len(b.events) == s.cfg.batch // a batch is full
	}
	s.stats.Accepted += int64(n)
	s.mu.Unlock()
	if wake {
		s.signal()
	}
	return nil
}

// tailLocked returns the last pending block if it has room, or else a new
// one, appended to pending.
func (s *AsyncSink) tailLocked() *eventBlock {
	if k := len(s.pending); k > 0 && len(s.pending[k-1].events) < s.cfg.batch {
		return s.pending[k-1]
	}
	var b *eventBlock
	if k := len(s.free); k > 0 {
		b = s.free[k-1]
		s.free[k-1] = nil
		s.free = s.free[:k-1]
	} else {
		b = &eventBlock{events: make([]Event, 0, s.cfg.batch)}
	}
	b.since = time.Now()
	s.pending = append(s.pending, b)
	return b
}

// Flush waits until every event accepted before the call has been delivered
// or failed, and the hooks told, writing queued events at once rather than
// after their linger. If ctx is done first, Flush returns ctx.Err(); the
// events stay queued. Flush may be called concurrently with Write and Close.
func (s *AsyncSink) Flush(ctx context.Context) error {
	s.mu.Lock()
	target := s.stats.Accepted
	for !(s.resolved >= target || s.abandoned && s.resolved >= s.taken) {
		if s.flushTo < target {
			s.flushTo = target
			s.signal()
		}
		if s.progress == nil {
			s.progress = make(chan struct{})
		}
		progress := s.progress
		s.mu.Unlock()
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
	}
	s.mu.Unlock()
	return nil
}

// Close stops accepting events, waits until everything queued has been
// delivered or failed, and stops the sink's goroutine. It returns nil then,
// whether or not every event was delivered: Stats and the hooks tell.
//
// If ctx is done first, Close gives up: it counts the events still waiting
// in the queue as failed at once, cancels the context of the inner Write in
// progress, if any, and returns ctx.Err(). The batch of that Write is counted
// when the inner Write returns (delivered if it succeeded, else failed,
// without retry), and the goroutine then ends; until then Stats shows it as
// Queued. A later Close waits for that. Events given up this way are
// reported to EventsFailedHook with the cause of ctx (context.Cause).
//
// Close may be called many times, from many goroutines; each call waits as
// described. Write after Close returns ErrSinkClosed.
func (s *AsyncSink) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.signal()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		if !s.abandon(context.Cause(ctx)) {
			<-s.done // nothing was left: the goroutine is ending
			return nil
		}
		return ctx.Err()
	}
}

// abandon fails the pending events, cancels the goroutine's work and
// reports whether any event was still queued.
func (s *AsyncSink) abandon(cause error) bool {
	s.mu.Lock()
	queued := s.queuedLocked()
	n := 0
	for _, b := range s.pending {
		n += len(b.events)
		s.recycleLocked(b)
	}
	clear(s.pending)
	s.pending = s.pending[:0]
	s.stats.Failed += int64(n)
	s.mu.Unlock()
	s.cancel(cause)
	s.signal()
	if n > 0 {
		for _, h := range s.hooks.failed {
			h.OnEventsFailed(n, cause)
		}
	}
	s.mu.Lock()
	s.abandoned = true // Flush no longer waits for what was pending
	s.notifyLocked()
	s.mu.Unlock()
	return queued > 0
}

// Stats returns the sink's counts, all read at one instant.
func (s *AsyncSink) Stats() SinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Queued = s.queuedLocked()
	return st
}

func (s *AsyncSink) queuedLocked() int64 {
	return s.stats.Accepted - s.stats.Delivered - s.stats.Failed
}

// signal wakes the goroutine, or leaves a wake-up for it if it is busy.
func (s *AsyncSink) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// notifyLocked wakes the Flush calls that wait.
func (s *AsyncSink) notifyLocked() {
	if s.progress != nil {
		close(s.progress)
		s.progress = nil
	}
}

// recycleLocked empties b, letting its events' strings be collected, and
// puts it on the free list.
func (s *AsyncSink) recycleLocked(b *eventBlock) {
	clear(b.events)
	b.events = b.events[:0]
	s.free = append(s.free, b)
}

// run is the sink's goroutine: it takes blocks of events when they are due
// and writes each with one Write of the inner sink, until the sink is
// closed and empty.
func (s *AsyncSink) run() {
	defer close(s.done)
	for {
		blocks, ok := s.next()
		if !ok {
			return
		}
		for _, b := range blocks {
			s.resolve(b, s.deliver(b.events))
		}
		clear(blocks)
		s.spare = blocks[:0]
	}
}

// next waits until pending blocks are due and takes them. Full blocks are
// due at once; the partial last block when its linger has passed, or for
// Flush or Close. It reports false when the sink is closed and empty.
func (s *AsyncSink) next() ([]*eventBlock, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		n := len(s.pending)
		if n == 0 && s.closed {
			return nil, false
		}
		var wait time.Duration
		if n > 0 {
			due := n
			if last := s.pending[n-1]; len(last.events) < s.cfg.batch {
				wait = s.cfg.linger - time.Since(last.since)
				if wait > 0 && !s.closed && s.flushTo <= s.taken {
					due--
				}
			}
			if due > 0 {
				return s.takeLocked(due), true
			}
		}
		s.mu.Unlock()
		if n == 0 {
			<-s.wake
		} else {
			s.timer.Reset(wait)
			select {
			case <-s.wake:
			case <-s.timer.C:
			}
			s.timer.Stop()
		}
		s.mu.Lock()
	}
}

// takeLocked moves the first k pending blocks to the spare list and
// returns it.
func (s *AsyncSink) takeLocked(k int) []*eventBlock {
	blocks := append(s.spare, s.pending[:k]...)
	s.spare = nil
	for _, b := range blocks {
		s.taken += int64(len(b.events))
	}
	m := copy(s.pending, s.pending[k:])
	clear(s.pending[m:])
	s.pending = s.pending[:m]
	return blocks
}

// deliver writes one batch to the inner sink, retrying as configured, and
// returns nil or the error that made it give up: the last attempt's, or the
// cause of Close's ctx if Close gave up.
func (s *AsyncSink) deliver(batch []Event) error {
	for attempt := 1; ; attempt++ {
		if s.ctx.Err() != nil {
			return context.Cause(s.ctx)
		}
		err := s.writeOnce(batch)
		switch {
		case err == nil:
			return nil
		case s.ctx.Err() != nil:
			return context.Cause(s.ctx)
		case attempt >= s.cfg.attempts:
			return err
		}
		s.mu.Lock()
		s.stats.Retries++
		s.mu.Unlock()
		for _, h := range s.hooks.retry {
			h.OnSinkRetry(attempt, err)
		}
		s.timer.Reset(s.backoff(attempt))
		select {
		case <-s.timer.C:
		case <-s.ctx.Done():
			s.timer.Stop()
		}
	}
}

// writeOnce calls the inner sink under the write timeout, turning a panic
// into an error.
func (s *AsyncSink) writeOnce(batch []Event) (err error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.timeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("gavel: event sink panicked: %v", v)
		}
	}()
	return s.inner.Write(ctx, batch)
}

// backoff returns the wait before the retry that follows the given failed
// attempt: base doubled attempt-1 times, capped at max, then jittered down
// by up to half.
func (s *AsyncSink) backoff(attempt int) time.Duration {
	d := s.cfg.base
	for i := 1; i < attempt && d < s.cfg.max; i++ {
		d *= 2
	}
	d = min(d, s.cfg.max)
	return d/2 + rand.N(d/2+1)
}

// resolve counts the events of a written block as delivered (err nil) or
// failed and tells the hooks, then recycles the block and tells Flush: once
// Flush returns, the hooks have been told.
func (s *AsyncSink) resolve(b *eventBlock, err error) {
	n := len(b.events)
	s.mu.Lock()
	if err == nil {
		s.stats.Delivered += int64(n)
	} else {
		s.stats.Failed += int64(n)
	}
	s.mu.Unlock()
	if err == nil {
		for _, h := range s.hooks.delivered {
			h.OnEventsDelivered(n)
		}
	} else {
		for _, h := range s.hooks.failed {
			h.OnEventsFailed(n, err)
		}
	}
	s.mu.Lock()
	s.resolved += int64(n)
	s.recycleLocked(b)
	s.notifyLocked()
	s.mu.Unlock()
}

// NonBlocking marks AsyncSink as a NonBlockingSink.
func (s *AsyncSink) NonBlocking() {}
