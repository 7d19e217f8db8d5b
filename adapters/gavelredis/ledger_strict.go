package gavelredis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gavelrtb/gavel"
)

// maxTTL caps the ttl of a hold, so that its expiry stays exact in Lua.
const maxTTL = 100 * 365 * 24 * time.Hour

// Reserve implements gavel.Ledger; see Ledger for the two modes and their
// hold IDs. A ttl is capped at 100 years.
func (l *Ledger) Reserve(ctx context.Context, account string, amount int64, ttl time.Duration) (gavel.Hold, error) {
	if err := ctx.Err(); err != nil {
		return gavel.Hold{}, err
	}
	a, ttl, err := l.admit(account, amount, ttl)
	if err != nil {
		return gavel.Hold{}, err
	}
	if l.leased(a, amount) {
		return l.reserveLease(ctx, a, amount, ttl)
	}
	h := []strictHold{l.newStrictHold(a, amount, ttl)}
	if !l.reserveStrict(ctx, h) {
		return gavel.Hold{}, l.abandoned(account, ctx.Err())
	}
	return h[0].hold, h[0].err
}

// ReserveBatch implements gavel.BatchLedger. Its strict-mode reservations
// go to Redis together, in one round trip, with those of the other calls
// waiting at the time (see Ledger): each is made on its own, so one may
// fail while others succeed, and those on one account are made in the
// order of rs. Lease-mode reservations are made from the leases, in the
// process, first. A reservation above MaxAmount is refused with
// gavel.ErrBudgetExhausted, one that is not valid with
// gavel.ErrInvalidReservation, without a round trip. If ctx ends before
// the reply, the strict-mode reservations not yet answered fail with
// ctx.Err(), and those Redis makes anyway are released.
func (l *Ledger) ReserveBatch(ctx context.Context, rs []gavel.Reservation, holds []gavel.Hold, errs []error) {
	if err := ctx.Err(); err != nil {
		for i := range rs {
			holds[i], errs[i] = gavel.Hold{}, err
		}
		return
	}
	var strict []strictHold
	var at []int // the index in rs of each of strict
	for i, r := range rs {
		holds[i], errs[i] = gavel.Hold{}, nil
		a, ttl, err := l.admit(r.Account, r.Amount, r.TTL)
		switch {
		case err != nil:
			errs[i] = err
		case l.leased(a, r.Amount):
			holds[i], errs[i] = l.reserveLease(ctx, a, r.Amount, ttl)
		default:
			strict = append(strict, l.newStrictHold(a, r.Amount, ttl))
			at = append(at, i)
		}
	}
	if len(strict) == 0 {
		return
	}
	if !l.reserveStrict(ctx, strict) {
		for _, i := range at {
			errs[i] = l.abandoned(rs[i].Account, ctx.Err())
		}
		return
	}
	for k, i := range at {
		holds[i], errs[i] = strict[k].hold, strict[k].err
	}
}

// admit checks a reservation of amount for ttl on account, and returns
// the account and the ttl to reserve it with (capped at maxTTL).
func (l *Ledger) admit(account string, amount int64, ttl time.Duration) (*account, time.Duration, error) {
	if amount <= 0 || ttl <= 0 {
		return nil, 0, gavel.ErrInvalidReservation
	}
	if l.closed.Load() {
		return nil, 0, ErrLedgerClosed
	}
	if amount > MaxAmount {
		l.stats.refusals.Add(1)
		return nil, 0, gavel.ErrBudgetExhausted
	}
	if l.failClosed(account) {
		return nil, 0, l.lostError(account)
	}
	a, kept := l.lookupKept(account)
	if l.leased(a, amount) && !kept {
		a = l.share(a)
	}
	return a, min(ttl, maxTTL), nil
}

// leased reports whether a reservation of amount on a is made from a's
// lease: a is in lease mode and amount fits in a slice.
func (l *Ledger) leased(a *account, amount int64) bool {
	return a.lease != nil && amount <= l.cfg.slice
}

// strictHold is one strict-mode reservation in the making, and its outcome.
type strictHold struct {
	a      *account
	amount int64
	amt    string // amount, for the script
	ms     int64  // the ttl in milliseconds, rounded up
	id     uint64 // the hold's ID, chosen by the ledger

	hold    gavel.Hold // the outcome: a hold,
	err     error      // or an error,
	failure error      // or a failure of Redis, which becomes the error once counted (tally)
}

func (l *Ledger) newStrictHold(a *account, amount int64, ttl time.Duration) strictHold {
	return strictHold{
		a:      a,
		amount: amount,
		amt:    strconv.FormatInt(amount, 10),
		ms:     int64((ttl + time.Millisecond - 1) / time.Millisecond),
		id:     l.idBase | uint64(l.nextID.Add(1)),
	}
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
	tries      int   // releases that failed
}

// maxOrphanTries is how many times the orphan worker tries to release an
// orphan, a ledger timeout apart, before it leaves the hold to its expiry:
// a release that fails while Redis is away is tried again once it may be
// back.
const maxOrphanTries = 10

// maxOrphans bounds the orphans waiting to be released; the holds of the
// others return at their expiry.
const maxOrphans = 1024

// orphaned hands a reservation whose reply was lost, or whose caller gave
// up waiting for it, to the orphan worker, which releases it after delay:
// a ledger timeout after a lost reply lets a reservation stuck in the
// network arrive first, though that is not guaranteed (the client has
// several connections), and a hold released too early returns at its
// expiry.
func (l *Ledger) orphaned(a *account, id, amount string, delay time.Duration) {
	l.stats.orphans.Add(1)
	l.orphanOnce.Do(func() { l.start(l.releaseOrphans) })
	select {
	case l.orphans <- orphan{a: a, id: id, amount: amount, at: l.mono() + int64(delay)}:
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
			select { // for Close to release
			case l.orphans <- o:
			default:
			}
			return
		case <-t.C:
		}
		err := l.releaseOrphan(l.bg, o)
		switch {
		case err == nil:
			continue
		case l.bg.Err() != nil: // Close canceled it: Close releases it
		case o.tries+1 < maxOrphanTries:
			o.tries++
			o.at = l.mono() + int64(l.cfg.timeout)
		default:
			continue // the hold returns at its expiry
		}
		select {
		case l.orphans <- o:
		default: // full: the hold returns at its expiry
		}
	}
}

// releaseOrphansNow releases the orphans still waiting, for Close.
func (l *Ledger) releaseOrphansNow(ctx context.Context) {
	for {
		select {
		case o := <-l.orphans:
			_ = l.releaseOrphan(ctx, o)
		default:
			return
		}
	}
}

// releaseOrphan releases o, and returns the error of a call that failed
// (an answer, whatever it is, ends o).
func (l *Ledger) releaseOrphan(ctx context.Context, o orphan) error {
	_, _, err := l.call(ctx, LedgerRelease, l.scripts.end, o.a, func(c *accountConfig) []string {
		return []string{c.version, c.startMs, o.id, o.amount, "", holdTombstoneMs, "1"}
	})
	return err
}

// Commit implements gavel.Ledger. A commit after a daily period turned
// over counts in the new period.
func (l *Ledger) Commit(ctx context.Context, h gavel.Hold, actual int64) error {
	_, err := l.EndHold(ctx, h, actual, true)
	return err
}

// Release implements gavel.Ledger.
func (l *Ledger) Release(ctx context.Context, h gavel.Hold) error {
	_, err := l.EndHold(ctx, h, 0, false)
	return err
}

// EndHold implements gavel.HoldEnder: it ends the hold h, billing actual if
// commit is set, and says whether this call ended it.
func (l *Ledger) EndHold(ctx context.Context, h gavel.Hold, actual int64, commit bool) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if l.closed.Load() {
		return false, ErrLedgerClosed
	}
	if h.ID&localFlag != 0 {
		return l.endLocal(ctx, h, actual, commit)
	}
	if h.Account == "" {
		return false, gavel.ErrUnknownAccount
	}
	if h.ID == 0 || h.ID > MaxAmount {
		return false, gavel.ErrHoldNotFound
	}
	a := l.lookup(h.Account)
	op, act := LedgerRelease, ""
	if commit {
		op, act = LedgerCommit, strconv.FormatInt(actual, 10)
	}
	id, amt := strconv.FormatUint(h.ID, 10), strconv.FormatInt(h.Amount, 10)
	r, code, err := l.call(ctx, op, l.scripts.end, a, func(c *accountConfig) []string {
		return []string{c.version, c.startMs, id, amt, act, holdTombstoneMs, "0"}
	})
	if err != nil {
		return false, err
	}
	if code == replyOK {
		l.known(a, r, 1)
		if commit {
			l.stats.commits.Add(1)
		} else {
			l.stats.releases.Add(1)
		}
		return true, nil
	}
	if code == replyUnknown && l.epoch.mark.Load() != nil {
		// A hold of an account Redis no longer knows: deleted, or lost
		// with Redis's state, which the marker tells.
		_ = l.checkEpoch(ctx)
		if l.failClosed(a.name) {
			return false, fmt.Errorf("%w: account %q", ErrLedgerLost, a.name)
		}
	}
	if err := endError(code, commit); err != errBadReply {
		return false, err
	}
	return false, l.redisError(op, a.name, fmt.Errorf("%w: code %d", errBadReply, code))
}
