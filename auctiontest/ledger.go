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
// test needs to read its state.
type LedgerUnderTest struct {
	// Ledger has accounts "a" and "b", each with a total budget of 1,000
	// micros and nothing committed or reserved.
	Ledger gavel.Ledger

	// Balance returns an account's balance while the test still uses
	// Ledger, or is nil for a ledger that cannot tell it exactly before
	// Settle (a lease-mode ledger, whose spend reaches the store later).
	Balance func(t testing.TB, account string) gavel.Balance

	// Settle returns an account's balance once the test is done with
	// Ledger. It may close Ledger, and is called for "a", then "b".
	Settle func(t testing.TB, account string) gavel.Balance

	// SettleEndsHolds says that Settle ends the holds still outstanding
	// (as closing a lease-mode ledger does): a settled balance then has
	// nothing reserved.
	SettleEndsHolds bool
}

// TestLedger checks that a gavel.Ledger implementation keeps the semantics
// of the interface: Reserve's errors (ErrBudgetExhausted, ErrUnknownAccount,
// ErrInvalidReservation) leave the state unchanged; Commit bills at most the
// hold and returns the rest; Release returns it all; a hold ends once, and a
// forged or ended hold is refused with ErrHoldNotFound, changing nothing.
// newLedger is called for every subtest and must return a fresh ledger
// set up as LedgerUnderTest says. forgedIDs alter a hold's ID in ways the
// ledger must refuse, beyond those TestLedger tries on every ledger (the
// next ID, the zero hold, another account or amount).
func TestLedger(t *testing.T, newLedger func(t *testing.T) LedgerUnderTest, forgedIDs ...func(id uint64) uint64) {
	t.Run("reserve", func(t *testing.T) { testLedgerReserve(t, newLedger) })
	t.Run("commit and release", func(t *testing.T) { testLedgerEnd(t, newLedger, forgedIDs) })
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
			ut := newLedger(t)
			l := ut.Ledger
			h, err := l.Reserve(ctx, "a", 400, time.Minute)
			must(t, err)
			must(t, l.Commit(ctx, h, 400))

			start := time.Now()
			h, err = l.Reserve(ctx, tt.account, tt.amount, tt.ttl)
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
			if d := h.Expires.Sub(start.Add(tt.ttl)); d < -100*time.Millisecond || d > 100*time.Millisecond {
				t.Errorf("Expires %v, want about %v", h.Expires, start.Add(tt.ttl))
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
			{commit: true, actual: 300, wantErr: gavel.ErrHoldNotFound}}, gavel.Balance{Budget: 1_000, Committed: 300}},
		{"double release", []ledgerStep{{}, {wantErr: gavel.ErrHoldNotFound}}, gavel.Balance{Budget: 1_000}},
		{"commit after release", []ledgerStep{{}, {commit: true, actual: 1, wantErr: gavel.ErrHoldNotFound}}, gavel.Balance{Budget: 1_000}},
		{"release after commit", []ledgerStep{{commit: true, actual: 10}, {wantErr: gavel.ErrHoldNotFound}}, gavel.Balance{Budget: 1_000, Committed: 10}},
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
		for _, commit := range []bool{true, false} {
			tests = append(tests, struct {
				name  string
				steps []ledgerStep
				want  gavel.Balance
			}{fmt.Sprintf("forged %s, commit=%v", name, commit),
				[]ledgerStep{{commit: commit, actual: 1, forge: f, wantErr: gavel.ErrHoldNotFound}},
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
