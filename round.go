package gavel

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
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

	bidderCtxs []deadlineCtx // the bidders' own contexts, by deadline; read and written by Run's goroutine

	cur     string        // the auction currency
	fanout  time.Time     // when the fan-out ends
	idHash  uint64        // xxhash of the request id, for throttling, pacing and ties
	profile profileLookup // the profile lookup and the merged user

	ledgerCtx    context.Context // bounds the Ledger by Run's deadline; made on first use
	ledgerCancel context.CancelFunc

	imps       []impInfo // per request imp
	dealFloors []int64   // floors of all deals, imps[i].deals indexes into it
	minCost    int64     // the cost of one impression at the lowest floor, at least 1 micro
	ties       []uint64  // per bid: tie-break key
	rank       []int     // bid indexes in rank order, imp after imp (see impInfo)
	reserving  []int     // bids whose cost is being reserved, see reserve
	rs         []Reservation
	holds      []Hold
	errs       []error
	events     []Event  // the auction's events, handed to the sink
	pods       podState // ad pods, when the request has any (pods.go)
}

// RunInto runs one auction for req as Run does, writing its Result into
// res and reusing the memory of res's slices (Imps, Bids, Bidders) rather
// than allocating new ones: a caller that is done with each Result before
// the next auction, such as a server that keeps a pool of Results, makes
// almost no garbage per auction. res must not be nil, and nothing may use
// what it held any more: not res, nor its slices, nor any BidOutcome or
// ImpResult in them, nor a hook or a sink that keeps the *Result it is
// given. The bids the outcomes point to are the bidders' (see Bidder) and
// are not reused.
//
// RunInto returns the errors of Run, in the same cases; res then holds
// nothing of use, and AuctionEndHook gets a nil Result, as with Run.
func (a *Auction) RunInto(ctx context.Context, req *openrtb2.BidRequest, res *Result) error {
	start := time.Now()
	if a.closed.Load() {
		return ErrClosed
	}
	r := a.rounds.Get().(*round)
	out, err := r.runInto(ctx, req, start, res)
	r.release()
	for _, h := range a.hooks.end {
		h.OnAuctionEnd(ctx, req, out, err)
	}
	return err
}

// run is Run's body on a round from the pool.
func (r *round) run(ctx context.Context, req *openrtb2.BidRequest, start time.Time) (*Result, error) {
	return r.runInto(ctx, req, start, nil)
}

// runInto is the body of Run and RunInto on a round from the pool, and the
// table of contents of an auction: each step is a method in the file named
// after it. It writes the Result into into, or a new one when into is nil.
// It holds one reference to the round, which its caller releases.
func (r *round) runInto(ctx context.Context, req *openrtb2.BidRequest, start time.Time, into *Result) (*Result, error) {
	r.refs.Store(1)
	a := r.a
	// 1. Check the request and choose its currency (request.go).
	cur, err := r.prepare(req)
	if err != nil {
		return nil, err
	}
	a.stats.auctions.Add(1)
	for _, h := range a.hooks.start {
		h.OnAuctionStart(ctx, req)
	}
	// 2. Set Run's deadline and, the clearing time before it, the end of
	// the fan-out (request.go).
	deadline := a.deadline(ctx, req, start)
	r.fanout = deadline.Add(-a.clearingTime())
	r.idHash, r.cur = hashString(req.ID), cur
	res := resetResult(into, len(a.bidders))
	res.AuctionID, res.Currency, res.req = req.ID, cur, req
	res.Start, res.Deadline, res.FanoutEnd = start, deadline, r.fanout
	// 3. Enrich the user from the profile store (enrich.go).
	if a.cfg.profiles != nil {
		r.enrich(ctx, req, r.fanout)
	}
	// 4. Call the eligible bidders and wait for them until the fan-out
	// ends (fanout.go); each bidder's goroutine checks the bids of its
	// response as soon as the bidder returns (collect.go).
	r.fanOut(ctx, req, res, r.launchTime(start))
	if canceled(ctx) {
		return nil, ctx.Err()
	}
	// 5. Collect the calls and their checked bids into the Result
	// (collect.go).
	r.collect(ctx, req, res)
	// 6. Rank and clear each imp; each winner reserves its cost on the
	// ledger (clearing.go, budget.go).
	r.clear(ctx, req, res)
	r.endLedger()
	// 7. Say why nothing won, tell the hooks and the sink (emit.go).
	r.finish(ctx, res, start)
	return res, nil
}

// resetResult returns res emptied for a new auction among n bidders, with
// the memory of its slices kept and zeroed, or a new Result when res is
// nil, so that collect and clear write on zeroed memory (resultBids,
// resultImps).
func resetResult(res *Result, n int) *Result {
	if res == nil {
		return &Result{Bidders: make([]BidderResult, n)}
	}
	// Whole capacities are cleared, so that a Result the caller built
	// itself leaves nothing behind either.
	bidders, bids, imps := res.Bidders[:cap(res.Bidders)], res.Bids[:cap(res.Bids)], res.Imps[:cap(res.Imps)]
	clear(bidders)
	clear(bids)
	clear(imps)
	*res = Result{Bids: bids[:0], Imps: imps[:0]}
	if cap(bidders) >= n {
		res.Bidders = bidders[:n]
	} else {
		res.Bidders = make([]BidderResult, n)
	}
	return res
}

// resultBids returns bids, empty and zeroed (resetResult), with room for n
// outcomes: its own memory when it has room, else new.
func resultBids(bids []BidOutcome, n int) []BidOutcome {
	if cap(bids) < n {
		return make([]BidOutcome, 0, n)
	}
	return bids[:0]
}

// resultImps returns imps with length n, zeroed (resetResult): its own
// memory when it has room, else new.
func resultImps(imps []ImpResult, n int) []ImpResult {
	if cap(imps) < n {
		return make([]ImpResult, n)
	}
	return imps[:n]
}

// clockNow is the time by the Clock (health and pacing). The system
// clock's is counted from since, a time read earlier in the auction, on
// the monotonic clock alone: time.Now also reads the wall clock, at twice
// the cost or more.
func (r *round) clockNow(since time.Time) time.Time {
	if _, ok := r.a.cfg.clock.(systemClock); ok {
		return since.Add(time.Since(since))
	}
	return r.a.cfg.clock.Now()
}

// launchTime is the time the fan-out starts at, from which the bidders'
// deadlines and tmax are counted: Run's start when nothing that may take
// time ran since (a hook, the profile lookup), sparing a clock read.
func (r *round) launchTime(start time.Time) time.Time {
	if len(r.a.hooks.start) == 0 && r.a.cfg.profiles == nil {
		return start
	}
	return time.Now()
}

// finish completes res and reports it: the no-bid reason when nothing won,
// the bid outcome hooks, and the events.
func (r *round) finish(ctx context.Context, res *Result, start time.Time) {
	a := r.a
	if !res.HasWinner() {
		res.NBR = noBidReason(res)
	}
	if len(a.hooks.outcome) > 0 {
		for i := range res.Bids {
			for _, h := range a.hooks.outcome {
				h.OnBidOutcome(ctx, res.AuctionID, &res.Bids[i])
			}
		}
	}
	res.Duration = time.Since(start)
	if a.sink != nil {
		r.emit(ctx, res)
	}
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
	for i := range r.calls {
		r.calls[i].reset()
	}
	clear(r.reqs[:r.nreqs])
	r.nreqs = 0
	clear(r.bodies)
	r.a.rounds.Put(r)
}

// reset empties the call for the next round, keeping the memory of its
// scratch space; the outcomes are zeroed, as checkResponse expects, and so
// that the round pins no bid.
func (c *call) reset() {
	bids, ties := c.bids, c.ties
	clear(bids)
	*c = call{bids: bids[:0], ties: ties[:0]}
}

// noBidReason says why nothing won, from what the bidders did.
func noBidReason(res *Result) openrtb3.NoBidReason {
	var called, failed, skipped, bids int
	for i := range res.Bidders {
		br := &res.Bidders[i]
		switch {
		case br.Status == StatusSkippedNoTime:
			skipped++
		case br.Status.Called():
			called++
			if br.Status == StatusTimeout || br.Status == StatusError || br.Status == StatusInvalidResponse {
				failed++
			}
		}
		bids += br.Bids
	}
	switch {
	case called == 0 && skipped > 0:
		return openrtb3.NoBidInsufficientTime
	case called == 0:
		return NoBidNoBidders // none configured, or all blocked, throttled or paced
	case bids > 0:
		return NoBidNoEligibleBids
	case failed == called:
		return openrtb3.NoBidTechnicalError
	default:
		return NoBidNoDemand
	}
}

// canceled reports whether ctx was canceled, as opposed to running out of time.
func canceled(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}
