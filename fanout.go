package gavel

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// call is one bidder's call within a round. The fields above the first
// line are written by Run before the goroutine starts; those between the
// lines by the goroutine, read by Run only once it saw state at callDone;
// bids and ties are the call's scratch space, kept from round to round.
//
// The goroutine checks the response's bids itself, as soon as the bidder
// returns (checkResponse), so that what Run has left to do once the
// fan-out ends is little more than copying the outcomes into the Result.
// It reads the request while it checks, and the caller may reuse that
// request as soon as Run returns: state makes sure no goroutine checks a
// response after Run stopped waiting for it (see wait).
type call struct {
	r        *round
	slot     *bidderSlot
	ctx      context.Context
	req      *openrtb2.BidRequest
	start    time.Time
	deadline time.Time
	received bool // set by Run when the call was done at the end of the fan-out

	resp    *openrtb2.BidResponse
	err     error
	end     time.Time
	status  BidderStatus // when checked: StatusBid, StatusNoBid or StatusInvalidResponse
	respErr error        // when checked: why the response is invalid, or nil

	state atomic.Int32 // callCalling, then callChecking and callDone, or callAbandoned

	bids []BidOutcome // the response's outcomes, when checked (else empty)
	ties []uint64     // ties[k] is the tie key of bids[k]

	_ [32]byte // to 256 bytes: calls run on different cores, each on lines of its own (TestCallSize)
}

// The states of a call: the goroutine moves it from callCalling to
// callChecking and then callDone; Run, when the fan-out ends, moves a call
// still in callCalling to callAbandoned, whose goroutine then checks
// nothing.
const (
	callCalling int32 = iota
	callChecking
	callDone
	callAbandoned
)

// roundCtx is the auction context with the round attached, so that bidders
// in this package (the HTTP bidder) can share work through it. It is made
// anew for every auction and never changed: a bidder, its transport or the
// timer of a context derived from it may still use it after Run returned
// and the round went back to the pool.
type roundCtx struct {
	context.Context
	r *round
}

type roundKey struct{}

func (c *roundCtx) Value(key any) any {
	if key == (roundKey{}) {
		return c.r
	}
	return c.Context.Value(key)
}

// fanOut calls every eligible bidder under the fan-out deadline and waits
// until all have answered or the fan-out ends.
// The bidders' deadlines and tmax count from now, when the fan-out starts.
func (r *round) fanOut(ctx context.Context, req *openrtb2.BidRequest, res *Result, now time.Time) {
	actx, cancel := context.WithDeadline(ctx, r.fanout)
	defer cancel()
	rctx := &roundCtx{Context: actx, r: r}
	r.wait(rctx.Done(), r.launch(rctx, req, r.fanout, res, now))
	for i := range r.bidderCtxs {
		r.bidderCtxs[i].cancel()
	}
	clear(r.bidderCtxs)
	r.bidderCtxs = r.bidderCtxs[:0]
}

// deadlineCtx is the context of the bidders whose own deadline ends before
// the fan-out: one per distinct deadline, shared like the request copy.
type deadlineCtx struct {
	deadline time.Time
	ctx      context.Context
	cancel   context.CancelFunc
}

// contextUntil returns the context of the bidders that have until d,
// making it under ctx on first use. Bidders launched together share their
// "now", so all those with the same timeout share one context.
func (r *round) contextUntil(ctx context.Context, d time.Time) context.Context {
	for i := range r.bidderCtxs {
		if r.bidderCtxs[i].deadline.Equal(d) {
			return r.bidderCtxs[i].ctx
		}
	}
	dctx, cancel := context.WithDeadline(ctx, d)
	r.bidderCtxs = append(r.bidderCtxs, deadlineCtx{deadline: d, ctx: dctx, cancel: cancel})
	return dctx
}

// launch starts the calls of every eligible bidder under ctx and returns
// how many it started. Bidders left out get their status in res.Bidders.
func (r *round) launch(ctx *roundCtx, req *openrtb2.BidRequest, fanout time.Time, res *Result, now time.Time) int {
	a := r.a
	r.pending.Store(1) // Run's own, dropped by wait
	auctionHash := mix64(r.idHash)
	var clockNow time.Time // for health, read only when throttling is on
	if a.cfg.throttle != nil {
		clockNow = r.clockNow(now)
	}
	// The checks below that may block, the Pacer's and the balance cache's,
	// move t on; the others take no time worth a clock read (a go
	// statement does not block).
	mayBlock := a.cfg.pacer != nil || a.balances != nil
	t := now
	n := 0
	for i, s := range a.bidders {
		br := &res.Bidders[i]
		br.Bidder = s.name
		switch {
		case seatExcluded(req.WSeat, req.BSeat, s.name):
			br.Status = StatusSeatBlocked
			continue
		case !s.health.allow(clockNow, mix64(auctionHash^s.hash)):
			br.Status = StatusThrottled
			s.health.record(clockNow, StatusThrottled, 0)
			continue
		case !r.pacerAllows(ctx, s, auctionHash):
			br.Status = StatusPaced
			continue
		case !r.canAfford(s):
			br.Status = StatusBudgetExhausted
			a.stats.budgetSkips.Add(1)
			continue
		}
		// Bidders share one "now" for their deadlines and tmax, so that
		// they share the request copy (and its JSON); the time left in the
		// fan-out is also judged by t, the clock read after the checks
		// that may block, so that a launch held up past the deadline skips
		// the bidders left rather than time them out. The monotonic clock
		// alone is read: time.Since costs half of time.Now.
		if mayBlock {
			t = now.Add(time.Since(now))
		}
		d := s.deadline(fanout, now)
		if d.Sub(now) < a.cfg.minBidderTime || fanout.Sub(t) < a.cfg.minBidderTime {
			br.Status = StatusSkippedNoTime
			continue
		}
		c := &r.calls[i]
		c.r, c.slot, c.ctx, c.deadline = r, s, ctx, d
		br.TMax = tmaxMillis(d, now)
		c.req = r.requestFor(req, br.TMax)
		if d.Before(fanout) {
			c.ctx = r.contextUntil(ctx, d)
		}
		// A JSONBidder's body is encoded here, before its goroutine starts
		// (see JSONBidder); encoding takes time, so t moves on.
		if s.json && r.bodyOf(c.req).encode(a.Codec(), c.req) {
			t = now.Add(time.Since(now))
		}
		r.refs.Add(1)
		r.pending.Add(1)
		n++
		if !s.inline {
			c.start = t
			go r.runs[i]()
		}
	}
	// The NonBlocking bidders are called here, on Run's goroutine, once
	// every other call is under way: no goroutine to start, no thread to
	// wake. A call that starts past its deadline is timed out like any
	// other late answer.
	if a.inline {
		for i, s := range a.bidders {
			if c := &r.calls[i]; s.inline && c.r != nil { // launched
				c.start = now.Add(time.Since(now))
				c.run()
			}
		}
	}
	return n
}

// wait returns when all n calls are done, or when the channel done (the
// end of the fan-out, or cancellation) is closed, and marks the calls
// done by then as received: an answer that is in when the deadline fires
// is kept, not lost to select's random choice. A call whose goroutine is
// checking its response at that moment is waited for: its bidder has
// answered, and the checks are what Run would do itself after the fan-out.
// Every other call is abandoned: its goroutine will not touch the request
// again. collect times out those that ended after their own deadline.
func (r *round) wait(done <-chan struct{}, n int) {
	all := true // every call is done: none to abandon
	if n > 0 && r.pending.Add(-1) != 0 {
		select {
		case <-r.allDone:
		case <-done:
			all = false
		}
	}
	for i := range r.calls {
		c := &r.calls[i]
		if c.r == nil { // not called
			continue
		}
		if all {
			c.received = true
			continue
		}
		if c.state.CompareAndSwap(callCalling, callAbandoned) {
			continue
		}
		for c.state.Load() == callChecking {
			runtime.Gosched()
		}
		c.received = true
	}
}

// run is the bidder's goroutine: call, recover a panic, check the
// response unless Run stopped waiting for it, report back.
func (c *call) run() {
	defer func() {
		if p := recover(); p != nil {
			c.resp, c.err = nil, &PanicError{Bidder: c.slot.name, Value: p, Stack: debug.Stack()}
		}
		c.end = c.start.Add(time.Since(c.start)) // the monotonic clock alone, see launch
		r := c.r
		if c.state.CompareAndSwap(callCalling, callChecking) {
			if c.err == nil && !c.end.After(c.deadline) {
				r.checkResponse(c)
			}
			c.state.Store(callDone)
		}
		if r.pending.Add(-1) == 0 {
			r.allDone <- struct{}{}
		}
		r.release()
	}()
	c.resp, c.err = c.slot.b.Bid(c.ctx, c.req)
}

// pacerAllows asks the Pacer whether the bidder's account takes part. The draw
// mixes the auction and the bidder differently from throttling's, so the
// two decisions are independent.
func (r *round) pacerAllows(ctx context.Context, s *bidderSlot, auctionHash uint64) bool {
	p := r.a.cfg.pacer
	if p == nil {
		return true
	}
	account := r.a.cfg.account(s.name, s.name)
	return account == "" || p.Allow(ctx, account, mix64(auctionHash+s.hash))
}

// canAfford reports whether the bidder's account can pay for an impression
// at the lowest floor of the request, by the balance the Ledger knows
// without a round trip (BalanceCache). An account whose balance is not
// known can: the reservation decides.
func (r *round) canAfford(s *bidderSlot) bool {
	bc := r.a.balances
	if bc == nil {
		return true
	}
	account := r.a.cfg.account(s.name, s.name)
	if account == "" {
		return true
	}
	b, ok := bc.CachedBalance(account)
	return !ok || b.Remaining() >= r.minCost
}

// seatExcluded applies the request's wseat and bseat to a seat.
func seatExcluded(wseat, bseat []string, seat string) bool {
	if len(wseat) > 0 && !contains(wseat, seat) {
		return true
	}
	return contains(bseat, seat)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// bidderDeadline is when the bidder's own time ends: the fan-out deadline,
// or earlier when the bidder's timeout says so.
func (s *bidderSlot) deadline(fanout, now time.Time) time.Time {
	if s.timeout > 0 {
		if d := now.Add(s.timeout); d.Before(fanout) {
			return d
		}
	}
	return fanout
}

// tmaxMillis is the tmax sent to a bidder that has until deadline: the whole
// milliseconds left, never less than 1.
func tmaxMillis(deadline, now time.Time) int64 {
	return max(int64(deadline.Sub(now)/time.Millisecond), 1)
}
