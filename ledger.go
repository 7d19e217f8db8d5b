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
	// ErrHoldNotFound if the hold was committed, released or expired, or
	// never existed, and ErrCommitExceedsHold if actual is negative or
	// more than h.Amount. On error nothing changes.
	Commit(ctx context.Context, h Hold, actual int64) error

	// Release returns the whole hold to the account; the hold ends. It
	// returns ErrHoldNotFound as Commit does, and then nothing changes.
	Release(ctx context.Context, h Hold) error
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
