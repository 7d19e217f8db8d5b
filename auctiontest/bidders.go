package auctiontest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
)

// Bidder is a fake gavel.Bidder. Build one with Fixed, Prebuilt, NoBid,
// Error, Panic, Hang or Stuck, then adjust it with WithLatency before the
// first auction. It is safe for concurrent use and records its calls.
type Bidder struct {
	name    string
	bids    []openrtb2.Bid
	resp    *openrtb2.BidResponse // Prebuilt: returned as is
	err     error
	panicV  any
	hang    bool
	stuck   <-chan struct{}
	latency time.Duration

	calls        atomic.Int64
	mu           sync.Mutex
	lastReq      *openrtb2.BidRequest
	lastDeadline time.Time // the deadline of the last call's context
	hasDeadline  bool      // whether it had one
}

// Fixed returns a bidder that answers every request with the given bids, in
// one seatbid named after the bidder, in a response whose id is the
// request's. Each call builds a new response (the bids are copied).
func Fixed(name string, bids ...openrtb2.Bid) *Bidder {
	return &Bidder{name: name, bids: bids}
}

// Prebuilt returns a bidder that returns resp itself on every call, without
// building anything: the cheapest bidder there is, for benchmarks. resp.ID
// must be the id of the requests it answers.
func Prebuilt(name string, resp *openrtb2.BidResponse) *Bidder {
	return &Bidder{name: name, resp: resp}
}

// NoBid returns a bidder that never bids.
func NoBid(name string) *Bidder { return &Bidder{name: name} }

// Error returns a bidder that fails every call with err.
func Error(name string, err error) *Bidder { return &Bidder{name: name, err: err} }

// Panic returns a bidder whose every call panics with v.
func Panic(name string, v any) *Bidder { return &Bidder{name: name, panicV: v} }

// Hang returns a bidder that never answers: each call blocks until its
// context is done, then returns the context's error, as a well-behaved but
// hopelessly slow bidder does.
func Hang(name string) *Bidder { return &Bidder{name: name, hang: true} }

// Stuck returns a bidder that ignores its context: each call blocks until
// release is closed, then returns a no-bid. Close release at the end of the
// test so that its goroutines end.
func Stuck(name string, release <-chan struct{}) *Bidder {
	return &Bidder{name: name, stuck: release}
}

// WithLatency makes every call take d before it answers (or fails, or
// panics), or less if the context ends first, in which case the call
// returns the context's error. It returns b.
func (b *Bidder) WithLatency(d time.Duration) *Bidder {
	b.latency = d
	return b
}

// Name returns the bidder's name.
func (b *Bidder) Name() string { return b.name }

// Calls returns how many times Bid was called.
func (b *Bidder) Calls() int64 { return b.calls.Load() }

// LastRequest returns a shallow copy of the last request the bidder was
// sent, or nil.
func (b *Bidder) LastRequest() *openrtb2.BidRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastReq
}

// LastDeadline returns the deadline of the context of the last call, and
// false if it had none or the bidder was not called. With the tmax of
// LastRequest, it tells how much time the bidder was given, and whether
// the two agree. A Prebuilt bidder without latency does not record it.
func (b *Bidder) LastDeadline() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastDeadline, b.hasDeadline
}

// Bid implements gavel.Bidder.
func (b *Bidder) Bid(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	b.calls.Add(1)
	if b.resp != nil && b.latency == 0 {
		return b.resp, nil // the prebuilt fast path records nothing else
	}
	cp := *req
	dl, ok := ctx.Deadline()
	b.mu.Lock()
	b.lastReq, b.lastDeadline, b.hasDeadline = &cp, dl, ok
	b.mu.Unlock()
	if b.latency > 0 {
		t := time.NewTimer(b.latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	switch {
	case b.stuck != nil:
		<-b.stuck
		return nil, nil
	case b.hang:
		<-ctx.Done()
		return nil, ctx.Err()
	case b.panicV != nil:
		panic(b.panicV)
	case b.err != nil:
		return nil, b.err
	case b.resp != nil:
		return b.resp, nil
	case len(b.bids) == 0:
		return nil, nil
	}
	return Response(req.ID, b.name, b.bids...), nil
}

// Response returns a bid response to the request with id reqID, with the
// bids in one seatbid for seat.
func Response(reqID, seat string, bids ...openrtb2.Bid) *openrtb2.BidResponse {
	return &openrtb2.BidResponse{
		ID:      reqID,
		SeatBid: []openrtb2.SeatBid{{Seat: seat, Bid: append([]openrtb2.Bid(nil), bids...)}},
	}
}

// NonBlocking returns b marked gavel.NonBlocking: Run calls it on its own
// goroutine rather than on a new one. Only for a bidder that never waits
// (a Prebuilt or Fixed one, not a Slow or Stuck one).
func NonBlocking(b gavel.Bidder) gavel.Bidder { return nonBlocking{b} }

type nonBlocking struct{ gavel.Bidder }

func (nonBlocking) NonBlocking() {}
