package gavelredis

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"
)

// maxTries is how many round trips callMulti makes for one call: a STALE
// reply (the account's period changed) or a taken hold ID makes it try
// again.
const maxTries = 3

// errTries is the error of a call that got no answer it could use in
// maxTries round trips.
var errTries = errors.New("no usable answer in 3 tries: the budget's period changes faster than it can be read, or the hold ids are taken")

// multiCall describes n calls of one script, each on one account, for
// callMulti.
type multiCall struct {
	s    *script
	n    int
	acct func(k int) *account
	// args builds the arguments of call k from its account's configuration.
	args func(k int, c *accountConfig) []string
	// done takes the outcome of call k: its reply and code, or an error,
	// which it is up to done to count and report (see redisError). It
	// returns true to run the call again in the next round trip (only with
	// a reply).
	done func(k int, r reply, code int64, err error) (again bool)
	// detach hides ctx's deadline from rueidis (see detach): for calls
	// whose callers do not wait on rueidis, but on their ctx.
	detach bool
}

// callMulti makes the calls of m in one round trip, pipelined: every call
// is a script of its own on its own account, so they may go to different
// nodes of a Redis Cluster, and each is atomic on its own. A STALE reply
// teaches the account its configuration and the call runs again, in one
// more round trip for all such calls, as do those whose done asks for it,
// up to maxTries round trips; a call still pending then fails with
// errTries, the last reply having said that nothing was done. Everything
// runs within ctx and the ledger's timeout.
func (l *Ledger) callMulti(ctx context.Context, m multiCall) {
	ctx, cancel := l.bound(ctx)
	defer cancel()
	pending := make([]int, m.n)
	for k := range pending {
		pending[k] = k
	}
	keys := make([][]string, 0, m.n)
	args := make([][]string, 0, m.n)
	for try := 0; len(pending) > 0; try++ {
		if try == maxTries {
			for _, k := range pending {
				m.done(k, nil, 0, errTries)
			}
			return
		}
		now := l.cfg.clock.Now()
		keys, args = keys[:0], args[:0]
		for _, k := range pending {
			a := m.acct(k)
			keys = append(keys, a.keys)
			args = append(args, m.args(k, a.config(now)))
		}
		results := l.execMulti(ctx, m.detach, m.s, keys, args)
		next := pending[:0]
		for j, k := range pending {
			if l.answered(m, k, results[j], now) {
				next = append(next, k)
			}
		}
		pending = next
	}
}

// answered hands the result of call k of m, made at now, to m.done, and
// reports whether the call is to run again.
func (l *Ledger) answered(m multiCall, k int, res rueidis.RedisResult, now time.Time) bool {
	a := m.acct(k)
	r, code, err := parseReply(res)
	switch {
	case err != nil:
		m.done(k, nil, 0, err)
		return false
	case code == replyUnknown:
		l.seenUnknown(a)
		return m.done(k, r, code, nil)
	case code != replyStale:
		return m.done(k, r, code, nil)
	}
	l.seenEpoch(r.str(5))
	if err := a.learn(r, now); err != nil {
		m.done(k, nil, 0, err)
		return false
	}
	return true
}

// execMulti runs the script s once per keys[j] and args[j], all in one
// round trip (rueidis DoMulti), by its SHA-1; the calls that Redis answers
// NOSCRIPT run again by the script's text, in a second round trip.
func (l *Ledger) execMulti(ctx context.Context, detached bool, s *script, keys, args [][]string) []rueidis.RedisResult {
	rctx := ctx
	if detached {
		rctx = detach(ctx)
	}
	b := l.client.B()
	cmds := make(rueidis.Commands, len(keys))
	for j := range keys {
		cmds[j] = b.Evalsha().Sha1(s.sha1).Numkeys(int64(len(keys[j]))).Key(keys[j]...).Arg(args[j]...).Build()
	}
	var results []rueidis.RedisResult
	l.timed(ctx, func() error {
		results = l.client.DoMulti(rctx, cmds...)
		return results[0].NonRedisError()
	})
	var again []int
	for j, r := range results {
		if e, ok := rueidis.IsRedisErr(r.Error()); ok && e.IsNoScript() {
			again = append(again, j)
		}
	}
	if len(again) == 0 {
		return results
	}
	cmds = cmds[:0]
	for _, j := range again {
		cmds = append(cmds, b.Eval().Script(s.text).Numkeys(int64(len(keys[j]))).Key(keys[j]...).Arg(args[j]...).Build())
	}
	for x, r := range l.client.DoMulti(rctx, cmds...) {
		results[again[x]] = r
	}
	return results
}
