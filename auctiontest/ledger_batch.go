package auctiontest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
)

// The cases of TestLedger for a gavel.BatchLedger: ReserveBatch makes each
// reservation on its own, in order on one account, overwrites holds and
// errs, and with a done ctx changes nothing.

// testLedgerReserveBatch runs the ReserveBatch cases, or skips them when
// the ledger is not a gavel.BatchLedger.
func testLedgerReserveBatch(t *testing.T, newLedger func(t *testing.T) LedgerUnderTest) {
	if _, ok := newLedger(t).Ledger.(gavel.BatchLedger); !ok {
		t.Skip("the ledger is not a gavel.BatchLedger")
	}
	t.Run("mixed outcomes", func(t *testing.T) { testBatchMixed(t, newLedger) })
	t.Run("one account in order", func(t *testing.T) { testBatchInOrder(t, newLedger) })
	t.Run("context done", func(t *testing.T) { testBatchContextDone(t, newLedger) })
	t.Run("empty", func(t *testing.T) {
		newLedger(t).Ledger.(gavel.BatchLedger).ReserveBatch(context.Background(), nil, nil, nil)
	})
}

// reserveBatch calls ReserveBatch with holds and errs that hold stale
// values, which it must overwrite.
func reserveBatch(ctx context.Context, l gavel.Ledger, rs []gavel.Reservation) ([]gavel.Hold, []error) {
	holds, errs := make([]gavel.Hold, len(rs)), make([]error, len(rs))
	for i := range rs {
		holds[i] = gavel.Hold{Account: "stale", ID: 1, Amount: 1}
		errs[i] = errors.New("stale")
	}
	l.(gavel.BatchLedger).ReserveBatch(ctx, rs, holds, errs)
	return holds, errs
}

// checkBatch checks the outcome of each reservation of rs: a hold of its
// account and amount that expires ttl from about now, or the error want[i]
// and no hold.
func checkBatch(t *testing.T, rs []gavel.Reservation, holds []gavel.Hold, errs, want []error, before time.Time) {
	t.Helper()
	after := time.Now()
	for i, r := range rs {
		if want[i] != nil {
			if !errors.Is(errs[i], want[i]) {
				t.Errorf("reservation %d (%d on %q): got %v, want %v", i, r.Amount, r.Account, errs[i], want[i])
			}
			equal(t, "the hold of a refused reservation", gavel.Hold{}, holds[i])
			continue
		}
		if errs[i] != nil {
			t.Errorf("reservation %d (%d on %q): %v", i, r.Amount, r.Account, errs[i])
			continue
		}
		h := holds[i]
		if h.Account != r.Account || h.Amount != r.Amount || h.ID == 0 {
			t.Errorf("reservation %d (%d on %q): hold %+v", i, r.Amount, r.Account, h)
		}
		if h.Expires.Before(before.Add(r.TTL-time.Millisecond)) || h.Expires.After(after.Add(r.TTL+time.Millisecond)) {
			t.Errorf("reservation %d: Expires %v, want ttl %v from a time between %v and %v", i, h.Expires, r.TTL, before, after)
		}
	}
}

// testBatchMixed reserves on "a" (fits), an unknown account, "b" (too
// much), "a" again (invalid), and "b" (fits what is left): each gets its
// own outcome, and the holds made can be committed and released.
func testBatchMixed(t *testing.T, newLedger func(t *testing.T) LedgerUnderTest) {
	ctx := context.Background()
	before := time.Now() // the ledger's Clock, if any, starts later
	ut := newLedger(t)
	rs := []gavel.Reservation{
		{Account: "a", Amount: 600, TTL: time.Minute},
		{Account: "nobody", Amount: 1, TTL: time.Minute},
		{Account: "b", Amount: 1_001, TTL: time.Minute},
		{Account: "a", Amount: 0, TTL: time.Minute},
		{Account: "b", Amount: 1_000, TTL: 2 * time.Minute},
	}
	want := []error{nil, gavel.ErrUnknownAccount, gavel.ErrBudgetExhausted, gavel.ErrInvalidReservation, nil}
	holds, errs := reserveBatch(ctx, ut.Ledger, rs)
	checkBatch(t, rs, holds, errs, want, before)
	if ut.Balance != nil {
		equal(t, `balance of "a"`, gavel.Balance{Budget: 1_000, Reserved: 600}, ut.Balance(t, "a"))
		equal(t, `balance of "b"`, gavel.Balance{Budget: 1_000, Reserved: 1_000}, ut.Balance(t, "b"))
	}
	if errs[0] == nil {
		must(t, ut.Ledger.Commit(ctx, holds[0], 250))
	}
	if errs[4] == nil {
		must(t, ut.Ledger.Release(ctx, holds[4]))
	}
	equal(t, `settled balance of "a"`, gavel.Balance{Budget: 1_000, Committed: 250}, ut.Settle(t, "a"))
	equal(t, `settled balance of "b"`, gavel.Balance{Budget: 1_000}, ut.Settle(t, "b"))
}

// testBatchInOrder makes four reservations on "a", which are made in the
// order of the batch: the third one no longer fits, the fourth, smaller,
// still does.
func testBatchInOrder(t *testing.T, newLedger func(t *testing.T) LedgerUnderTest) {
	ctx := context.Background()
	before := time.Now()
	ut := newLedger(t)
	rs := []gavel.Reservation{
		{Account: "a", Amount: 400, TTL: time.Minute},
		{Account: "a", Amount: 400, TTL: time.Minute},
		{Account: "a", Amount: 400, TTL: time.Minute},
		{Account: "a", Amount: 200, TTL: time.Minute},
	}
	holds, errs := reserveBatch(ctx, ut.Ledger, rs)
	checkBatch(t, rs, holds, errs, []error{nil, nil, gavel.ErrBudgetExhausted, nil}, before)
	if ut.Balance != nil {
		equal(t, `balance of "a"`, gavel.Balance{Budget: 1_000, Reserved: 1_000}, ut.Balance(t, "a"))
	}
	seen := map[uint64]bool{}
	for i, h := range holds {
		if errs[i] != nil {
			continue
		}
		if seen[h.ID] {
			t.Errorf("hold %d has the ID of another: %d", i, h.ID)
		}
		seen[h.ID] = true
		must(t, ut.Ledger.Commit(ctx, h, 100))
	}
	equal(t, `settled balance of "a"`, gavel.Balance{Budget: 1_000, Committed: 300}, ut.Settle(t, "a"))
}

// testBatchContextDone calls ReserveBatch with a done ctx: every error is
// ctx.Err(), no hold is made and nothing changes.
func testBatchContextDone(t *testing.T, newLedger func(t *testing.T) LedgerUnderTest) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancelExpired()
	for _, ctx := range []context.Context{canceled, expired} {
		t.Run(ctx.Err().Error(), func(t *testing.T) {
			ut := newLedger(t)
			rs := []gavel.Reservation{
				{Account: "a", Amount: 100, TTL: time.Minute},
				{Account: "nobody", Amount: 1, TTL: time.Minute},
				{Account: "b", Amount: -1, TTL: time.Minute}, // ctx is checked first
			}
			holds, errs := reserveBatch(ctx, ut.Ledger, rs)
			for i := range rs {
				equal(t, "error", ctx.Err(), errs[i])
				equal(t, "hold", gavel.Hold{}, holds[i])
			}
			equal(t, `settled balance of "a"`, gavel.Balance{Budget: 1_000}, ut.Settle(t, "a"))
		})
	}
}
