package gavelredis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelrtb/gavel"
)

// Strict-mode reservations are made in flushes: a flush takes every call
// waiting (Reserve, ReserveBatch), groups their reservations by account,
// and sends one script call per account (reserve.lua, which makes the
// account's reservations in order), all in one round trip. One flush is in
// flight at a time. A call that finds none in flight makes its own flush at
// once, so a lone call waits for nothing but its round trip; calls that
// arrive during a flush wait for it to end and go together in the next.
// Under load, then, many auctions share one round trip and one script per
// account, which is what costs Redis its time: an account's budget is read,
// its expired holds returned and its balance answered once per flush, not
// once per reservation.

// reserveCall is one call's strict-mode reservations, queued or being made.
// The flush that takes it owns hs until it settles the call, which closes
// done; a caller whose ctx ends first abandons the call instead, and the
// flush then releases what it reserved.
type reserveCall struct {
	ctx   context.Context
	hs    []strictHold
	state atomic.Int32 // callWaiting, then callSettled or callAbandoned
	done  chan struct{}
}

const (
	callWaiting int32 = iota
	callSettled
	callAbandoned
)

// reserveQueue holds the calls waiting for the next flush.
type reserveQueue struct {
	mu    sync.Mutex
	calls []*reserveCall
	busy  bool // a flusher runs
}

// reserveStrict makes the strict-mode reservations hs in Redis, with those
// of the other calls waiting, and sets the outcome of each, counted in the
// ledger's Stats. It returns false, leaving hs to the flush, when ctx ended
// first; the caller then fails them with abandoned.
func (l *Ledger) reserveStrict(ctx context.Context, hs []strictHold) bool {
	if l.noTime(ctx, time.Now()) {
		for k := range hs {
			hs[k].err = errNoTime
		}
		l.tally(hs)
		return true
	}
	c := &reserveCall{ctx: ctx, hs: hs, done: make(chan struct{})}
	if l.enqueue(c) && !l.start(l.flushAll) { // closing: nothing more goes to Redis
		for calls := l.next(); len(calls) > 0; calls = l.next() {
			for _, c := range calls {
				l.settle(c, ErrLedgerClosed)
			}
		}
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		if c.state.CompareAndSwap(callWaiting, callAbandoned) {
			return false
		}
		<-c.done // settled meanwhile
	}
	l.tally(hs)
	return true
}

// enqueue queues c and reports whether the caller is to start a flusher:
// none runs.
func (l *Ledger) enqueue(c *reserveCall) bool {
	q := &l.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, c)
	if q.busy {
		return false
	}
	q.busy = true
	return true
}

// next takes the calls waiting; when there are none, the flusher ends.
func (l *Ledger) next() []*reserveCall {
	q := &l.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	calls := q.calls
	q.calls = nil
	if len(calls) == 0 {
		q.busy = false
	}
	return calls
}

// flushAll is the flusher: it flushes until no call waits.
func (l *Ledger) flushAll() {
	for calls := l.next(); len(calls) > 0; calls = l.next() {
		l.flush(calls)
	}
}

// holdGroup is the reservations of one account in a flush, in order: those
// not yet answered.
type holdGroup struct {
	a     *account
	holds []*strictHold
}

// flush makes the reservations of calls, in one round trip (more only for
// the accounts whose period changed, or hold IDs taken), within the latest
// of the calls' deadlines, and settles the calls. The reservations of a
// call whose ctx has ended, or leaves less than one round trip, are not
// made.
func (l *Ledger) flush(calls []*reserveCall) {
	var groups []holdGroup
	index := map[string]int{}
	live := calls[:0]
	deadline := time.Time{}
	now := time.Now()
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			l.settle(c, err)
			continue
		}
		if l.noTime(c.ctx, now) {
			l.settle(c, errNoTime)
			continue
		}
		live = append(live, c)
		if d, ok := c.ctx.Deadline(); !ok || d.After(deadline) {
			deadline = d
			if !ok {
				deadline = time.Now().Add(l.cfg.timeout)
			}
		}
		for k := range c.hs {
			h := &c.hs[k]
			g, ok := index[h.a.name]
			if !ok {
				g = len(groups)
				index[h.a.name] = g
				groups = append(groups, holdGroup{a: h.a})
			}
			groups[g].holds = append(groups[g].holds, h)
		}
	}
	if len(groups) > 0 {
		ctx, cancel := context.WithDeadline(l.bg, deadline)
		l.callMulti(ctx, multiCall{
			s: l.scripts.reserve, n: len(groups),
			acct:   func(k int) *account { return groups[k].a },
			args:   func(k int, c *accountConfig) []string { return groups[k].args(c) },
			done:   func(k int, r reply, code int64, err error) bool { return l.reserved(&groups[k], r, code, err) },
			detach: true, // the callers wait on their ctx, not on the flush
		})
		cancel()
	}
	for _, c := range live {
		l.settle(c, nil)
	}
}

// args returns the arguments of reserve.lua for g's reservations.
func (g *holdGroup) args(c *accountConfig) []string {
	args := make([]string, 0, 2+3*len(g.holds))
	args = append(args, c.version, c.startMs)
	for _, h := range g.holds {
		args = append(args, h.amt, strconv.FormatInt(h.ms, 10), strconv.FormatUint(h.id, 10))
	}
	return args
}

// reserved takes in the answer to g's reservations: the script's reply r
// and its code, or err. It keeps in g the reservations to make again (their
// hold IDs were taken: each has a new one) and reports whether there are any.
func (l *Ledger) reserved(g *holdGroup, r reply, code int64, err error) bool {
	if err == nil {
		switch code {
		case replyOK:
			return l.reservedEach(g, r)
		case replyUnknown:
			l.unknown(g.a)
			for _, h := range g.holds {
				h.err = gavel.ErrUnknownAccount
			}
			return false
		}
		err = fmt.Errorf("%w: code %d", errBadReply, code)
	}
	for _, h := range g.holds {
		l.lost(h, err)
	}
	return false
}

// reservedEach takes in the OK reply r to g's reservations.
func (l *Ledger) reservedEach(g *holdGroup, r reply) bool {
	n := len(g.holds)
	now, err := r.int(1)
	again := g.holds[:0]
	for j, h := range g.holds {
		var code int64
		if err == nil {
			code, err = r.int(2 + j)
		}
		switch {
		case err != nil:
			l.lost(h, err)
		case code == replyOK:
			h.hold = gavel.Hold{Account: g.a.name, ID: h.id, Amount: h.amount, Expires: time.UnixMilli(now + h.ms)}
		case code == replyExhausted:
			h.err = gavel.ErrBudgetExhausted
		case code == replyTaken: // a hold of another ledger has the ID; take the next
			h.id = l.idBase | uint64(l.nextID.Add(1))
			again = append(again, h)
		default:
			l.lost(h, fmt.Errorf("%w: hold code %d", errBadReply, code))
		}
	}
	if err == nil {
		l.known(g.a, r, 2+n)
	}
	g.holds = again
	return len(again) > 0
}

// lost fails the reservation h with err, a failure of Redis or of its
// reply: the reservation may have been made, so the orphan worker releases
// it later; not so after errTries, whose last reply said that nothing was
// made, nor after an error that says it was never sent (see unsent).
func (l *Ledger) lost(h *strictHold, err error) {
	if !errors.Is(err, errTries) && !unsent(err) {
		l.orphaned(h.a, strconv.FormatUint(h.id, 10), h.amt, l.cfg.timeout)
	}
	h.failure = err
}

// settle ends the call c: every reservation not answered yet fails with
// err (when not nil), and the caller is told. If the caller abandoned c,
// the holds reserved for it are released instead.
func (l *Ledger) settle(c *reserveCall, err error) {
	if err != nil {
		for k := range c.hs {
			if h := &c.hs[k]; h.err == nil && h.failure == nil && h.hold.ID == 0 {
				h.err = err
			}
		}
	}
	if c.state.CompareAndSwap(callWaiting, callSettled) {
		close(c.done)
		return
	}
	for k := range c.hs {
		if h := &c.hs[k]; h.hold.ID != 0 {
			l.orphaned(h.a, strconv.FormatUint(h.id, 10), h.amt, 0)
		}
	}
}

// tally counts the outcomes of the settled reservations hs in the ledger's
// Stats, and reports their failures (see redisError), which become their
// errors.
func (l *Ledger) tally(hs []strictHold) {
	for k := range hs {
		h := &hs[k]
		switch {
		case h.failure != nil:
			h.err = l.redisError(LedgerReserve, h.a.name, h.failure)
			l.failed(h.err)
		case h.hold.ID != 0:
			l.stats.reserves.Add(1)
		case errors.Is(h.err, gavel.ErrBudgetExhausted):
			l.stats.refusals.Add(1)
		case errors.Is(h.err, gavel.ErrNoTime):
			l.stats.noTime.Add(1)
		case errors.Is(h.err, gavel.ErrUnknownAccount):
			l.stats.unknown.Add(1)
		}
	}
}

// abandoned counts and reports a strict-mode reservation on account that
// its caller stopped waiting for, as its ctx ended with err, and returns
// the error to fail it with.
func (l *Ledger) abandoned(account string, err error) error {
	err = l.redisError(LedgerReserve, account, err)
	l.failed(err)
	return err
}
