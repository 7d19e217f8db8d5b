package gavelredis

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gavelrtb/gavel"
)

// Lease-mode holds live in the Ledger's own gavel.MemoryLedger (l.local),
// on an account of the same name, with a total budget of what the process
// has reported committed from the lease plus the lease's amount in Redis
// (lease.budget). So that account's Remaining is the lease money not held,
// its Reserved the money held, and its Committed less what was reported
// is what the next report sends. Daily periods are left to Redis, where a
// report counts in the period in which it arrives.
//
// The ID of a lease-mode hold is
//
//	1<<63 | (ID in l.local XOR l.idKey)
//
// The top bit tells it from a strict-mode hold (a sequence number below
// 2^53), and is clear in every ID of a MemoryLedger. The key, 63 random
// bits of each Ledger, scrambles the rest, so that the ID of another
// process's hold points at no live hold of this one: but for a chance
// below 1 in 2^31 its generation does not match, and then its amount and
// account must match too.
const localFlag = 1 << 63

var _ gavel.HoldEnder = (*Ledger)(nil)

// errShort says that a lease cannot cover a reservation now.
var errShort = errors.New("gavel: redis ledger: lease short")

// take reserves amount for ttl from ls, if ls is valid and its free money
// covers amount; errShort if not.
func (l *Ledger) take(ctx context.Context, ls *lease, amount int64, ttl time.Duration) (gavel.Hold, error) {
	if !ls.valid.Load() {
		return gavel.Hold{}, errShort
	}
	h, err := l.local.Reserve(ctx, ls.account, amount, ttl)
	switch {
	case err == nil:
		h.ID = localFlag | (h.ID ^ l.idKey)
		return h, nil
	// A MemoryLedger returns ErrBudgetExhausted itself when the money
	// falls short, and an error that wraps it when it keeps too many
	// holds, which no refresh cures.
	case err == gavel.ErrBudgetExhausted, errors.Is(err, gavel.ErrUnknownAccount):
		return gavel.Hold{}, errShort
	}
	return gavel.Hold{}, err
}

// HoldTombstone is how long at least an ended hold is remembered, from
// the moment it ended: its tombstone lives until the hold's expiry or this
// long after it ended, whichever is later. A Commit or Release retried
// within that time returns the first call's outcome (see gavel.Ledger).
const HoldTombstone = time.Minute

// holdTombstoneMs is HoldTombstone in milliseconds, for end.lua.
var holdTombstoneMs = strconv.FormatInt(HoldTombstone.Milliseconds(), 10)

// endError returns the error of a strict-mode end (commit set, or a
// release) that end.lua answered with code, other than OK; errBadReply for
// a code it does not answer.
func endError(code int64, commit bool) error {
	switch code {
	case replyCommitted:
		if commit {
			return nil // a repeat
		}
		return gavel.ErrHoldCommitted
	case replyReleased:
		if !commit {
			return nil
		}
		return gavel.ErrHoldReleased
	case replyNotFound:
		return gavel.ErrHoldNotFound
	case replyUnknown:
		return gavel.ErrUnknownAccount
	case replyExceeds:
		return gavel.ErrCommitExceedsHold
	}
	return errBadReply
}

// endLocal ends the lease-mode hold h as EndHold does.
func (l *Ledger) endLocal(ctx context.Context, h gavel.Hold, actual int64, commit bool) (bool, error) {
	if l.local == nil {
		return false, l.notFound(ctx, h.Account)
	}
	h.ID = (h.ID &^ localFlag) ^ l.idKey
	ended, err := l.local.EndHold(ctx, h, actual, commit)
	if err == gavel.ErrUnknownAccount { // no lease of the account here
		return false, l.notFound(ctx, h.Account)
	}
	switch {
	case !ended:
	case commit:
		l.stats.commits.Add(1)
	default:
		l.stats.releases.Add(1)
	}
	return ended, err
}

// notFound returns the error of a lease-mode hold of account that this
// process does not have: ErrHoldNotFound, or ErrUnknownAccount if Redis
// does not know the account either (or the error of asking it).
func (l *Ledger) notFound(ctx context.Context, account string) error {
	if account == "" {
		return gavel.ErrUnknownAccount
	}
	if _, err := l.Balance(ctx, account); err != nil {
		return err
	}
	return gavel.ErrHoldNotFound
}

// localClock is the clock of l.local: the ledger's, until Close moves it
// to the end of time and expires every lease-mode hold, before its last
// reports. A commit then either ended its hold first, and is reported, or
// finds its hold gone.
type localClock struct {
	clock gavel.Clock
	ended atomic.Bool
}

func (c *localClock) Now() time.Time {
	if c.ended.Load() {
		return time.Unix(0, math.MaxInt64)
	}
	return c.clock.Now()
}

// endLocalHolds ends every lease-mode hold, as if it had expired, for Close.
func (l *Ledger) endLocalHolds() {
	if l.local != nil {
		l.localClock.ended.Store(true)
		l.local.Outstanding() // expires them all
	}
}

// localBalance returns the balance of ls's account in l.local, and false
// (with a zero balance) while the account has none there: before the
// first grant of a lease on it.
func (l *Ledger) localBalance(ls *lease) (gavel.Balance, bool) {
	b, err := l.local.Balance(context.Background(), ls.account)
	return b, err == nil
}

// unreported returns what was committed from ls and not yet reported.
func (l *Ledger) unreported(ls *lease) int64 {
	b, _ := l.localBalance(ls)
	return max(b.Committed-ls.reported.Load(), 0) // a report may take its snapshot in between
}

// setBudget sets the budget of ls's account in l.local, creating the
// account if needed.
func (l *Ledger) setBudget(ls *lease, budget int64) {
	ls.budget = budget
	_ = l.local.SetBudget(context.Background(), gavel.Budget{Account: ls.account, Amount: budget}) // never fails: a name, a budget >= 0
}
