package auctiontest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
)

// LedgerUnderTest is a gavel.Ledger for TestLedger to check, with what the
// test needs to read its state and, optionally, to set budgets and time.
type LedgerUnderTest struct {
	// Ledger has accounts "a" and "b", each with a total budget of 1,000
	// micros, and "many", with a total budget of 200,000 micros, all with
	// nothing committed or reserved.
	Ledger gavel.Ledger

	// Balance returns an account's balance while the test still uses
	// Ledger, or is nil for a ledger that cannot tell it exactly before
	// Settle (a lease-mode ledger, whose spend reaches the store later).
	// TestLedger also calls it from a goroutine of its own while others
	// use Ledger, so it reports problems with t.Error, not t.Fatal.
	Balance func(t testing.TB, account string) gavel.Balance

	// Settle returns an account's balance once the test is done with
	// Ledger. It may close Ledger, and may be called for several accounts
	// in turn.
	Settle func(t testing.TB, account string) gavel.Balance

	// SettleEndsHolds says that Settle ends the holds still outstanding
	// (as closing a lease-mode ledger does): a settled balance then has
	// nothing reserved.
	SettleEndsHolds bool

	// SetBudget, if not nil, creates or changes an account's budget with
	// the semantics of gavel.MemoryLedger.SetBudget, as the ledger's own
	// SetBudget (gavel.BudgetSetter) does: pass that method here, and
	// TestLedger checks budget changes too, flights and invalid budgets
	// included. Leave it nil for a ledger that learns of a change later (a
	// lease-mode ledger spends the lease it holds until the lease is
	// renewed).
	SetBudget func(ctx context.Context, b gavel.Budget) error

	// Clock, if not nil, is the clock by which the ledger tells its daily
	// periods apart; newLedger starts it at time.Now(), since the cases
	// that leave it alone check Hold.Expires against real time. With
	// SetBudget, TestLedger then sets it to check that a daily budget turns
	// over when the day starts in its time zone, on the days daylight
	// saving time starts and ends too. Leave it nil for a ledger that may
	// count a commit in a later period than its own.
	Clock *Clock

	// HoldClock, if not nil, is the clock by which the ledger's holds
	// expire, when that is neither Clock nor the real time (a lease-mode
	// ledger's holds expire by its own clock). TestLedger moves it, Clock
	// and the real time past a hold's expiry to check that an expired hold
	// is not found.
	HoldClock *Clock
}

// TestLedger checks that a gavel.Ledger implementation keeps the semantics
// of the interface: Reserve's errors (ErrBudgetExhausted, ErrUnknownAccount,
// ErrInvalidReservation) leave the state unchanged; Commit bills at most the
// hold and returns the rest; Release returns it all; a hold ends once, and
// ending it again returns the first outcome (nil for a repeat,
// ErrHoldCommitted or ErrHoldReleased for the other end) and moves no money;
// an expired or forged hold is refused with ErrHoldNotFound, or
// ErrUnknownAccount for an account without a budget, changing nothing; a
// call with a done ctx returns ctx.Err() and changes nothing; and many
// goroutines reserving at once never overspend, nor does the balance read
// meanwhile (with Balance, or else with the ledger's own Balance if it is a
// gavel.BalanceReader) ever show more spent than the budget. A
// gavel.BatchLedger's ReserveBatch must make each reservation on its own,
// in order on one account, and change nothing with a done ctx. With
// SetBudget it checks budget changes, and with Clock too, daily periods.
//
// newLedger is called for every subtest and must return a fresh ledger
// set up as LedgerUnderTest says. forgedIDs alter a hold's ID in ways the
// ledger must refuse, beyond those TestLedger tries on every ledger (the
// next ID, the zero hold, another account or amount).
func TestLedger(t *testing.T, newLedger func(t *testing.T) LedgerUnderTest, forgedIDs ...func(id uint64) uint64) {
	t.Run("reserve", func(t *testing.T) { testLedgerReserve(t, newLedger) })
	t.Run("commit and release", func(t *testing.T) { testLedgerEnd(t, newLedger, forgedIDs) })
	t.Run("expired hold", func(t *testing.T) { testLedgerExpired(t, newLedger(t)) })
	t.Run("context done", func(t *testing.T) { testLedgerContextDone(t, newLedger) })
	t.Run("reserve batch", func(t *testing.T) { testLedgerReserveBatch(t, newLedger) })
	t.Run("budget changes", func(t *testing.T) { testLedgerBudgetChanges(t, newLedger(t)) })
	t.Run("concurrent reservations", func(t *testing.T) {
		for _, yield := range []bool{false, true} {
			t.Run(fmt.Sprintf("yield=%v", yield), func(t *testing.T) { testLedgerConcurrent(t, newLedger(t), yield) })
		}
	})
	t.Run("daily periods", func(t *testing.T) {
		t.Run("across daylight saving time", func(t *testing.T) { testLedgerDaily(t, newLedger(t)) })
		t.Run("budget changes", func(t *testing.T) { testLedgerDailyChanges(t, newLedger(t)) })
	})
}

func testLedgerReserve(t *testing.T, newLedger func(t *testing.T) LedgerUnderTest) {
	tests := []struct {
		name    string
		account string
		amount  int64
		ttl     time.Duration
		wantErr error
	}{
		{"fits exactly", "a", 600, time.Second, nil},
		{"one micro too many", "a", 601, time.Second, gavel.ErrBudgetExhausted},
		{"unknown account", "nobody", 1, time.Second, gavel.ErrUnknownAccount},
		{"zero amount", "a", 0, time.Second, gavel.ErrInvalidReservation},
		{"negative amount", "a", -1, time.Second, gavel.ErrInvalidReservation},
		{"zero ttl", "a", 1, 0, gavel.ErrInvalidReservation},
		{"negative ttl", "a", 1, -time.Second, gavel.ErrInvalidReservation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			before := time.Now() // the ledger's Clock, if any, starts later
			ut := newLedger(t)
			l := ut.Ledger
			h, err := l.Reserve(ctx, "a", 400, time.Minute)
			must(t, err)
			must(t, l.Commit(ctx, h, 400))

			h, err = l.Reserve(ctx, tt.account, tt.amount, tt.ttl)
			after := time.Now()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Reserve: got %v, want %v", err, tt.wantErr)
				}
				equal(t, "the refused hold", gavel.Hold{}, h)
				equal(t, "balance after a refusal", gavel.Balance{Budget: 1_000, Committed: 400}, ut.Settle(t, "a"))
				return
			}
			must(t, err)
			equal(t, "account", tt.account, h.Account)
			equal(t, "amount", tt.amount, h.Amount)
			// Expires is ttl from the ledger's now (to the millisecond for a
			// ledger that keeps milliseconds), which is after before.
			if h.Expires.Before(before.Add(tt.ttl-time.Millisecond)) || h.Expires.After(after.Add(tt.ttl+time.Millisecond)) {
				t.Errorf("Expires %v, want ttl %v from a time between %v and %v", h.Expires, tt.ttl, before, after)
			}
			if ut.Balance != nil {
				equal(t, "balance with the hold", gavel.Balance{Budget: 1_000, Committed: 400, Reserved: 600}, ut.Balance(t, "a"))
			}
			must(t, l.Commit(ctx, h, 600))
			equal(t, "balance", gavel.Balance{Budget: 1_000, Committed: 1_000}, ut.Settle(t, "a"))
		})
	}
}

type ledgerStep struct {
	commit  bool  // Commit(actual), else Release
	actual  int64 // for Commit
	forge   func(gavel.Hold) gavel.Hold
	wantErr error
}

func testLedgerEnd(t *testing.T, newLedger func(t *testing.T) LedgerUnderTest, forgedIDs []func(uint64) uint64) {
	tests := []struct {
		name  string
		steps []ledgerStep
		want  gavel.Balance // of "a" after the steps; the hold held 500 of 1000
	}{
		{"commit all", []ledgerStep{{commit: true, actual: 500}}, gavel.Balance{Budget: 1_000, Committed: 500}},
		{"commit part, the rest returns", []ledgerStep{{commit: true, actual: 120}}, gavel.Balance{Budget: 1_000, Committed: 120}},
		{"commit nothing", []ledgerStep{{commit: true, actual: 0}}, gavel.Balance{Budget: 1_000}},
		{"release", []ledgerStep{{}}, gavel.Balance{Budget: 1_000}},
		{"commit more than held", []ledgerStep{{commit: true, actual: 501, wantErr: gavel.ErrCommitExceedsHold}},
			gavel.Balance{Budget: 1_000, Reserved: 500}},
		{"commit negative", []ledgerStep{{commit: true, actual: -1, wantErr: gavel.ErrCommitExceedsHold}},
			gavel.Balance{Budget: 1_000, Reserved: 500}},
		{"hold lives on after a refused commit", []ledgerStep{
			{commit: true, actual: 501, wantErr: gavel.ErrCommitExceedsHold},
			{commit: true, actual: 500}}, gavel.Balance{Budget: 1_000, Committed: 500}},
		{"double commit", []ledgerStep{
			{commit: true, actual: 300},
			{commit: true, actual: 300}}, gavel.Balance{Budget: 1_000, Committed: 300}},
		{"double commit, another amount: the first stands", []ledgerStep{
			{commit: true, actual: 300},
			{commit: true, actual: 500},
			{commit: true, actual: 501},
			{commit: true, actual: 0}}, gavel.Balance{Budget: 1_000, Committed: 300}},
		{"double commit of nothing", []ledgerStep{{commit: true}, {commit: true, actual: 500}}, gavel.Balance{Budget: 1_000}},
		{"double release", []ledgerStep{{}, {}}, gavel.Balance{Budget: 1_000}},
		{"commit after release", []ledgerStep{{}, {commit: true, actual: 1, wantErr: gavel.ErrHoldReleased}, {}},
			gavel.Balance{Budget: 1_000}},
		{"release after commit", []ledgerStep{{commit: true, actual: 10}, {wantErr: gavel.ErrHoldCommitted}, {commit: true, actual: 10}},
			gavel.Balance{Budget: 1_000, Committed: 10}},
		{"commit after a refused commit and a release", []ledgerStep{
			{commit: true, actual: 501, wantErr: gavel.ErrCommitExceedsHold},
			{},
			{commit: true, actual: 500, wantErr: gavel.ErrHoldReleased}}, gavel.Balance{Budget: 1_000}},
		{"ended hold, other amount", []ledgerStep{
			{commit: true, actual: 10},
			{commit: true, actual: 10, forge: func(h gavel.Hold) gavel.Hold { h.Amount++; return h }, wantErr: gavel.ErrHoldNotFound},
			{forge: func(h gavel.Hold) gavel.Hold { h.Amount--; return h }, wantErr: gavel.ErrHoldNotFound}},
			gavel.Balance{Budget: 1_000, Committed: 10}},
		{"ended hold, other account", []ledgerStep{
			{},
			{forge: func(h gavel.Hold) gavel.Hold { h.Account = "b"; return h }, wantErr: gavel.ErrHoldNotFound},
			{forge: func(h gavel.Hold) gavel.Hold { h.Account = "nobody"; return h }, wantErr: gavel.ErrUnknownAccount}},
			gavel.Balance{Budget: 1_000}},
	}
	forged := map[string]func(gavel.Hold) gavel.Hold{
		"zero hold":       func(gavel.Hold) gavel.Hold { return gavel.Hold{} },
		"other account":   func(h gavel.Hold) gavel.Hold { h.Account = "b"; return h },
		"unknown account": func(h gavel.Hold) gavel.Hold { h.Account = "nobody"; return h },
		"other amount":    func(h gavel.Hold) gavel.Hold { h.Amount++; return h },
		"next id":         func(h gavel.Hold) gavel.Hold { h.ID++; return h },
	}
	for i, forge := range forgedIDs {
		forged[fmt.Sprintf("id %d", i)] = func(h gavel.Hold) gavel.Hold { h.ID = forge(h.ID); return h }
	}
	for name, f := range forged {
		wantErr := gavel.ErrHoldNotFound
		if name == "zero hold" || name == "unknown account" {
			wantErr = gavel.ErrUnknownAccount
		}
		for _, commit := range []bool{true, false} {
			tests = append(tests, struct {
				name  string
				steps []ledgerStep
				want  gavel.Balance
			}{fmt.Sprintf("forged %s, commit=%v", name, commit),
				[]ledgerStep{{commit: commit, actual: 1, forge: f, wantErr: wantErr}},
				gavel.Balance{Budget: 1_000, Reserved: 500}})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runLedgerSteps(t, newLedger(t), tt.steps, tt.want)
		})
	}
}

// runLedgerSteps reserves 500 on "a", runs the steps on the hold, and
// checks the settled balances of "a" (want) and "b" (untouched).
func runLedgerSteps(t *testing.T, ut LedgerUnderTest, steps []ledgerStep, want gavel.Balance) {
	t.Helper()
	ctx := context.Background()
	l := ut.Ledger
	h, err := l.Reserve(ctx, "a", 500, time.Minute)
	must(t, err)
	for i, s := range steps {
		held := h
		if s.forge != nil {
			held = s.forge(h)
		}
		if s.commit {
			err = l.Commit(ctx, held, s.actual)
		} else {
			err = l.Release(ctx, held)
		}
		switch {
		case s.wantErr != nil && !errors.Is(err, s.wantErr):
			t.Fatalf("step %d: got %v, want %v", i, err, s.wantErr)
		case s.wantErr == gavel.ErrHoldNotFound && (errors.Is(err, gavel.ErrHoldCommitted) || errors.Is(err, gavel.ErrHoldReleased)):
			t.Fatalf("step %d: got %v, want %v itself", i, err, s.wantErr)
		case s.wantErr == nil && err != nil:
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if ut.Balance != nil {
		equal(t, `balance of "a"`, want, ut.Balance(t, "a"))
	}
	if ut.SettleEndsHolds {
		want.Reserved = 0
	}
	equal(t, `settled balance of "a"`, want, ut.Settle(t, "a"))
	equal(t, `settled balance of "b"`, gavel.Balance{Budget: 1_000}, ut.Settle(t, "b"))
}

// testLedgerExpired lets a hold expire before it is ended: then it is not
// found, by Commit or Release, and its money is back.
func testLedgerExpired(t *testing.T, ut LedgerUnderTest) {
	ctx := context.Background()
	l := ut.Ledger
	const ttl = 20 * time.Millisecond
	h, err := l.Reserve(ctx, "a", 300, ttl)
	must(t, err)
	ended, err := l.Reserve(ctx, "a", 200, ttl)
	must(t, err)
	must(t, l.Commit(ctx, ended, 150))
	for _, c := range []*Clock{ut.Clock, ut.HoldClock} {
		if c != nil {
			c.Advance(2 * ttl)
		}
	}
	time.Sleep(2 * ttl)
	if err := l.Commit(ctx, h, 300); !errors.Is(err, gavel.ErrHoldNotFound) || errors.Is(err, gavel.ErrHoldReleased) {
		t.Errorf("Commit of an expired hold: got %v, want %v", err, gavel.ErrHoldNotFound)
	}
	if err := l.Release(ctx, h); !errors.Is(err, gavel.ErrHoldNotFound) || errors.Is(err, gavel.ErrHoldCommitted) {
		t.Errorf("Release of an expired hold: got %v, want %v", err, gavel.ErrHoldNotFound)
	}
	if ut.Balance != nil {
		equal(t, `balance of "a"`, gavel.Balance{Budget: 1_000, Committed: 150}, ut.Balance(t, "a"))
	}
	equal(t, `settled balance of "a"`, gavel.Balance{Budget: 1_000, Committed: 150}, ut.Settle(t, "a"))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func equal[T comparable](t testing.TB, what string, want, got T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
}
