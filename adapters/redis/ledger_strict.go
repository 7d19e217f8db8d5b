package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
)

// Operations, as the ErrorHook is told them.
const (
	opReserve   = "reserve"
	opCommit    = "commit"
	opRelease   = "release"
	opBalance   = "balance"
	opSetBudget = "setbudget"
	opLease     = "lease"
)

// maxTTL caps the ttl of a hold, so that its expiry stays exact in Lua.
const maxTTL = 100 * 365 * 24 * time.Hour

// Reserve implements gavel.Ledger. In strict mode the hold's ID is the
// account's sequence number in Redis; in lease mode see Ledger. A ttl is
// capped at 100 years.
func (l *Ledger) Reserve(ctx context.Context, account string, amount int64, ttl time.Duration) (gavel.Hold, error) {
	if err := ctx.Err(); err != nil {
		return gavel.Hold{}, err
	}
	if amount <= 0 || ttl <= 0 {
		return gavel.Hold{}, gavel.ErrInvalidReservation
	}
	if l.closed.Load() {
		return gavel.Hold{}, ErrLedgerClosed
	}
	if amount > MaxAmount {
		l.stats.refusals.Add(1)
		return gavel.Hold{}, gavel.ErrBudgetExhausted
	}
	ttl = min(ttl, maxTTL)
	a, kept := l.lookupKept(account)
	if a.lease != nil && amount <= l.cfg.slice {
		if !kept {
			a = l.share(a)
		}
		return l.reserveLease(ctx, a, amount, ttl)
	}
	return l.reserveStrict(ctx, a, amount, ttl)
}

func (l *Ledger) reserveStrict(ctx context.Context, a *account, amount int64, ttl time.Duration) (gavel.Hold, error) {
	amt := strconv.FormatInt(amount, 10)
	ms := strconv.FormatInt(int64((ttl+time.Millisecond-1)/time.Millisecond), 10)
	for range 3 {
		id := l.idBase | uint64(l.nextID.Add(1))
		ids := strconv.FormatUint(id, 10)
		r, code, err := l.call(ctx, opReserve, l.scripts.reserve, a, func(c *accountConfig) []string {
			return []string{c.version, c.startMs, amt, ms, ids}
		})
		if err != nil {
			l.orphaned(a, ids, amt)
			l.failed(err)
			return gavel.Hold{}, err
		}
		switch code {
		case replyOK:
			var expiry int64
			if err = r.ints(&expiry); err != nil {
				break
			}
			l.keep(a)
			l.stats.reserves.Add(1)
			return gavel.Hold{Account: a.name, ID: id, Amount: amount, Expires: time.UnixMilli(expiry)}, nil
		case replyTaken: // a hold of another ledger has the ID; take the next
			continue
		case replyExhausted:
			l.keep(a)
			l.stats.refusals.Add(1)
			return gavel.Hold{}, gavel.ErrBudgetExhausted
		case replyUnknown:
			l.forget(a)
			return gavel.Hold{}, gavel.ErrUnknownAccount
		default:
			err = fmt.Errorf("%w: code %d", errBadReply, code)
		}
		err = l.redisError(opReserve, a.name, err)
		l.failed(err)
		return gavel.Hold{}, err
	}
	err := l.redisError(opReserve, a.name, errors.New("hold ids taken"))
	l.failed(err)
	return gavel.Hold{}, err
}

// failed counts a reservation that failed with err, unless its ctx was
// canceled.
func (l *Ledger) failed(err error) {
	if !errors.Is(err, context.Canceled) {
		l.stats.failures.Add(1)
	}
}

// orphan is a strict-mode reservation whose reply was lost: the hold may
// exist in Redis, and nobody knows it to commit or release it.
type orphan struct {
	a          *account
	id, amount string
	at         int64 // mono time from which to release it
}

// maxOrphans bounds the orphans waiting to be released; the holds of the
// others return at their expiry.
const maxOrphans = 1024

// orphaned hands a reservation whose reply was lost to the orphan worker,
// which releases it a ledger timeout later: the delay lets a reservation
// stuck in the network arrive first, though that is not guaranteed (the
// client has several connections), and a hold released too early returns
// at its expiry.
func (l *Ledger) orphaned(a *account, id, amount string) {
	l.stats.orphans.Add(1)
	l.orphanOnce.Do(func() { l.start(l.releaseOrphans) })
	select {
	case l.orphans <- orphan{a: a, id: id, amount: amount, at: l.mono() + int64(l.cfg.timeout)}:
	default:
	}
}

func (l *Ledger) releaseOrphans() {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		var o orphan
		select {
		case <-l.bg.Done():
			return
		case o = <-l.orphans:
		}
		t.Reset(time.Duration(o.at - l.mono()))
		select {
		case <-l.bg.Done():
			return
		case <-t.C:
		}
		l.releaseOrphan(l.bg, o)
	}
}

// releaseOrphansNow releases the orphans still waiting, for Close.
func (l *Ledger) releaseOrphansNow(ctx context.Context) {
	for {
		select {
		case o := <-l.orphans:
			l.releaseOrphan(ctx, o)
		default:
			return
		}
	}
}

func (l *Ledger) releaseOrphan(ctx context.Context, o orphan) {
	_, _, _ = l.call(ctx, opRelease, l.scripts.end, o.a, func(c *accountConfig) []string {
		return []string{c.version, c.startMs, o.id, o.amount, ""}
	})
}

// start runs f in a goroutine that Close waits for, unless the ledger is
// closing. It reports whether it started f.
func (l *Ledger) start(f func()) bool {
	l.life.RLock()
	defer l.life.RUnlock()
	if l.closing {
		return false
	}
	l.refreshes.Add(1)
	go func() {
		defer l.refreshes.Done()
		f()
	}()
	return true
}

// Commit implements gavel.Ledger. A commit after a daily period turned
// over counts in the new period.
func (l *Ledger) Commit(ctx context.Context, h gavel.Hold, actual int64) error {
	return l.end(ctx, h, actual, true)
}

// Release implements gavel.Ledger.
func (l *Ledger) Release(ctx context.Context, h gavel.Hold) error {
	return l.end(ctx, h, 0, false)
}

// end ends the hold h, billing actual if commit is set.
func (l *Ledger) end(ctx context.Context, h gavel.Hold, actual int64, commit bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.closed.Load() {
		return ErrLedgerClosed
	}
	if h.ID&localFlag != 0 {
		return l.holds.end(h, actual, commit, l.cfg.clock.Now().UnixNano())
	}
	if h.Account == "" || h.ID == 0 || h.ID > MaxAmount {
		return gavel.ErrHoldNotFound
	}
	a := l.lookup(h.Account)
	op, act := opRelease, ""
	if commit {
		op, act = opCommit, strconv.FormatInt(actual, 10)
	}
	id, amt := strconv.FormatUint(h.ID, 10), strconv.FormatInt(h.Amount, 10)
	_, code, err := l.call(ctx, op, l.scripts.end, a, func(c *accountConfig) []string {
		return []string{c.version, c.startMs, id, amt, act}
	})
	if err != nil {
		return err
	}
	switch code {
	case replyOK:
		l.keep(a)
		if commit {
			l.stats.commits.Add(1)
		} else {
			l.stats.releases.Add(1)
		}
		return nil
	case replyNotFound:
		return gavel.ErrHoldNotFound
	case replyExceeds:
		return gavel.ErrCommitExceedsHold
	}
	return l.redisError(op, a.name, fmt.Errorf("%w: code %d", errBadReply, code))
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
	r, code, err := l.call(ctx, opBalance, l.scripts.balance, a, func(c *accountConfig) []string {
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
		return gavel.Balance{}, l.redisError(opBalance, a.name, fmt.Errorf("%w: code %d", errBadReply, code))
	}
	var b gavel.Balance
	var start int64
	if err := r.ints(&b.Budget, &b.Committed, &b.Reserved, &start); err != nil {
		return gavel.Balance{}, l.redisError(opBalance, a.name, err)
	}
	l.keep(a)
	switch {
	case start == 0:
	case used.period.Daily && used.start.UnixMilli() == start:
		b.PeriodStart = used.start
	default: // another process's clock is ahead of ours
		b.PeriodStart = time.UnixMilli(start).In(location(used.period))
	}
	return b, nil
}

// SetBudget creates account with budget (micros, in [0, MaxAmount]) per
// period, or changes the budget and period of an existing account, with
// the semantics of gavel.MemoryLedger.SetBudget: a change keeps what is
// committed, reserved and leased, and a budget lowered below them stops
// new reservations and leases until enough returns.
//
// A daily period's Location must load by name (time.LoadLocation) in
// every process that uses the account: UTC (or nil), or a name of the
// time zone database such as "America/New_York"; "Local" is each
// process's own zone. Other processes learn a new period at their next
// call on the account, at the cost of one more round trip.
//
// It returns gavel.ErrInvalidBudget, changing nothing, for an empty
// account name, a negative budget or one above MaxAmount, or a daily
// period whose Reset is outside [0, 24h) or whose Location does not load.
func (l *Ledger) SetBudget(ctx context.Context, account string, budget int64, period gavel.Period) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.closed.Load() {
		return ErrLedgerClosed
	}
	if account == "" || budget < 0 || budget > MaxAmount {
		return gavel.ErrInvalidBudget
	}
	kind, tz, reset := encodePeriod(period)
	if period.Daily {
		if period.Reset < 0 || period.Reset >= 24*time.Hour {
			return gavel.ErrInvalidBudget
		}
		if _, err := time.LoadLocation(tz); tz == "" || err != nil {
			return fmt.Errorf("%w: time zone %q does not load by name", gavel.ErrInvalidBudget, tz)
		}
	} else {
		period = gavel.Period{}
	}
	version := newVersion()
	next := newAccountConfig(version, period, l.cfg.clock.Now())
	a := l.lookup(account)
	amt := strconv.FormatInt(budget, 10)
	r, code, err := l.call(ctx, opSetBudget, l.scripts.budget, a, func(c *accountConfig) []string {
		return []string{c.version, c.startMs, amt, kind, tz, reset, version, next.startMs}
	})
	if err != nil {
		return err
	}
	if code != replyOK {
		return l.redisError(opSetBudget, a.name, fmt.Errorf("%w: code %d", errBadReply, code))
	}
	if r.str(1) == version { // the period changed; else the one a knows holds
		a.conf.Store(next)
	}
	l.keep(a)
	return nil
}

// call runs the script s on a's keys with the arguments that args builds
// from a's configuration, within ctx and the ledger's timeout, and returns
// the reply and its code. A STALE reply teaches a the account's
// configuration in Redis, and s runs again, up to twice more. A failure is
// counted and reported.
func (l *Ledger) call(ctx context.Context, op string, s *rueidis.Lua, a *account, args func(*accountConfig) []string) (reply, int64, error) {
	ctx, cancel := l.bound(ctx)
	defer cancel()
	for range 3 {
		now := l.cfg.clock.Now()
		r, code, err := parseReply(s.Exec(ctx, l.client, a.keys, args(a.config(now))))
		if err != nil {
			return nil, 0, l.redisError(op, a.name, err)
		}
		if code != replyStale {
			return r, code, nil
		}
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
