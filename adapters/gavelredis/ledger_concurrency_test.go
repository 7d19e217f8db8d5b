package gavelredis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// TestLedgerConcurrentReservations has 64 goroutines reserve on one
// account whose budget covers a quarter of their reservations, each
// committing part of its hold or releasing it, while another ledger on the
// same keys checks the balance in Redis. Committed + Reserved (which
// counts leases) never exceeds the budget, and every micro is accounted
// for at the end.
func TestLedgerConcurrentReservations(t *testing.T) {
	for _, mode := range ledgerModes {
		t.Run(fmt.Sprint("mode=", mode), func(t *testing.T) { testLedgerConcurrentReservations(t, mode) })
	}
}

func testLedgerConcurrentReservations(t *testing.T, mode Mode) {
	const (
		goroutines = 64
		each       = 40
		amount     = 1_000
		budget     = goroutines * each / 4 * amount
	)
	ctx := context.Background()
	c := ledgerClient(t)
	l := newTestLedger(t, c, WithLedgerMode(mode), WithLeaseSlice(20*amount), WithLeaseInterval(20*time.Millisecond))
	require.NoError(t, l.SetBudget(ctx, "acct", budget, gavel.Period{}))
	observer, err := NewLedger(c, WithKeyPrefix(l.cfg.prefix))
	require.NoError(t, err)
	defer func() { _ = observer.Close(ctx) }()

	var (
		start, done         = make(chan struct{}), make(chan struct{})
		workers, observers  sync.WaitGroup
		reserved, exhausted atomic.Int64
		committed           atomic.Int64
		observations        atomic.Int64
		errMu               sync.Mutex
		errs                []error
	)
	fail := func(err error) {
		errMu.Lock()
		if len(errs) < 10 {
			errs = append(errs, err)
		}
		errMu.Unlock()
	}
	observers.Add(1)
	go func() {
		defer observers.Done()
		for {
			b, err := observer.Balance(ctx, "acct")
			if err == nil && (b.Committed+b.Reserved > b.Budget || b.Reserved < 0 || b.Committed < 0) {
				err = fmt.Errorf("balance out of bounds: %+v", b)
			}
			if err != nil {
				fail(err)
			}
			observations.Add(1)
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	for g := range goroutines {
		workers.Add(1)
		go func() {
			defer workers.Done()
			<-start
			for i := range each {
				h, err := l.Reserve(ctx, "acct", amount, time.Minute)
				if errors.Is(err, gavel.ErrBudgetExhausted) {
					exhausted.Add(1)
					continue
				}
				if err != nil {
					fail(err)
					continue
				}
				reserved.Add(1)
				if n := g*each + i; n%2 == 0 { // half commit a part
					actual := int64(n*7919) % (amount + 1)
					if err := l.Commit(ctx, h, actual); err != nil {
						fail(err)
						continue
					}
					committed.Add(actual)
				} else if err := l.Release(ctx, h); err != nil {
					fail(err)
				}
			}
		}()
	}
	close(start)
	workers.Wait()
	close(done)
	observers.Wait()

	require.Empty(t, errs)
	assert.Positive(t, observations.Load())
	assert.Equal(t, int64(goroutines*each), reserved.Load()+exhausted.Load())
	assert.Positive(t, exhausted.Load(), "the holds of 64 goroutines at once, and what they bill, press against the budget")
	if mode == ModeStrict {
		// A refusal means committed+reserved > budget-amount, which takes
		// at least budget/amount successful reservations.
		assert.GreaterOrEqual(t, reserved.Load(), int64(budget/amount))
	}
	s := l.Stats()
	assert.Equal(t, reserved.Load(), s.Reserves)
	assert.Equal(t, exhausted.Load(), s.Refusals)
	assert.Zero(t, s.RedisErrors+s.Failures+s.LocalHolds)
	b := settled(t, l, "acct")
	assert.Equal(t, gavel.Balance{Budget: budget, Committed: committed.Load()}, b)
	t.Logf("mode=%v: %d reserved, %d refused, %d committed of %d, %d observations, %d lease refills, %d reports",
		mode, reserved.Load(), exhausted.Load(), b.Committed, budget, observations.Load(), s.LeaseRefills, s.LeaseReports)
}
