package gavelredis

import (
	"context"
	"fmt"
	"time"

	"github.com/gavelrtb/gavel"
)

// The balances a Ledger caches for gavel.BalanceCache. Every script that
// changes or reads an account's money answers with the account's balance
// (with_balance in prelude.lua) and the Redis server's time, so the cache
// follows this process's own reservations, commits and releases at no cost;
// a background refresh reads, every WithBalanceRefresh, the balances of the
// accounts asked for lately, all in one round trip, for what other
// processes spent. Readings are ordered by the server's time, so a reply
// that arrives late never replaces a newer balance.

// cachedBalance is an account's balance as read in Redis.
type cachedBalance struct {
	budget, committed, reserved int64 // reserved counts the leases of every process
	start                       int64 // period start, Unix ms; 0 for a total budget
	at                          int64 // when Redis read it, by the server's clock, Unix µs
	tick                        int64 // the ledger's balance tick when it was cached
}

// Bounds of the cache: how many refresh ticks a balance is used for
// without a new reading, how many ticks after it was last asked for an
// account's balance is still refreshed, how many accounts not yet known
// wait for the next refresh, and how many balances one round trip reads.
const (
	balanceMaxAge   = 2
	balanceAskedFor = 2
	maxWanted       = 1024
	balanceChunk    = 256
)

// CachedBalance implements gavel.BalanceCache: it returns the account's
// balance as the ledger last read it in Redis, without a round trip. It
// never waits on I/O.
//
// The balance is as fresh as the last reply of Redis about the account:
// every reservation, commit and release of this Ledger brings it, and a
// background refresh reads the balances asked for lately every
// WithBalanceRefresh (default DefaultBalanceRefresh, 1s), so the spend of
// other processes shows within about one refresh. A balance not read again
// for more than two refreshes (Redis unreachable, an account not asked
// for) is not used: CachedBalance returns false, as it does for an account
// it has not read yet, and the next refresh reads it. After a daily period
// turns over, a balance read in the previous period has nothing committed.
//
// In lease mode, Reserved counts the other processes' leases and the part
// of this process's lease that is held or committed, so that Remaining is
// what this process can still reserve: the money left in Redis plus what
// its lease has free.
//
// The cache keeps one balance per account the ledger keeps (those Redis
// knows), and waits to read at most 1024 accounts it was asked about and
// does not know yet. The background refresh starts with the first call and
// stops with Close.
func (l *Ledger) CachedBalance(name string) (gavel.Balance, bool) {
	if l.closed.Load() {
		return gavel.Balance{}, false
	}
	l.balanceOnce.Do(func() { l.start(l.refreshBalances) })
	v, ok := l.accounts.Load(name)
	if !ok {
		l.want(name)
		return gavel.Balance{}, false
	}
	a := v.(*account)
	tick := l.balanceTicks.Load()
	if a.asked.Load() != tick {
		a.asked.Store(tick)
	}
	c := a.bal.Load()
	if c == nil || tick-c.tick > balanceMaxAge {
		return gavel.Balance{}, false
	}
	b := l.balanceOf(a, c)
	if ls := a.lease; ls != nil && ls.valid.Load() {
		if lb, ok := l.localBalance(ls); ok {
			b.Reserved = max(b.Reserved-lb.Remaining(), 0)
		}
	}
	return b, true
}

// balanceOf returns c, a's cached balance, as a gavel.Balance.
func (l *Ledger) balanceOf(a *account, c *cachedBalance) gavel.Balance {
	b := gavel.Balance{Budget: c.budget, Committed: c.committed, Reserved: c.reserved}
	if c.start == 0 {
		return b
	}
	cur := a.config(l.cfg.clock.Now())
	switch ms := cur.start.UnixMilli(); {
	case cur.period.Daily && ms > c.start: // a new period: nothing committed in it yet
		b.Committed, b.PeriodStart = 0, cur.start
	case cur.period.Daily && ms == c.start:
		b.PeriodStart = cur.start
	default: // another process's clock is ahead of ours
		b.PeriodStart = time.UnixMilli(c.start).In(location(cur.period))
	}
	return b
}

// known keeps a, an account Redis knows, and caches the balance that the
// reply r carries from its element off (see with_balance).
func (l *Ledger) known(a *account, r reply, off int) {
	if !a.kept.Load() {
		l.keep(a)
		if v, ok := l.accounts.Load(a.name); ok {
			a = v.(*account) // the one kept, if another was kept first
		}
	}
	var c cachedBalance
	for i, p := range []*int64{&c.budget, &c.committed, &c.reserved, &c.start, &c.at} {
		v, err := r.int(off + i)
		if err != nil {
			return // not from these scripts: nothing to cache
		}
		*p = v
	}
	c.tick = l.balanceTicks.Load()
	for {
		old := a.bal.Load()
		if old != nil && old.at > c.at {
			return // a newer reading arrived first
		}
		if a.bal.CompareAndSwap(old, &c) {
			return
		}
	}
}

// unknown forgets a, an account Redis does not know, and its balance.
func (l *Ledger) unknown(a *account) {
	a.bal.Store(nil)
	l.forget(a)
}

// want asks the next refresh to read the balance of the account name,
// which the ledger does not keep, unless maxWanted accounts wait already.
func (l *Ledger) want(name string) {
	if _, ok := l.wanted.Load(name); ok || l.nwanted.Load() >= maxWanted {
		return
	}
	if _, loaded := l.wanted.LoadOrStore(name, struct{}{}); !loaded {
		l.nwanted.Add(1)
	}
}

// refreshBalances reads, every balance refresh, the balances asked for
// lately, until Close.
func (l *Ledger) refreshBalances() {
	t := time.NewTicker(l.cfg.balances)
	defer t.Stop()
	for {
		select {
		case <-l.bg.Done():
			return
		case <-t.C:
		}
		tick := l.balanceTicks.Add(1)
		as := l.balancesDue(tick)
		for lo := 0; lo < len(as); lo += balanceChunk {
			l.readBalances(l.bg, as[lo:min(lo+balanceChunk, len(as))])
		}
	}
}

// balancesDue returns the accounts whose balances the refresh of tick
// reads: those kept and asked for in the last balanceAskedFor ticks, and
// those wanted.
func (l *Ledger) balancesDue(tick int64) []*account {
	var as []*account
	l.accounts.Range(func(_, v any) bool {
		if a := v.(*account); tick-a.asked.Load() <= balanceAskedFor {
			as = append(as, a)
		}
		return true
	})
	l.wanted.Range(func(k, _ any) bool {
		l.wanted.Delete(k)
		l.nwanted.Add(-1)
		if a, kept := l.lookupKept(k.(string)); !kept {
			as = append(as, a)
		}
		return true
	})
	return as
}

// readBalances reads the balances of as in Redis, in one round trip, and
// caches them.
func (l *Ledger) readBalances(ctx context.Context, as []*account) {
	l.callMulti(ctx, multiCall{
		s: l.scripts.balance, n: len(as),
		acct: func(k int) *account { return as[k] },
		args: func(_ int, c *accountConfig) []string { return []string{c.version, c.startMs} },
		done: func(k int, r reply, code int64, err error) bool {
			a := as[k]
			switch {
			case err != nil: // the balance ages
				_ = l.redisError(LedgerBalance, a.name, err)
			case code == replyOK:
				l.known(a, r, 1)
			case code == replyUnknown:
				a.bal.Store(nil)
				if a.lease == nil { // a lease learns it from its own refresh
					l.forget(a)
				}
			default:
				_ = l.redisError(LedgerBalance, a.name, fmt.Errorf("%w: code %d", errBadReply, code))
			}
			return false
		},
	})
}
