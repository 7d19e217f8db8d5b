package gavelredis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
)

// A timed-out call must not cost the calls that share its connection.
// rueidis makes a call whose ctx has a deadline, when it finds its
// connection idle, on the connection itself (its "sync" path), with the
// deadline as the socket's: if the deadline passes before the reply, it
// closes the connection, and every call in flight on it fails, and the
// next ones wait for a new connection (a dial and a handshake). Measured
// behind a proxy adding 20ms to every read (TestLedgerLatencyDeadline),
// 400 auctions opened 37 connections, and reservations returned up to
// 28ms past their deadline. A call whose ctx can end but has no deadline goes through the
// connection's pipeline instead, where a caller that gives up leaves the
// reply to be read and the connection open; and once a connection has
// pipelined, every later call on it is pipelined too. So the strict-mode
// reservations, whose callers wait on their own ctx and not on rueidis,
// hide their deadline from rueidis (detach): the ctx still ends at the
// deadline, and the call with it. That holds whatever the options of the
// client, except DisableAutoPipelining, which gives every call a
// connection of its own, closed on a timeout.
//
// The other calls keep their deadline: rueidis bounds the handshake of a
// new connection by the deadline of the call that opens it, and without
// one by its dial timeout (5s by default), during which a caller that
// waits on rueidis would wait too. A client made with ClientOption
// (AlwaysPipelining) pipelines every call from the start, deadline or
// not: with it, no call that times out, the Ledger's or another's (a
// ProfileStore's on the same client), closes the connection.

// detached is a ctx that ends when its parent does but tells no deadline.
type detached struct{ context.Context }

func (detached) Deadline() (time.Time, bool) { return time.Time{}, false }

// detach returns ctx without its deadline, for rueidis: see above.
func detach(ctx context.Context) context.Context {
	if _, ok := ctx.Deadline(); !ok {
		return ctx
	}
	return detached{ctx}
}

// A reservation with less than one round trip to Redis left before its
// ctx's deadline is not sent: its reply would come too late to be used,
// and a caller that waits for it waits to the deadline, where a busy
// machine makes it late. It fails at once with an error wrapping
// gavel.ErrNoTime (the auction loses the bid with LossNoTimeToReserve),
// counted in LedgerStats.NoTime; nothing was reserved, so nothing is to be
// released. The round trip is the ledger's smoothed round trip, as TCP
// smooths it: every reply moves it an eighth of the way to the time the
// call took, and a call that timed out moves it towards the time it waited
// (the round trip was at least that), so that a slower Redis is learned
// from calls that get no reply too. When no round trip has been timed for
// probeEvery (100ms), the next reservations are sent whatever time they
// have, to measure it again.

// errNoTime fails a reservation not sent for want of time.
var errNoTime = fmt.Errorf("%w: less than one round trip to redis left before the deadline", gavel.ErrNoTime)

// observe takes in a round trip that took d; timedOut says that the reply
// did not come in d.
func (l *Ledger) observe(d time.Duration, timedOut bool) {
	l.timedAt.Store(l.mono())
	for {
		old := l.rtt.Load()
		n := int64(d)
		switch {
		case old == 0:
		case timedOut && n <= old: // a timeout teaches nothing shorter
			return
		default:
			n = old + (n-old)/8
		}
		if l.rtt.CompareAndSwap(old, n) {
			return
		}
	}
}

// probeEvery is how long the ledger goes without timing a round trip
// before it sends a reservation whatever time it has left, so that a round
// trip learned while Redis was slow does not stop every reservation, and
// with them its own measure, for good.
const probeEvery = 100 * time.Millisecond

// noTime reports whether ctx leaves less than one round trip before its
// deadline, unless no round trip has been timed for probeEvery.
func (l *Ledger) noTime(ctx context.Context, now time.Time) bool {
	d, ok := ctx.Deadline()
	return ok && d.Sub(now) < time.Duration(l.rtt.Load()) && l.mono()-l.timedAt.Load() < int64(probeEvery)
}

// timed runs f, a round trip to Redis within ctx, and observes it: a
// failure that ctx's deadline caused is a timeout, other failures are not
// observed.
func (l *Ledger) timed(ctx context.Context, f func() error) {
	start := time.Now()
	err := f()
	switch d := time.Since(start); {
	case err == nil:
		l.observe(d, false)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		l.observe(d, true)
	}
}

// unsent reports whether err, the error of a call to Redis, says that the
// call never left the process: no connection could be made (a dial
// failed), or the client is closed.
func unsent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" || errors.Is(err, rueidis.ErrClosing)
}

// ClientOption returns the options of a rueidis client for a Ledger (and
// the Pacer, ProfileStore and FrequencyStore) on the Redis at addrs:
// rueidis's defaults, with AlwaysPipelining, so that every call of the
// client, the Ledger's and others', goes through the connection's
// pipeline, where a call that times out leaves the connection open (see
// Ledger, Failures). Set more fields on what it returns as needed;
// DisableAutoPipelining must stay false: with it, every call that times
// out closes its connection.
func ClientOption(addrs ...string) rueidis.ClientOption {
	return rueidis.ClientOption{InitAddress: addrs, AlwaysPipelining: true}
}
