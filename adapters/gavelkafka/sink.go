package gavelkafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel"
)

var (
	// ErrBufferFull is returned by Sink.Write when the events do not all
	// fit in the buffer (WithMaxBufferedRecords, WithMaxBufferedBytes).
	// None of them is produced; they are counted as dropped.
	ErrBufferFull = errors.New("gavel: kafka sink buffer full")

	// ErrClosed is returned by Sink.Write once Close has been called. The
	// events are not produced; they are counted as dropped.
	ErrClosed = errors.New("gavel: kafka sink closed")
)

// A Sink is a gavel.EventSink that produces events to a Kafka topic with
// franz-go, one record per event:
//
//   - the key is the event's AuctionID, so that all the events of an
//     auction go to one partition (the client's default partitioner hashes
//     keys as Kafka's Java client does) and are read in the order in which
//     they were written;
//   - the value is the event's JSON, as gavel.Event documents it, with its
//     schema version in the field "v" (encoded by the Sink's codec,
//     WithCodec; gavel.StdCodec by default);
//   - the header "schema-version" holds the same version, in decimal, for
//     consumers that route records before decoding them.
//
// Write never waits for the network. It encodes the events and hands them
// to the client, which batches them per partition, compresses and sends
// them, retrying failures, in the background. What Write cannot buffer it
// refuses with ErrBufferFull and counts as dropped; what the client cannot
// deliver within the delivery timeout it fails, and the Sink counts. While
// the brokers are out of reach, events wait in the buffer, retried, until
// they are delivered or their delivery timeout passes, and Writes are
// refused once the buffer is full. Stats and the hooks tell the story.
//
// A Sink is a gavel.NonBlockingSink: gavel.WithEventSink hands it the
// auction's events directly, with no AsyncSink in front, and a full buffer
// drops the auction's events at once (counted here). Auction.Close does not
// close it: close the Sink after the Auctions that write to it.
//
// Create a Sink with NewSink; the zero value is not usable. It is safe for
// concurrent use. Close it to deliver what is buffered and release its
// client.
type Sink struct {
	cl       *kgo.Client
	own      bool // cl is the Sink's to close
	topic    string
	codec    gavel.Codec
	maxRecs  int64
	maxBytes int64
	hooks    hooks
	promise  func(*kgo.Record, error) // s.finish, bound once
	records  recordPool
	batches  sync.Pool // *[]*kgo.Record, Write's scratch

	closeOnce sync.Once
	closeDone chan struct{} // closed when the first Close has finished

	mu        sync.Mutex
	closed    bool
	abandoned bool            // Close gave up: promises still to come are not counted
	recs      int64           // produced records whose promise has not run
	bytes     int64           // their size, as the client counts it
	idle      chan struct{}   // closed when recs reaches 0; nil when nobody waits
	stats     gavel.SinkStats // Queued is computed by Stats
}

// NewSink returns a Sink configured by opts, with a client of its own
// unless WithClient is given. It returns an error wrapping
// gavel.ErrInvalidOption when an option is missing or out of range, all
// such problems at once; or, when the client refuses its options (see
// WithClientOptions), an error wrapping both gavel.ErrInvalidOption and the
// client's. It does not connect: the client dials the brokers in the
// background, so a cluster that is down makes events wait, not NewSink
// fail.
func NewSink(opts ...Option) (*Sink, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	errs := []error{cfg.validate()}
	s := &Sink{
		topic:     cfg.topic,
		codec:     cfg.codec,
		maxRecs:   int64(cfg.maxRecords),
		maxBytes:  cfg.maxBytes,
		closeDone: make(chan struct{}),
	}
	for _, h := range cfg.hooks {
		errs = append(errs, s.hooks.add(h))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.cl = cfg.client
	if s.cl == nil {
		cl, err := kgo.NewClient(cfg.clientOptions()...)
		if err != nil {
			// kgo.NewClient fails only on options it refuses.
			return nil, fmt.Errorf("%w: kafka sink: client: %w", gavel.ErrInvalidOption, err)
		}
		s.cl, s.own = cl, true
	}
	s.promise = s.finish
	return s, nil
}

// NonBlocking marks the Sink as a gavel.NonBlockingSink: Write never waits
// for the network.
func (s *Sink) NonBlocking() {}

// Write encodes events and hands them to the client, in order, and
// returns without waiting for the network; ctx is not used. The events
// are produced all together or not at all: if they do not all fit in the
// buffer, none is produced, they are counted as dropped and Write returns
// ErrBufferFull. After Close it drops them the same way and returns
// ErrClosed, and if an event's Type is not one of gavel's EventType
// constants, it drops them all and returns an error saying which. Write
// does not keep events; the caller may reuse the slice at once. Records
// and their buffers are pooled, so once the pool is warm Write allocates
// nothing of its own.
func (s *Sink) Write(_ context.Context, events []gavel.Event) error {
	n := int64(len(events))
	if err := s.admit(n); err != nil {
		return s.drop(int(n), err)
	}
	if n == 0 {
		return nil
	}
	batch := s.scratch()
	defer s.release(batch)
	var size int64
	for i := range events {
		r, err := s.records.encode(s.codec, &events[i], s.topic)
		if err != nil {
			for _, r := range *batch {
				s.records.put(r)
			}
			return s.drop(len(events), fmt.Errorf("%w: kafka sink: event %d", err, i))
		}
		*batch = append(*batch, r)
		size += recordSize(r)
	}
	if err := s.reserve(n, size); err != nil {
		for _, r := range *batch {
			s.records.put(r)
		}
		return s.drop(len(events), err)
	}
	for _, r := range *batch {
		// Records are not bound to a caller's context: an AsyncSink
		// cancels the context of each Write when it returns. Their
		// delivery is bounded by the delivery timeout instead.
		s.cl.TryProduce(context.Background(), r, s.promise)
	}
	return nil
}

// admit reports, without reserving anything, whether n records could be
// produced now, whatever their size; Write calls it before encoding, so
// that a full or closed Sink refuses cheaply.
func (s *Sink) admit(n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.admitLocked(n, 0)
}

func (s *Sink) admitLocked(n, size int64) error {
	switch {
	case s.closed:
		return ErrClosed
	case s.recs+n > s.maxRecs || s.bytes+size > s.maxBytes:
		return ErrBufferFull
	}
	return nil
}

// reserve counts n records of size bytes as produced, if they fit.
func (s *Sink) reserve(n, size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.admitLocked(n, size); err != nil {
		return err
	}
	s.recs += n
	s.bytes += size
	s.stats.Accepted += n
	return nil
}

// drop counts n refused events, tells the hooks and returns err.
func (s *Sink) drop(n int, err error) error {
	if n == 0 {
		return err
	}
	s.mu.Lock()
	s.stats.Dropped += int64(n)
	s.mu.Unlock()
	for _, h := range s.hooks.dropped {
		h.OnEventsDropped(n)
	}
	return err
}

// finish is the promise of every record: it counts the record as
// delivered or failed, unless Close has given up on it already, and
// returns it to the pool, which the client permits once the promise runs.
func (s *Sink) finish(r *kgo.Record, err error) {
	size := recordSize(r)
	s.records.put(r)
	s.mu.Lock()
	s.recs--
	s.bytes -= size
	counted := !s.abandoned
	if counted {
		if err == nil {
			s.stats.Delivered++
		} else {
			s.stats.Failed++
		}
	}
	if s.recs == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
	switch {
	case !counted:
	case err == nil:
		for _, h := range s.hooks.delivered {
			h.OnEventsDelivered(1)
		}
	default:
		for _, h := range s.hooks.failed {
			h.OnEventsFailed(1, err)
		}
	}
}

// Flush sends at once what the client lingers on and waits until no
// event of the Sink is buffered: every event produced is delivered or
// failed, and the hooks told. Writes concurrent with Flush can make it
// wait for them too. With a client given by WithClient, Flush also waits
// for everything else produced with that client. If ctx is done first,
// Flush returns ctx.Err(); the events stay buffered. Flush may be called
// concurrently with Write and Close.
func (s *Sink) Flush(ctx context.Context) error {
	if err := s.cl.Flush(ctx); err != nil {
		return err
	}
	// The client's Flush does not wait for records that fail before it
	// buffers them, nor for Writes that have reserved room but not handed
	// their records over yet; the Sink's own count covers both.
	s.mu.Lock()
	for s.recs > 0 {
		if s.idle == nil {
			s.idle = make(chan struct{})
		}
		idle := s.idle
		s.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
	}
	s.mu.Unlock()
	return nil
}

// Close stops accepting events, flushes what is buffered within ctx, and
// closes the Sink's own client (not one given by WithClient). It returns
// nil once everything was delivered or failed, whichever: Stats and the
// hooks tell.
//
// If ctx is done first, Close gives up: it counts the events still
// buffered as failed at once, reports them to EventsFailedHook with the
// cause of ctx (context.Cause), closes its own client, which abandons
// them, and returns ctx.Err(). Some of them may have reached Kafka:
// those in requests that were sent but not answered yet.
//
// Close may be called many times, from many goroutines: the first call
// does the work, and the others wait until it is done, or until their own
// ctx is, and return nil or their ctx.Err(). Write after Close returns
// ErrClosed.
func (s *Sink) Close(ctx context.Context) error {
	first := false
	s.closeOnce.Do(func() { first = true })
	if !first {
		select {
		case <-s.closeDone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer close(s.closeDone)
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.Flush(ctx)
	if err != nil && !s.abandon(context.Cause(ctx)) {
		err = nil // the last events were resolved as ctx ended
	}
	if s.own {
		s.cl.Close()
	}
	return err
}

// abandon counts the buffered events as failed, from now on ignoring their
// promises, and reports whether there were any.
func (s *Sink) abandon(cause error) bool {
	s.mu.Lock()
	n := s.recs
	s.abandoned = true
	s.stats.Failed += n
	s.mu.Unlock()
	if n == 0 {
		return false
	}
	for _, h := range s.hooks.failed {
		h.OnEventsFailed(int(n), cause)
	}
	return true
}

// Stats returns the Sink's counts since it was created, all read at one
// instant, in gavel's terms, as a gavel.AsyncSink counts (so whatever
// watches one watches the other, such as the Prometheus adapter's
// WatchSink):
//
//   - Accepted: events Write took and handed to the client (produced);
//   - Delivered: accepted events that Kafka acknowledged;
//   - Failed: accepted events given up (see WithSinkHooks);
//   - Dropped: events Write refused (buffer full, Sink closed, invalid),
//     never produced;
//   - Queued: accepted events not yet delivered or failed (buffered);
//   - Retries: always 0, since the client retries inside a produce and
//     does not say.
//
// So at any time Accepted == Delivered + Failed + Queued, and once Close
// has returned, Queued is 0.
func (s *Sink) Stats() gavel.SinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Queued = st.Accepted - st.Delivered - st.Failed
	return st
}

// scratch returns an empty slice for one Write's records.
func (s *Sink) scratch() *[]*kgo.Record {
	if b, ok := s.batches.Get().(*[]*kgo.Record); ok {
		return b
	}
	b := make([]*kgo.Record, 0, 64)
	return &b
}

// release empties the scratch slice, dropping its pointers, and pools it.
func (s *Sink) release(b *[]*kgo.Record) {
	clear(*b)
	*b = (*b)[:0]
	s.batches.Put(b)
}
