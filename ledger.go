package gavel

import (
	"context"
	"time"
)

// A Hold is money reserved on an account by Ledger.Reserve, to be billed
// with Commit or given back with Release. It is a plain value: copy it,
// keep it, send it to another goroutine. The zero Hold is never valid.
type Hold struct {
	Account string
	ID      uint64    // unique within the ledger while the hold lives
	Amount  int64     // micros reserved
	Expires time.Time // when the hold returns to the account by itself
}

// A Ledger keeps the budgets of accounts and guards them against
// overspending: money is first reserved with a time to live, then either
// committed (billed) or released. Money is int64 micros of the account's
// currency throughout. A hold that is neither committed nor
// released by its expiry returns to its account by itself, so a caller
// that crashes or loses its ctx never strands money.
//
// Implementations are safe for concurrent use. Every method first checks
// ctx: if it is already done, the method returns ctx.Err() and changes
// nothing. A remote implementation may also return ctx.Err() when ctx ends
// during the call, in which case the caller cannot know whether the change
// was made; a hold it cannot account for returns at its expiry.
type Ledger interface {
	// Reserve holds amount (> 0) on account for ttl (> 0): the hold
	// Expires ttl from now, by the ledger's clock. It returns
	// ErrBudgetExhausted if the account cannot cover amount,
	// ErrUnknownAccount if the account has no budget and
	// ErrInvalidReservation if amount or ttl is not positive. On error
	// nothing changes.
	Reserve(ctx context.Context, account string, amount int64, ttl time.Duration) (Hold, error)

	// Commit bills actual (0 <= actual <= h.Amount) of the hold and
	// returns the rest to the account; the hold ends. It returns
	// ErrCommitExceedsHold if actual is negative or more than h.Amount,
	// and then the hold lives on.
	//
	// Commit and Release are idempotent. An ended hold leaves a tombstone,
	// its outcome and what it billed, for at least as long as the hold
	// would have lived (until h.Expires; a ledger may keep it longer, see
	// its docs). While the tombstone lives, a Commit of a committed hold
	// returns nil and bills nothing more, whatever its actual: the first
	// commit's amount stands. So a caller that lost a Commit's answer (ctx
	// ended, a timeout, a partition) retries it and learns, from nil, that
	// the money moved once. A Commit of a released hold returns
	// ErrHoldReleased. Once the tombstone is gone, and for a hold that
	// expired before it was ended or never existed, Commit returns
	// ErrHoldNotFound; for a hold whose account has no budget,
	// ErrUnknownAccount. On error nothing changes.
	Commit(ctx context.Context, h Hold, actual int64) error

	// Release returns the whole hold to the account; the hold ends. A
	// Release of a released hold returns nil, of a committed one
	// ErrHoldCommitted, while its tombstone lives; otherwise it returns
	// ErrHoldNotFound or ErrUnknownAccount as Commit does, and then
	// nothing changes.
	Release(ctx context.Context, h Hold) error
}

// HoldEnder is an optional Ledger capability: a ledger that can tell the
// call that ended a hold from a repeat answered by its tombstone
// implements it. Auction.Commit and Auction.Release use it to bill, tell
// the Pacer and emit the billing event once per hold, however many times
// (and in however many processes sharing the ledger) the hold is ended.
// Check for it with a type assertion.
type HoldEnder interface {
	// EndHold ends h as Commit (commit set, billing actual) or Release
	// does, with their errors. It returns true if this call ended the
	// hold, and false, with a nil error, for a repeat of the call that
	// did.
	EndHold(ctx context.Context, h Hold, actual int64, commit bool) (ended bool, err error)
}

// A Reservation asks a BatchLedger for one hold: Amount micros on Account
// for TTL, as Ledger.Reserve's arguments do.
type Reservation struct {
	Account string
	Amount  int64
	TTL     time.Duration
}

// BatchLedger is an optional Ledger capability: a ledger that can make
// several reservations in one call, which a remote ledger serves in one
// round trip, implements it. Run reserves the winners of all imps of an
// auction with one ReserveBatch, and the next bids of the imps whose
// winner was refused with a second one, rather than calling Reserve once
// per imp. Check for it with a type assertion.
type BatchLedger interface {
	// ReserveBatch makes each reservation of rs as Reserve would, each on
	// its own: one may fail while others succeed, and the outcome of rs[i]
	// is holds[i] and errs[i] (nil on success). holds and errs have the
	// length of rs; ReserveBatch overwrites them. Reservations on one
	// account are made in the order of rs. If ctx is done before the call,
	// every errs[i] is ctx.Err() and nothing changes; if it ends during the
	// call, errs[i] may be ctx.Err() for reservations whose outcome the
	// caller cannot know, and a hold it cannot account for returns at its
	// expiry.
	ReserveBatch(ctx context.Context, rs []Reservation, holds []Hold, errs []error)
}

// BalanceCache is an optional Ledger capability: a ledger that knows an
// account's balance without a round trip (kept in memory, refreshed in the
// background or pushed to it) implements it. Before the fan-out, Run reads
// it to leave out the bidders whose account cannot afford the imps'
// floors (StatusBudgetExhausted), so that no auction waits on a bidder that
// cannot win. Check for it with a type assertion.
type BalanceCache interface {
	// CachedBalance returns the account's last known balance and true, or
	// false when it knows none (an unknown account, or nothing read yet).
	// It never waits on I/O and is safe for concurrent use.
	CachedBalance(account string) (Balance, bool)
}

// BalanceReader is an optional Ledger capability: a ledger that can tell an
// account's balance implements it. Check for it with a type assertion.
type BalanceReader interface {
	// Balance returns the account's balance as of now, with every hold
	// that expired by now returned. It returns ErrUnknownAccount if the
	// account has no budget, and ctx.Err() if ctx is done.
	Balance(ctx context.Context, account string) (Balance, error)
}

// Balance is the state of an account's budget in its current period.
type Balance struct {
	Budget    int64 // the budget of each period
	Committed int64 // billed in the current period
	Reserved  int64 // held by holds that are still outstanding

	PeriodStart time.Time // start of the current period; zero for a total budget
}

// Remaining returns what can still be reserved: Budget − Committed −
// Reserved, or 0 when that is negative, which happens only after a budget
// was lowered below what was already committed and reserved.
func (b Balance) Remaining() int64 { return max(b.Budget-b.Committed-b.Reserved, 0) }
