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
		r, code, err := l.call(ctx, LedgerReserve, l.scripts.reserve, a, func(c *accountConfig) []string {
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
		l.orphaned(a, ids, amt) // a reply not understood may have reserved
		err = l.redisError(LedgerReserve, a.name, err)
		l.failed(err)
		return gavel.Hold{}, err
	}
	err := l.redisError(LedgerReserve, a.name, errors.New("hold ids taken"))
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
	_, _, _ = l.call(ctx, LedgerRelease, l.scripts.end, o.a, func(c *accountConfig) []string {
		return []string{c.version, c.startMs, o.id, o.amount, ""}
	})
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
		return l.endLocal(ctx, h, actual, commit)
	}
	if h.Account == "" || h.ID == 0 || h.ID > MaxAmount {
		return gavel.ErrHoldNotFound
	}
	a := l.lookup(h.Account)
	op, act := LedgerRelease, ""
	if commit {
		op, act = LedgerCommit, strconv.FormatInt(actual, 10)
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
