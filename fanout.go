package gavel

import (
	"context"
	"encoding/json"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// A round is the working state of one auction: the bidder calls, the
// bidders' copies of the request and the scratch space of validation and
// clearing. Rounds are pooled. A round goes back to the pool only when Run
// and every bidder goroutine it started are done with it (refs reaches 0),
// so a bidder that answers late never writes into another auction.
type round struct {
	a     *Auction
	refs  atomic.Int32
	calls []call   // one per bidder, in bidder order
	runs  []func() // runs[i] is calls[i].run, bound once so that go runs[i]() does not allocate

	// pending counts the calls not finished yet, plus one held by Run until
	// it waits; whoever brings it to 0 from a call sends on allDone
	// (capacity 1), so Run wakes once per auction, not once per bidder.
	pending atomic.Int32
	allDone chan struct{}

	// reqs[:nreqs] holds the bidders' copies of the request, one per
	// distinct tmax. Its length is len(bidders) and the slice itself is
	// never reassigned: bidder goroutines look their request up in it
	// (requestBody) while launch is still adding copies, so only the
	// elements change, and pointers into it stay valid for the whole round.
	// nreqs is read and written by Run's goroutine only.
	reqs   []openrtb2.BidRequest
	nreqs  int
	bodies []sharedBody // bodies[i] is the JSON of reqs[i], built on demand

	fanout  time.Time     // when the fan-out ends
	idHash  uint64        // xxhash of the request id, for throttling, pacing and ties
	profile profileLookup // the profile lookup and the merged user

	ledgerCtx    context.Context // bounds the Ledger by Run's deadline; made on first use
	ledgerCancel context.CancelFunc

	imps       []impInfo // per request imp
	dealFloors []int64   // floors of all deals, imps[i].deals indexes into it
	ties       []uint64  // per bid: tie-break key
	rank       []int     // per imp: bid indexes in rank order
	events     []Event   // the auction's events, handed to the sink
}

// call is one bidder's call within a round. The fields above the line are
// written by Run before the goroutine starts; those below by the goroutine,
// read by Run only after it saw finished set.
type call struct {
	r        *round
	slot     *bidderSlot
	ctx      context.Context
	cancel   context.CancelFunc
	req      *openrtb2.BidRequest
	start    time.Time
	deadline time.Time
	received bool // set by Run when the call had finished at the end of the fan-out

	resp     *openrtb2.BidResponse
	err      error
	end      time.Time
	finished atomic.Bool // set by the goroutine once resp, err and end are written
}

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

type sharedBody struct {
	once sync.Once
	body []byte
	err  error
}

func newRound(a *Auction) *round {
	n := len(a.bidders)
	r := &round{
		a:       a,
		allDone: make(chan struct{}, 1),
		runs:    make([]func(), n),
		calls:   make([]call, n),
		reqs:    make([]openrtb2.BidRequest, n),
		bodies:  make([]sharedBody, n),
	}
	for i := range r.calls {
		r.runs[i] = r.calls[i].run
	}
	r.profile.done = make(chan struct{}, 1)
	return r
}

// release drops one reference; the last one clears the round and puts it
// back in the pool.
func (r *round) release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	select { // a call's signal that Run did not wait for
	case <-r.allDone:
	default:
	}
	for len(r.profile.done) > 0 {
		<-r.profile.done
	}
	r.profile.p, r.profile.err, r.profile.merged = nil, nil, false
	clear(r.calls)
	clear(r.reqs[:r.nreqs])
	r.nreqs = 0
	clear(r.bodies)
	r.a.rounds.Put(r)
}

// requestFor returns the bidders' copy of req with the given tmax, making it
// on first use.
func (r *round) requestFor(req *openrtb2.BidRequest, tmax int64) *openrtb2.BidRequest {
	for i := range r.reqs[:r.nreqs] {
		if r.reqs[i].TMax == tmax {
			return &r.reqs[i]
		}
	}
	c := &r.reqs[r.nreqs]
	*c = *req
	c.TMax = tmax
	if r.profile.merged {
		c.User = &r.profile.user
	}
	r.nreqs++
	return c
}

// requestBody returns the JSON encoding of a request that this round handed
// to its bidders, encoding it once however many bidders ask. Bidders must
// not modify the bytes. It runs in bidder goroutines, concurrently with
// launch: it compares addresses only and never reads r.nreqs.
func (r *round) requestBody(req *openrtb2.BidRequest) ([]byte, error) {
	for i := range r.reqs {
		if &r.reqs[i] == req {
			sb := &r.bodies[i]
			sb.once.Do(func() { sb.body, sb.err = json.Marshal(req) })
			return sb.body, sb.err
		}
	}
	return json.Marshal(req)
}

// encodeRequest returns the JSON of req, shared with the other bidders of
// the auction when ctx comes from Run.
func encodeRequest(ctx context.Context, req *openrtb2.BidRequest) ([]byte, error) {
	if r, ok := ctx.Value(roundKey{}).(*round); ok {
		return r.requestBody(req)
	}
	return json.Marshal(req)
}

// launch starts the calls of every eligible bidder under ctx and returns
// how many it started. Bidders left out get their status in res.Bidders.
func (r *round) launch(ctx *roundCtx, req *openrtb2.BidRequest, fanout time.Time, res *Result) int {
	a := r.a
	r.pending.Store(1) // Run's own, dropped by wait
	auctionHash := mix64(r.idHash)
	clockNow := a.cfg.clock.Now()
	now := time.Now()
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
		}
		// Bidders share one "now" for their deadlines and tmax, so that
		// they share the request copy (and its JSON); the time left in the
		// fan-out is also judged by the clock, so that a launch held up
		// past the deadline skips the bidders left rather than time them out.
		t := time.Now()
		d := s.deadline(fanout, now)
		if d.Sub(now) < a.cfg.minBidderTime || fanout.Sub(t) < a.cfg.minBidderTime {
			br.Status = StatusSkippedNoTime
			continue
		}
		c := &r.calls[i]
		*c = call{r: r, slot: s, ctx: ctx, deadline: d}
		br.TMax = tmaxMillis(d, now)
		c.req = r.requestFor(req, br.TMax)
		if d.Before(fanout) {
			c.ctx, c.cancel = context.WithDeadline(ctx, d)
		}
		r.refs.Add(1)
		r.pending.Add(1)
		c.start = t
		go r.runs[i]()
		n++
	}
	return n
}

// wait returns when all n calls have finished or done (the end of the
// fan-out, or cancellation) is closed, whichever comes first, and marks the
// calls that had finished by then as received: an answer that is in when
// the deadline fires is kept, not lost to select's random choice. collect
// times out those that ended after their own deadline.
func (r *round) wait(done <-chan struct{}, n int) {
	if n > 0 && r.pending.Add(-1) != 0 {
		select {
		case <-r.allDone:
		case <-done:
		}
	}
	for i := range r.calls {
		if c := &r.calls[i]; c.finished.Load() {
			c.received = true
		}
	}
}

// run is the bidder's goroutine: call, recover a panic, report back.
func (c *call) run() {
	defer func() {
		if p := recover(); p != nil {
			c.resp, c.err = nil, &PanicError{Bidder: c.slot.name, Value: p, Stack: debug.Stack()}
		}
		c.end = time.Now()
		if c.cancel != nil {
			c.cancel()
		}
		r := c.r
		c.finished.Store(true)
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
