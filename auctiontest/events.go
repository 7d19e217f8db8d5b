package auctiontest

import (
	"context"
	"sync"

	"github.com/gavelrtb/gavel"
)

// EventRecorder is a gavel.EventSink that keeps the events written to it, in
// order, for a test to inspect. It can be told to fail Writes, to test
// retries. It is safe for concurrent use. The zero value is an empty
// recorder, ready to use.
type EventRecorder struct {
	mu      sync.Mutex
	events  []gavel.Event
	failN   int
	failErr error
	changed chan struct{} // closed when events are added; nil when nobody waits
}

// Write implements gavel.EventSink. It appends a copy of events, or, while
// failures set by FailNext remain, records nothing and returns their error.
// It returns ctx.Err(), recording nothing, if ctx is done.
func (r *EventRecorder) Write(ctx context.Context, events []gavel.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failN > 0 {
		r.failN--
		return r.failErr
	}
	r.events = append(r.events, events...)
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
	return nil
}

// FailNext makes the next n calls of Write fail with err, recording
// nothing. It replaces failures set before that have not happened yet.
func (r *EventRecorder) FailNext(n int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failN, r.failErr = n, err
}

// Events returns a copy of the events recorded so far, in the order written.
func (r *EventRecorder) Events() []gavel.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gavel.Event(nil), r.events...)
}

// Len returns the number of events recorded so far.
func (r *EventRecorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// Reset forgets the events recorded so far and the failures set by
// FailNext that have not happened yet.
func (r *EventRecorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events, r.failN, r.failErr = nil, 0, nil
}

// WaitFor blocks until at least n events have been recorded, and returns
// nil, or until ctx is done, and returns ctx.Err().
func (r *EventRecorder) WaitFor(ctx context.Context, n int) error {
	r.mu.Lock()
	for len(r.events) < n {
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
		r.mu.Lock()
	}
	r.mu.Unlock()
	return nil
}
