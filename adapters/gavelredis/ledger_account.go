package gavelredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
)

// account is what the Ledger keeps about one account: its keys, its
// configuration as last seen in Redis, and its lease in lease mode.
// Accounts are kept once Redis has known them; they are never removed
// (except a lease-mode account Redis does not know).
type account struct {
	name  string
	keys  []string
	conf  atomic.Pointer[accountConfig]
	lease *lease      // nil in strict mode
	kept  atomic.Bool // the ledger keeps this account

	bal   atomic.Pointer[cachedBalance] // the last balance read, nil if none
	asked atomic.Int64                  // the balance tick of the last CachedBalance
}

// Key suffixes, in the order of the scripts' KEYS.
var keySuffixes = [...]string{":budget", ":state", ":holds", ":holds:exp", ":leases", ":leases:exp"}

func (l *Ledger) newAccount(name string) *account {
	tag := "{" + l.cfg.prefix + ":" + name + "}"
	a := &account{name: name, keys: make([]string, len(keySuffixes))}
	for i, s := range keySuffixes {
		a.keys[i] = tag + s
	}
	if l.cfg.modeOf(name) == ModeLease {
		a.lease = newLease(name)
	}
	return a
}

// lookup returns the account named name: the one the ledger keeps, or a
// new one that it does not keep yet (keep does that), so that names that
// have no budget do not pile up.
func (l *Ledger) lookup(name string) *account {
	a, _ := l.lookupKept(name)
	return a
}

// lookupKept is lookup, and reports whether the ledger keeps the account.
func (l *Ledger) lookupKept(name string) (*account, bool) {
	if v, ok := l.accounts.Load(name); ok {
		return v.(*account), true
	}
	return l.newAccount(name), false
}

// forget stops keeping a, an account Redis does not know.
func (l *Ledger) forget(a *account) {
	l.accounts.CompareAndDelete(a.name, a)
}

// keep keeps a, an account Redis knows.
func (l *Ledger) keep(a *account) {
	if !a.kept.Load() && a.conf.Load() != nil {
		l.share(a)
	}
}

// share returns the account the ledger keeps under a's name, keeping a if
// there is none: a lease must be one for all of the ledger's calls.
func (l *Ledger) share(a *account) *account {
	a.kept.Store(true) // a is not shared yet: if another is kept, a is dropped
	v, _ := l.accounts.LoadOrStore(a.name, a)
	return v.(*account)
}

// Balance implements gavel.BalanceReader with the account's balance in
// Redis, where Reserved counts the leases of every process too.
func (l *Ledger) Balance(ctx context.Context, account string) (gavel.Balance, error) {
	if err := ctx.Err(); err != nil {
		return gavel.Balance{}, err
	}
	if l.closed.Load() {
		return gavel.Balance{}, ErrLedgerClosed
	}
	a := l.lookup(account)
	var used *accountConfig
	r, code, err := l.call(ctx, LedgerBalance, l.scripts.balance, a, func(c *accountConfig) []string {
		used = c
		return []string{c.version, c.startMs}
	})
	if err != nil {
		return gavel.Balance{}, err
	}
	switch code {
	case replyOK:
	case replyUnknown:
		return gavel.Balance{}, gavel.ErrUnknownAccount
	default:
		return gavel.Balance{}, l.redisError(LedgerBalance, a.name, fmt.Errorf("%w: code %d", errBadReply, code))
	}
	var b gavel.Balance
	var start int64
	if err := r.ints(&b.Budget, &b.Committed, &b.Reserved, &start); err != nil {
		return gavel.Balance{}, l.redisError(LedgerBalance, a.name, err)
	}
	l.known(a, r, 1)
	switch {
	case start == 0:
	case used.period.Daily && used.start.UnixMilli() == start:
		b.PeriodStart = used.start
	default: // another process's clock is ahead of ours
		b.PeriodStart = time.UnixMilli(start).In(location(used.period))
	}
	return b, nil
}

var _ gavel.BudgetSetter = (*Ledger)(nil)

// SetBudget implements gavel.BudgetSetter: it creates b.Account with
// b.Amount (micros, at most MaxAmount) per period, or changes the amount
// and period of an existing account, with the semantics of
// gavel.MemoryLedger.SetBudget: a change keeps what is committed, reserved
// and leased, and an amount lowered below them stops new reservations and
// leases until enough returns. A flight is a total budget here: the ledger
// does not look at its dates, and b.Pacing is the Pacer's business.
//
// A daily period's Location must load by name (time.LoadLocation) in
// every process that uses the account: UTC (or nil), or a name of the
// time zone database such as "America/New_York"; "Local" is each
// process's own zone. Other processes learn a new period at their next
// call on the account, at the cost of one more round trip.
//
// It returns an error wrapping gavel.ErrInvalidBudget, changing nothing,
// for a Budget that Validate refuses, an amount above MaxAmount, or a
// daily period whose Location does not load by name; ctx.Err() if ctx is
// done; and ErrLedgerClosed after Close.
func (l *Ledger) SetBudget(ctx context.Context, b gavel.Budget) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.closed.Load() {
		return ErrLedgerClosed
	}
	if err := b.Validate(); err != nil {
		return err
	}
	if b.Amount > MaxAmount {
		return fmt.Errorf("%w: amount %d for %q above MaxAmount", gavel.ErrInvalidBudget, b.Amount, b.Account)
	}
	account, budget, period := b.Account, b.Amount, b.Period
	kind, tz, reset := encodePeriod(period)
	if period.Daily {
		if _, err := time.LoadLocation(tz); tz == "" || err != nil {
			return fmt.Errorf("%w: time zone %q does not load by name", gavel.ErrInvalidBudget, tz)
		}
	} else {
		period = gavel.Period{}
	}
	if err := l.ensureEpoch(ctx); err != nil {
		return err
	}
	version := newVersion()
	epoch := l.epochRaw()
	next := newAccountConfig(version, period, l.cfg.clock.Now())
	a := l.lookup(account)
	amt := strconv.FormatInt(budget, 10)
	r, code, err := l.call(ctx, LedgerSetBudget, l.scripts.budget, a, func(c *accountConfig) []string {
		return []string{c.version, c.startMs, amt, kind, tz, reset, version, next.startMs, epoch}
	})
	if err != nil {
		return err
	}
	if code != replyOK {
		return l.redisError(LedgerSetBudget, a.name, fmt.Errorf("%w: code %d", errBadReply, code))
	}
	if r.str(1) == version { // the period changed; else the one a knows holds
		a.conf.Store(next)
	}
	l.known(a, r, 2)
	return nil
}

// call runs the script s on a's keys with the arguments that args builds
// from a's configuration, within ctx and the ledger's timeout, and returns
// the reply and its code. A STALE reply teaches a the account's
// configuration in Redis, and s runs again, up to twice more. A failure is
// counted and reported.
func (l *Ledger) call(ctx context.Context, op LedgerOp, s *script, a *account, args func(*accountConfig) []string) (reply, int64, error) {
	ctx, cancel := l.bound(ctx)
	defer cancel()
	for range 3 {
		now := l.cfg.clock.Now()
		var res rueidis.RedisResult
		l.timed(ctx, func() error {
			res = s.Exec(ctx, l.client, a.keys, args(a.config(now)))
			return res.NonRedisError()
		})
		r, code, err := parseReply(res)
		if err != nil {
			return nil, 0, l.redisError(op, a.name, err)
		}
		if code == replyUnknown {
			l.seenUnknown(a)
		}
		if code != replyStale {
			return r, code, nil
		}
		l.seenEpoch(r.str(5))
		if err := a.learn(r, now); err != nil {
			return nil, 0, l.redisError(op, a.name, err)
		}
	}
	return nil, 0, l.redisError(op, a.name, errors.New("the budget's period changes faster than it can be read"))
}

// accountConfig is an account's period as last seen in Redis, with the
// bounds of its current period by the ledger's clock. It is immutable: a
// new one replaces it.
type accountConfig struct {
	version string // of the budget's period in Redis; "" when unknown
	period  gavel.Period
	start   time.Time // start of the current period; zero for a total budget
	startMs string    // start as Unix ms, or "0" for a total budget
	next    time.Time // start of the next period; zero for a total budget
}

// unknownConfig stands for the configuration of an account the ledger has
// not read yet: its version matches none, so the script answers STALE
// with the real one.
var unknownConfig = &accountConfig{startMs: "0"}

func newAccountConfig(version string, p gavel.Period, now time.Time) *accountConfig {
	c := &accountConfig{version: version, period: p, startMs: "0"}
	if p.Daily {
		c.start, c.next = p.Start(now), p.Next(now)
		c.startMs = strconv.FormatInt(c.start.UnixMilli(), 10)
	}
	return c
}

// config returns a's configuration with the period that holds now; a
// clock that goes back keeps the later period.
func (a *account) config(now time.Time) *accountConfig {
	c := a.conf.Load()
	switch {
	case c == nil:
		return unknownConfig
	case c.period.Daily && !now.Before(c.next):
		n := newAccountConfig(c.version, c.period, now)
		a.conf.CompareAndSwap(c, n)
		return n
	}
	return c
}

// learn takes a's configuration from a STALE reply: version, period, time
// zone, reset.
func (a *account) learn(r reply, now time.Time) error {
	p, err := decodePeriod(r.str(2), r.str(3), r.str(4))
	if err != nil {
		return err
	}
	a.conf.Store(newAccountConfig(r.str(1), p, now))
	return nil
}

func encodePeriod(p gavel.Period) (kind, tz, reset string) {
	if !p.Daily {
		return "total", "", "0"
	}
	return "daily", location(p).String(), strconv.FormatInt(int64(p.Reset), 10)
}

func decodePeriod(kind, tz, reset string) (gavel.Period, error) {
	switch kind {
	case "total":
		return gavel.Period{}, nil
	case "daily":
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return gavel.Period{}, fmt.Errorf("time zone of the budget: %w", err)
		}
		r, err := strconv.ParseInt(reset, 10, 64)
		if err != nil || r < 0 || r >= int64(24*time.Hour) {
			return gavel.Period{}, fmt.Errorf("%w: reset %q", errBadReply, reset)
		}
		return gavel.DailyPeriod(loc, time.Duration(r)), nil
	}
	return gavel.Period{}, fmt.Errorf("%w: period %q", errBadReply, kind)
}

func location(p gavel.Period) *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

// newVersion returns a version for a budget's period, unique whatever the
// keys went through before.
func newVersion() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}
