package gavel

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prebid/openrtb/v20/openrtb3"
)

// Sentinel errors. Compare with errors.Is; the typed errors below wrap them.
var (
	// ErrInvalidRequest is wrapped by the *RequestError that Run returns when the
	// bid request fails validation (no id, no imps, duplicate imp ids, negative
	// tmax or floors, an imp without media object, a video without mimes,
	// both site and app, ...). Its no-bid reason is 2 (invalid request). A
	// floor in a currency without a rate is not the publisher's fault: see
	// ErrNoCurrency.
	ErrInvalidRequest = errors.New("gavel: invalid bid request")

	// ErrNoCurrency is wrapped by the *CurrencyError that Run returns when
	// no currency the request allows (its cur, or USD) can hold the
	// auction: some imp's floor is in a currency that has no rate to any
	// of them. The request is valid; the exchange lacks a rate, so the
	// answer is a technical no-bid (no-bid reason 1), not an invalid
	// request.
	ErrNoCurrency = errors.New("gavel: no auction currency")

	// ErrClosed is returned by Run once the Auction is closed (Close).
	ErrClosed = errors.New("gavel: auction closed")

	// ErrNotWinner is wrapped by the error Result.Billing returns for an
	// index out of range or a bid that did not win.
	ErrNotWinner = errors.New("gavel: not a winning bid")

	// ErrInvalidOption is wrapped by the error New returns when an option's
	// value is out of range or two options contradict each other.
	ErrInvalidOption = errors.New("gavel: invalid option")

	// ErrBidderTimeout is the BidderResult.Err of a bidder that did not answer
	// by its deadline.
	ErrBidderTimeout = errors.New("gavel: bidder timed out")

	// ErrBidderPanic is wrapped by the *PanicError of a bidder whose Bid panicked.
	ErrBidderPanic = errors.New("gavel: bidder panicked")

	// ErrInvalidResponse is wrapped by the BidderResult.Err of a bidder whose
	// response as a whole was unusable (wrong id, unreadable body, ...).
	ErrInvalidResponse = errors.New("gavel: invalid bid response")

	// ErrHTTPStatus is wrapped by the *HTTPStatusError an HTTP bidder returns
	// for a response status other than 200 and 204.
	ErrHTTPStatus = errors.New("gavel: unexpected http status")

	// ErrResponseTooLarge is returned by an HTTP bidder whose response body
	// exceeds its size cap. The body is not read past the cap.
	ErrResponseTooLarge = errors.New("gavel: bid response too large")

	// ErrNoProfile is returned by a ProfileStore that has no profile for a key.
	ErrNoProfile = errors.New("gavel: no profile")

	// ErrNoRate is returned by a CurrencyConverter that has no rate for a pair.
	ErrNoRate = errors.New("gavel: no exchange rate")

	// ErrBudgetExhausted is returned by Ledger.Reserve when the account
	// cannot cover the amount: its committed and reserved money plus the
	// amount would exceed its budget. Nothing changes. A MemoryLedger also
	// returns an error wrapping it when a shard keeps as many holds as its
	// hold IDs can number (about 67 million with the default shards).
	ErrBudgetExhausted = errors.New("gavel: budget exhausted")

	// ErrNoTime is the error a BudgetHook is told of when the auction's
	// deadline came before a winner's cost could be reserved; the Ledger
	// was not called. A remote Ledger may return an error wrapping it for
	// a reservation it did not send, the deadline being too near for the
	// reply to come in time.
	ErrNoTime = errors.New("gavel: no time left to reserve")

	// ErrBudgetPending may be wrapped by the error of a Ledger.Reserve
	// refused for money that is not available yet but may come: a
	// remote ledger's local share of the budget (a lease) is held, and its
	// refill has not come. It says nothing of the account's budget; the
	// bid loses with LossBudgetPending.
	ErrBudgetPending = errors.New("gavel: budget not available yet")

	// ErrUnknownAccount is returned by Ledger.Reserve and
	// BalanceReader.Balance for an account that has no budget.
	ErrUnknownAccount = errors.New("gavel: unknown account")

	// ErrHoldNotFound is returned by Ledger.Commit and Ledger.Release for a
	// hold that the ledger does not know (any more): it expired before it
	// was ended, its tombstone expired, or it never existed. Nothing
	// changes. ErrHoldCommitted and ErrHoldReleased wrap it, so that a
	// caller that only asks whether the hold is still there to end treats
	// a hold ended by another call as gone.
	ErrHoldNotFound = errors.New("gavel: hold not found")

	// ErrHoldCommitted is returned by Ledger.Release for a hold that was
	// committed, while its tombstone lives: the money was billed. Auction.Commit
	// returns it too for a hold that an earlier call committed (a retry whose
	// first answer was lost, or a second notice), having billed, told the
	// pacer and emitted nothing. It wraps ErrHoldNotFound. Nothing changes.
	ErrHoldCommitted error = &holdEndedError{"gavel: hold already committed"}

	// ErrHoldReleased is returned by Ledger.Commit for a hold that was
	// released, while its tombstone lives: nothing was billed. Auction.Release
	// returns it too for a hold that an earlier call released. It wraps
	// ErrHoldNotFound. Nothing changes.
	ErrHoldReleased error = &holdEndedError{"gavel: hold already released"}

	// ErrCommitExceedsHold is returned by Ledger.Commit when the amount to
	// bill is negative or more than the hold's amount. Nothing changes; the
	// hold still lives.
	ErrCommitExceedsHold = errors.New("gavel: commit exceeds hold")

	// ErrInvalidReservation is returned by Ledger.Reserve for an amount or
	// a ttl that is not positive. Nothing changes.
	ErrInvalidReservation = errors.New("gavel: invalid reservation")

	// ErrInvalidBudget is wrapped by the error Budget.Validate returns, and
	// every SetBudget with it (BudgetSetter, Auction.SetBudget), for a
	// Budget that cannot be kept: an empty account, a negative amount, a
	// daily period whose Reset is outside [0, 24h), a flight without both
	// ends or whose end is not after its start. Nothing changes.
	ErrInvalidBudget = errors.New("gavel: invalid budget")

	// ErrInvalidPacing is wrapped by the error a Pacer's SetBudget (and
	// Auction.SetBudget, WithBudgets, with a Pacer that takes budgets)
	// returns for a valid Budget it cannot pace: a total budget, with no
	// end to spread it over, and PacingEven. Nothing changes.
	ErrInvalidPacing = errors.New("gavel: invalid pacing budget")

	// ErrNoBudgetSetter is returned by Auction.SetBudget when neither the
	// Ledger nor the Pacer of the Auction takes budgets (BudgetSetter).
	ErrNoBudgetSetter = errors.New("gavel: neither the ledger nor the pacer takes budgets")

	// ErrSinkFull is returned by AsyncSink.Write when the events do not all
	// fit in its queue. None of them is queued; they are counted as dropped.
	ErrSinkFull = errors.New("gavel: event sink queue full")

	// ErrSinkClosed is returned by AsyncSink.Write once Close has been
	// called. The events are not queued; they are counted as dropped.
	ErrSinkClosed = errors.New("gavel: event sink closed")
)

// holdEndedError is ErrHoldCommitted and ErrHoldReleased.
type holdEndedError struct{ msg string }

func (e *holdEndedError) Error() string { return e.msg }

// Unwrap returns ErrHoldNotFound.
func (e *holdEndedError) Unwrap() error { return ErrHoldNotFound }

// RequestError is returned by Run for a bid request it refuses. It wraps
// ErrInvalidRequest and carries the OpenRTB no-bid reason to answer with.
type RequestError struct {
	Reason openrtb3.NoBidReason // no-bid reason for the response; 2 for invalid requests
	Msg    string               // every problem, joined by "; "
	// Problems lists what is wrong, each on its own, in the order of the
	// request: `imp[1]: duplicate id "2"`.
	Problems []string
}

func (e *RequestError) Error() string { return "gavel: invalid bid request: " + e.Msg }

// Unwrap returns ErrInvalidRequest.
func (e *RequestError) Unwrap() error { return ErrInvalidRequest }

func invalidRequest(format string, args ...any) error {
	var p requestProblems
	p.add(format, args...)
	return p.err()
}

// requestProblems collects what is wrong with a request, so that Run
// reports every problem at once. A valid request costs nothing.
type requestProblems []string

func (p *requestProblems) add(format string, args ...any) {
	*p = append(*p, fmt.Sprintf(format, args...))
}

// err returns the *RequestError listing the problems, or nil.
func (p requestProblems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &RequestError{Reason: openrtb3.NoBidInvalidRequest, Msg: strings.Join(p, "; "), Problems: p}
}

// CurrencyError is returned by Run, with a nil Result and no bidder called,
// for a valid request whose floors no currency of its cur (USD when it has
// none) can hold: each currency lacks a rate from some imp floor's currency
// (OpenRTB 2.6 §3.2.1 cur, §3.2.4 bidfloorcur). Answer it with a technical
// no-bid: its Reason is 1. It wraps ErrNoCurrency and each conversion error
// (which wrap ErrNoRate, or are the CurrencyConverter's own).
type CurrencyError struct {
	Reason openrtb3.NoBidReason // openrtb3.NoBidTechnicalError
	// Tried lists the currencies tried, in the order of the request's cur,
	// and Errs[i] says why Tried[i] could not hold the auction: the first
	// imp floor without a rate to it.
	Tried []string
	Errs  []error
}

func (e *CurrencyError) Error() string {
	var b strings.Builder
	b.WriteString("gavel: no auction currency:")
	for i, cur := range e.Tried {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(" " + cur + ": ")
		if i < len(e.Errs) && e.Errs[i] != nil {
			b.WriteString(strings.TrimPrefix(e.Errs[i].Error(), "gavel: "))
		}
	}
	return b.String()
}

// Unwrap returns ErrNoCurrency and the conversion errors.
func (e *CurrencyError) Unwrap() []error {
	return append([]error{ErrNoCurrency}, e.Errs...)
}

// PanicError is the BidderResult.Err of a bidder whose Bid panicked. The
// panic is recovered in the bidder's goroutine; the process keeps running.
type PanicError struct {
	Bidder string // the bidder's Name
	Value  any    // the value passed to panic
	Stack  []byte // the goroutine's stack at the panic, as runtime/debug.Stack prints it
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("gavel: bidder %q panicked: %v", e.Bidder, e.Value)
}

// Unwrap returns ErrBidderPanic.
func (e *PanicError) Unwrap() error { return ErrBidderPanic }

// HTTPStatusError is returned by an HTTP bidder for a status other than 200
// or 204. It wraps ErrHTTPStatus.
type HTTPStatusError struct {
	StatusCode int
}

func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("gavel: unexpected http status %d", e.StatusCode)
}

// Unwrap returns ErrHTTPStatus.
func (e *HTTPStatusError) Unwrap() error { return ErrHTTPStatus }

// ErrNoLedger is returned by Auction.Commit and Auction.Release when the
// Auction has no Ledger (WithLedger).
var ErrNoLedger = errors.New("gavel: auction has no ledger")

// contextError is an error with the context it happened in. Its message
// carries the "gavel: " prefix once, however many gavel errors it wraps.
type contextError struct {
	msg string
	err error
}

func (e *contextError) Error() string { return e.msg }
func (e *contextError) Unwrap() error { return e.err }

// withContext wraps err with the context that format and args describe:
// "gavel: <context>: <err without its own gavel: prefix>".
func withContext(err error, format string, args ...any) error {
	return &contextError{msg: "gavel: " + fmt.Sprintf(format, args...) + ": " + strings.TrimPrefix(err.Error(), "gavel: "), err: err}
}
