package gavel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// refusingLedger and refusingPacer refuse every budget with err.
type refusingLedger struct {
	*gavel.MemoryLedger
	err error
}

func (l refusingLedger) SetBudget(context.Context, gavel.Budget) error { return l.err }

type refusingPacer struct {
	*gavel.EvenPacer
	err error
}

func (p refusingPacer) SetBudget(context.Context, gavel.Budget) error { return p.err }

// plainLedger is a Ledger that does not take budgets.
type plainLedger struct{ gavel.Ledger }

func TestWithBudgets(t *testing.T) {
	clock := auctiontest.NewClock(simDay.Add(9 * time.Hour))
	ledger := must(gavel.NewMemoryLedger(gavel.WithLedgerClock(clock)))
	pacer := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock)))
	day := gavel.DailyPeriod(time.UTC, 0)
	res := runAuction(t, auctiontest.Request("auc-1", auctiontest.BannerImp("1", 0)),
		gavel.WithBidders(auctiontest.Fixed("dsp", auctiontest.Bid("b1", "1", 2.00))),
		gavel.WithLedger(ledger), gavel.WithPacer(pacer),
		gavel.WithBudgets(gavel.Budget{Account: "dsp", Amount: 1_500_000, Period: day}),
		gavel.WithBudgets(gavel.Budget{Account: "flight", Amount: 700_000,
			Start: simDay, End: simDay.Add(48 * time.Hour), Pacing: gavel.PacingASAP}),
	)
	require.NotEqual(t, -1, res.Imps[0].Winner, "the account has its budget in the ledger")

	b, err := ledger.Balance(t.Context(), "dsp")
	require.NoError(t, err)
	// Alone, the bid clears at 0.01 CPM: 10 micros held.
	assert.Equal(t, gavel.Balance{Budget: 1_500_000, Reserved: 10, PeriodStart: simDay}, b)
	// Declared at 09:00: the 1.5M spread over the 15 hours left, 100k an hour.
	assert.Equal(t, int64(300_000), pacer.Target("dsp", simDay.Add(12*time.Hour)))
	assert.Equal(t, int64(750_000), pacer.Target("dsp", simDay.Add(36*time.Hour)), "the next day, the whole curve")

	b, err = ledger.Balance(t.Context(), "flight")
	require.NoError(t, err)
	assert.Equal(t, gavel.Balance{Budget: 700_000}, b, "a flight is a total budget to the ledger")
	assert.Equal(t, int64(700_000), pacer.Target("flight", simDay.Add(12*time.Hour)), "spent as fast as it goes")
}

func TestNewBudgetErrors(t *testing.T) {
	ledger := must(gavel.NewMemoryLedger())
	pacer := must(gavel.NewEvenPacer())
	day := gavel.DailyPeriod(time.UTC, 0)
	total := gavel.Budget{Account: "a", Amount: 1_000}
	tests := []struct {
		name string
		opts []gavel.Option
		want []error // nil: New succeeds
		msgs []string
	}{
		{"no one takes budgets", []gavel.Option{gavel.WithBudgets(total)},
			[]error{gavel.ErrInvalidOption}, []string{"neither the ledger nor the pacer takes budgets"}},
		{"a ledger that does not take budgets", []gavel.Option{gavel.WithLedger(plainLedger{ledger}), gavel.WithBudgets(total)},
			[]error{gavel.ErrInvalidOption}, []string{"neither the ledger nor the pacer"}},
		{"declared twice", []gavel.Option{gavel.WithLedger(ledger),
			gavel.WithBudgets(total), gavel.WithBudgets(gavel.Budget{Account: "a", Amount: 5})},
			[]error{gavel.ErrInvalidOption}, []string{`budget for "a" declared twice`}},
		{"invalid budgets, all reported", []gavel.Option{gavel.WithLedger(ledger),
			gavel.WithBudgets(gavel.Budget{Account: "a", Amount: -1}, gavel.Budget{Amount: 1})},
			[]error{gavel.ErrInvalidOption, gavel.ErrInvalidBudget}, []string{"budget 0: ", "negative amount -1", "budget 1: ", "empty account"}},
		{"a total budget paced evenly", []gavel.Option{gavel.WithLedger(ledger), gavel.WithPacer(pacer), gavel.WithBudgets(total)},
			[]error{gavel.ErrInvalidOption, gavel.ErrInvalidPacing}, []string{"no end to spread it over"}},
		{"a total budget, ledger only", []gavel.Option{gavel.WithLedger(ledger), gavel.WithBudgets(total)}, nil, nil},
		{"a total budget, ASAP", []gavel.Option{gavel.WithLedger(ledger), gavel.WithPacer(pacer),
			gavel.WithBudgets(gavel.Budget{Account: "b", Amount: 1_000, Pacing: gavel.PacingASAP})}, nil, nil},
		{"a daily budget, pacer only", []gavel.Option{gavel.WithPacer(pacer),
			gavel.WithBudgets(gavel.Budget{Account: "c", Amount: 1_000, Period: day})}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := gavel.New(tt.opts...)
			if tt.want == nil {
				require.NoError(t, err)
				require.NoError(t, a.Close(t.Context()))
				return
			}
			assert.Nil(t, a)
			for _, want := range tt.want {
				require.ErrorIs(t, err, want)
			}
			for _, msg := range tt.msgs {
				assert.Contains(t, err.Error(), msg)
			}
		})
	}
	_, err := ledger.Balance(t.Context(), "a")
	assert.NoError(t, err, "set by the New that succeeded")
	assert.Zero(t, pacer.Target("a", time.Now()), "no New that failed validation changed anything")
}

// TestNewBudgetSetterFails has the ledger refuse a budget: New returns
// its error and no Auction, and the pacer is left as it was.
func TestNewBudgetSetterFails(t *testing.T) {
	down := errors.New("ledger down")
	pacer := must(gavel.NewEvenPacer())
	a, err := gavel.New(
		gavel.WithLedger(refusingLedger{must(gavel.NewMemoryLedger()), down}),
		gavel.WithPacer(pacer),
		gavel.WithBudgets(gavel.Budget{Account: "a", Amount: 1_000, Period: gavel.DailyPeriod(nil, 0)}),
	)
	require.ErrorIs(t, err, down)
	assert.Regexp(t, `^gavel: the ledger did not take the budget of "a": ledger down$`, err.Error())
	assert.Nil(t, a)
	assert.Zero(t, pacer.Target("a", time.Now().Add(time.Hour)), "the pacer did not get the budget")
}

func TestAuctionSetBudget(t *testing.T) {
	day := gavel.DailyPeriod(time.UTC, 0)
	ctx := t.Context()
	clock := auctiontest.NewClock(simDay)
	newPair := func() (*gavel.MemoryLedger, *gavel.EvenPacer) {
		return must(gavel.NewMemoryLedger(gavel.WithLedgerClock(clock))), must(gavel.NewEvenPacer(gavel.WithPacerClock(clock)))
	}

	t.Run("both", func(t *testing.T) {
		ledger, pacer := newPair()
		a := mustAuction(t, gavel.WithLedger(ledger), gavel.WithPacer(pacer))
		require.NoError(t, a.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 2_400, Period: day}))
		require.NoError(t, a.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 4_800, Period: day}), "a change")
		b, err := ledger.Balance(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, int64(4_800), b.Budget)
		assert.Equal(t, int64(2_400), pacer.Target("a", simDay.Add(12*time.Hour)))
	})
	t.Run("invalid", func(t *testing.T) {
		ledger, pacer := newPair()
		a := mustAuction(t, gavel.WithLedger(ledger), gavel.WithPacer(pacer))
		require.ErrorIs(t, a.SetBudget(ctx, gavel.Budget{Account: "a", Amount: -5, Period: day}), gavel.ErrInvalidBudget)
		require.ErrorIs(t, a.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 5}), gavel.ErrInvalidPacing,
			"the pacer would refuse it: the ledger does not get it either")
		_, err := ledger.Balance(ctx, "a")
		require.ErrorIs(t, err, gavel.ErrUnknownAccount)
		assert.Zero(t, pacer.Target("a", simDay.Add(time.Hour)))
	})
	t.Run("done ctx", func(t *testing.T) {
		ledger, pacer := newPair()
		a := mustAuction(t, gavel.WithLedger(ledger), gavel.WithPacer(pacer))
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		require.ErrorIs(t, a.SetBudget(canceled, gavel.Budget{Account: "a", Amount: 5, Period: day}), context.Canceled)
		_, err := ledger.Balance(ctx, "a")
		require.ErrorIs(t, err, gavel.ErrUnknownAccount)
		assert.Zero(t, pacer.Target("a", simDay.Add(time.Hour)))
	})
	t.Run("the ledger fails", func(t *testing.T) {
		down := errors.New("down")
		_, pacer := newPair()
		a := mustAuction(t, gavel.WithLedger(refusingLedger{must(gavel.NewMemoryLedger()), down}), gavel.WithPacer(pacer))
		err := a.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 2_400, Period: day})
		require.ErrorIs(t, err, down)
		assert.Zero(t, pacer.Target("a", simDay.Add(time.Hour)), "the pacer is not changed")
	})
	t.Run("the pacer fails", func(t *testing.T) {
		down := errors.New("down")
		ledger, pacer := newPair()
		a := mustAuction(t, gavel.WithLedger(ledger), gavel.WithPacer(refusingPacer{pacer, down}))
		err := a.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 2_400, Period: day})
		require.ErrorIs(t, err, down)
		assert.Equal(t, `gavel: the ledger took the budget of "a", but the pacer did not: down`, err.Error())
		b, err := ledger.Balance(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, int64(2_400), b.Budget)
	})
	t.Run("only the pacer", func(t *testing.T) {
		_, pacer := newPair()
		a := mustAuction(t, gavel.WithLedger(plainLedger{must(gavel.NewMemoryLedger())}), gavel.WithPacer(pacer))
		require.NoError(t, a.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 2_400, Period: day}))
		assert.Equal(t, int64(1_200), pacer.Target("a", simDay.Add(12*time.Hour)))
	})
	t.Run("no one takes budgets", func(t *testing.T) {
		a := mustAuction(t, gavel.WithPacer(gavel.ASAP()))
		require.ErrorIs(t, a.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1, Period: day}), gavel.ErrNoBudgetSetter)
	})
}

func TestBudgetValidate(t *testing.T) {
	day := simDay
	tests := []struct {
		name string
		b    gavel.Budget
		msgs []string // empty: valid
	}{
		{"total", gavel.Budget{Account: "a", Amount: 0}, nil},
		{"daily", gavel.Budget{Account: "a", Amount: 1, Period: gavel.DailyPeriod(time.UTC, 23*time.Hour)}, nil},
		{"flight", gavel.Budget{Account: "a", Amount: 1, Start: day, End: day.Add(time.Second), Pacing: gavel.PacingASAP}, nil},
		{"zero", gavel.Budget{}, []string{"empty account"}},
		{"everything wrong", gavel.Budget{Amount: -1, Period: gavel.DailyPeriod(nil, -time.Hour), End: day, Pacing: 9},
			[]string{"empty account", "negative amount -1", "daily reset -1h0m0s", "needs both a start and an end", "unknown pacing 9"}},
		{"flight ends first", gavel.Budget{Account: "a", Start: day, End: day.Add(-1)}, []string{"not after its start"}},
		{"daily flight", gavel.Budget{Account: "a", Start: day, End: day.Add(1), Period: gavel.DailyPeriod(nil, 0)},
			[]string{"a flight's period is total"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.b.Validate()
			if len(tt.msgs) == 0 {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, gavel.ErrInvalidBudget)
			assert.Regexp(t, `^gavel: invalid budget: `, err.Error())
			for _, msg := range tt.msgs {
				assert.Contains(t, err.Error(), msg)
			}
		})
	}
	assert.Equal(t, "even", gavel.PacingEven.String())
	assert.Equal(t, "asap", gavel.PacingASAP.String())
	assert.Equal(t, "Pacing(7)", gavel.Pacing(7).String())
}

// TestEvenPacerASAP paces nothing for an ASAP budget, but counts its spend
// and learns its demand, for the day it turns to even pacing.
func TestEvenPacerASAP(t *testing.T) {
	ctx := t.Context()
	clock := auctiontest.NewClock(simDay)
	p := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock)))
	day := gavel.DailyPeriod(time.UTC, 0)
	require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_440_000, Period: day, Pacing: gavel.PacingASAP}))
	require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: "total", Amount: 1_000, Pacing: gavel.PacingASAP}))
	for range 10 {
		p.Spend(ctx, "a", 3_000) // three times the pace of an even budget
		p.Spend(ctx, "total", 3_000)
		clock.Advance(time.Minute)
	}
	p.Spend(ctx, "a", 0)
	p.Spend(ctx, "total", 0)
	assert.Equal(t, 1.0, p.Rate("a"), "far ahead, but ASAP")
	assert.Equal(t, 1.0, p.Rate("total"))
	assert.Equal(t, int64(1_440_000), p.Target("a", simDay.Add(time.Hour)))
	assert.Equal(t, int64(1_000), p.Target("total", simDay.Add(time.Hour)))

	// Turned to even pacing at 00:10, with 30000 spent: the rest is spread
	// over the rest of the day, at the demand learned, 3000 a minute at p = 1.
	require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_440_000, Period: day}))
	assert.Equal(t, int64(30_000), p.Target("a", clock.Now()))
	assert.InDelta(t, (1_440_000-30_000)/1430.0/3_000, p.Rate("a"), 1e-9)
}
