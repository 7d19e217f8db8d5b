package gavel_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// simDay is the first day of the pacing simulations: a Monday in UTC, far
// from any daylight saving change.
var simDay = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// diurnal is the mean number of auctions per minute at minute m of a day:
// a smooth curve from 40 at 08:00 to 140 at 20:00, 90 on average.
func diurnal(m int) float64 {
	return 40 * (2.25 + 1.25*math.Cos(2*math.Pi*(float64(m)/1440-20.0/24)))
}

// diurnalHours returns the mean traffic of each hour of the day, the shape
// the traffic-shaped target follows.
func diurnalHours() []float64 {
	w := make([]float64, 24)
	for m := range 1440 {
		w[m/60] += diurnal(m)
	}
	return w
}

// simRow is one hour of a simulation: the target and actual cumulative
// spend at the end of the hour and the participation probability then.
type simRow struct {
	hour           int
	target, actual int64
	rate           float64
}

// simulate runs days of auctions for one account against pacer, moving
// clock from simDay on. Each minute has about diurnal(m) auctions, with
// noise; each auction the pacer allows wins and costs between 0.5 and 1.5
// times meanCost, unless that would take the spend past budget, as a strict
// ledger would refuse. target(h) is the expected cumulative spend after h
// hours. It returns one row per hour and the total spend.
func simulate(pacer *gavel.EvenPacer, clock *auctiontest.Clock, days int, budget int64, meanCost float64,
	target func(hour int) int64) ([]simRow, int64) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var spent int64
	rows := make([]simRow, 0, 24*days)
	for m := range 1440 * days {
		if m > 0 && m%60 == 0 {
			h := m / 60
			rows = append(rows, simRow{hour: h, target: target(h), actual: spent, rate: pacer.Rate("acme")})
		}
		minute := simDay.Add(time.Duration(m) * time.Minute)
		n := int(math.Round(diurnal(m%1440) * (0.85 + 0.3*rng.Float64())))
		for i := range n {
			clock.Set(minute.Add(time.Duration(i) * time.Minute / time.Duration(n)))
			if !pacer.Allow(ctx, "acme", rng.Uint64()) {
				continue
			}
			cost := int64(meanCost * (0.5 + rng.Float64()))
			if spent+cost > budget {
				continue // the ledger refuses: the next bid would win
			}
			spent += cost
			pacer.Spend(ctx, "acme", cost)
		}
	}
	h := 24 * days
	rows = append(rows, simRow{hour: h, target: target(h), actual: spent, rate: pacer.Rate("acme")})
	return rows, spent
}

func TestEvenPacerSimulation(t *testing.T) {
	const budget = 500_000_000 // 500.00 a day
	hours := diurnalHours()
	var dayTraffic float64
	cum := make([]float64, 25) // share of a day's traffic before each hour
	for h, w := range hours {
		dayTraffic += w
		cum[h+1] = cum[h] + w
	}
	for h := range cum {
		cum[h] /= dayTraffic
	}
	tests := []struct {
		name  string
		shape []float64
		days  int // 1: a daily budget; more: a flight of that many days
		curve func(hour int) float64
	}{
		{name: "daily/uniform", days: 1, curve: func(h int) float64 { return float64(h) / 24 }},
		{name: "daily/traffic-shape", shape: hours, days: 1, curve: func(h int) float64 { return cum[h] }},
		{name: "flight=3d/traffic-shape", shape: hours, days: 3, curve: func(h int) float64 {
			return (float64(h/24) + cum[h%24]) / 3
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if raceEnabled && tt.days > 1 {
				t.Skip("one goroutine: the race detector finds nothing here, and slows it tenfold")
			}
			clock := auctiontest.NewClock(simDay)
			pacer := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock), gavel.WithTrafficShape(tt.shape)))
			total := int64(budget * tt.days)
			if tt.days == 1 {
				require.NoError(t, pacer.SetBudget(t.Context(), gavel.Budget{Account: "acme", Amount: total, Period: gavel.DailyPeriod(time.UTC, 0)}))
			} else {
				require.NoError(t, pacer.SetBudget(t.Context(), gavel.Budget{Account: "acme", Amount: total, Start: simDay, End: simDay.Add(time.Duration(tt.days) * 24 * time.Hour)}))
			}
			// Full participation would spend three times the budget.
			meanCost := 3 * budget / (dayTraffic)
			target := func(h int) int64 { return int64(math.Round(float64(total) * tt.curve(h))) }
			rows, spent := simulate(pacer, clock, tt.days, total, meanCost, target)

			t.Logf("%4s %14s %14s %8s %7s", "hour", "target", "actual", "err%", "p")
			for _, r := range rows {
				errPct := 100 * float64(r.actual-r.target) / float64(total)
				t.Logf("%4d %14d %14d %+8.2f %7.4f", r.hour, r.target, r.actual, errPct, r.rate)
				assert.InDelta(t, r.target, r.actual, 0.05*float64(total), "hour %d", r.hour)
				if r.hour < 24*tt.days {
					at := simDay.Add(time.Duration(r.hour) * time.Hour)
					assert.InDelta(t, r.target, pacer.Target("acme", at), 2, "Target at hour %d", r.hour)
				}
			}
			t.Logf("spent %d of %d (%.2f%%)", spent, total, 100*float64(spent)/float64(total))
			assert.GreaterOrEqual(t, spent, total*97/100)
			assert.LessOrEqual(t, spent, total)
		})
	}
}

func TestASAP(t *testing.T) {
	p := gavel.ASAP()
	for _, draw := range []uint64{0, 1, 1 << 63, math.MaxUint64} {
		p.Spend(context.Background(), "acme", 1_000_000)
		assert.True(t, p.Allow(context.Background(), "acme", draw), "draw %#x", draw)
	}
}

func TestEvenPacerUnknownAccount(t *testing.T) {
	p := must(gavel.NewEvenPacer())
	p.Spend(context.Background(), "nobody", 1_000)
	assert.True(t, p.Allow(context.Background(), "nobody", 0))
	assert.True(t, p.Allow(context.Background(), "nobody", math.MaxUint64))
	assert.Equal(t, 1.0, p.Rate("nobody"))
	assert.Equal(t, int64(0), p.Target("nobody", time.Now()))
}

func TestEvenPacerSetBudgetErrors(t *testing.T) {
	p := must(gavel.NewEvenPacer())
	day := gavel.DailyPeriod(time.UTC, 0)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"negative budget", p.SetBudget(t.Context(), gavel.Budget{Account: "a", Amount: -1, Period: day}), gavel.ErrInvalidBudget},
		{"no account", p.SetBudget(t.Context(), gavel.Budget{Amount: 1, Period: day}), gavel.ErrInvalidBudget},
		{"total period", p.SetBudget(t.Context(), gavel.Budget{Account: "a", Amount: 1_000}), gavel.ErrInvalidPacing},
		{"negative flight budget", p.SetBudget(t.Context(), gavel.Budget{Account: "a", Amount: -1, Start: simDay, End: simDay.Add(time.Hour)}), gavel.ErrInvalidBudget},
		{"empty flight", p.SetBudget(t.Context(), gavel.Budget{Account: "a", Amount: 1_000, Start: simDay, End: simDay}), gavel.ErrInvalidBudget},
		{"flight ends before start", p.SetBudget(t.Context(), gavel.Budget{Account: "a", Amount: 1_000, Start: simDay, End: simDay.Add(-time.Hour)}), gavel.ErrInvalidBudget},
		{"flight without start", p.SetBudget(t.Context(), gavel.Budget{Account: "a", Amount: 1_000, End: simDay}), gavel.ErrInvalidBudget},
		{"daily flight", p.SetBudget(t.Context(), gavel.Budget{Account: "a", Amount: 1_000, Period: day, Start: simDay, End: simDay.Add(time.Hour)}), gavel.ErrInvalidBudget},
		{"unknown pacing", p.SetBudget(t.Context(), gavel.Budget{Account: "a", Amount: 1_000, Period: day, Pacing: 2}), gavel.ErrInvalidBudget},
		{"done ctx", p.SetBudget(canceled, gavel.Budget{Account: "a", Amount: 1_000, Period: day}), context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.err, tt.want)
			if tt.want != context.Canceled {
				assert.Regexp(t, `^gavel: `, tt.err.Error())
			}
		})
	}
	assert.Equal(t, 1.0, p.Rate("a"), "a refused budget must not pace the account")
	assert.Zero(t, p.Target("a", simDay))
}

func TestNewEvenPacerOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  gavel.PacerOption
		ok   bool
	}{
		{"clock", gavel.WithPacerClock(auctiontest.NewClock(simDay)), true},
		{"nil clock", gavel.WithPacerClock(nil), false},
		{"step", gavel.WithPacerStep(10 * time.Second), true},
		{"zero step", gavel.WithPacerStep(0), false},
		{"shape", gavel.WithTrafficShape([]float64{1, 0, 2}), true},
		{"no shape", gavel.WithTrafficShape(nil), true},
		{"negative weight", gavel.WithTrafficShape([]float64{1, -1}), false},
		{"NaN weight", gavel.WithTrafficShape([]float64{math.NaN()}), false},
		{"infinite weight", gavel.WithTrafficShape([]float64{math.Inf(1)}), false},
		{"zero weights", gavel.WithTrafficShape([]float64{0, 0}), false},
		{"min rate 0", gavel.WithMinRate(0), true},
		{"min rate 1", gavel.WithMinRate(1), true},
		{"min rate above 1", gavel.WithMinRate(1.5), false},
		{"negative min rate", gavel.WithMinRate(-0.1), false},
		{"NaN min rate", gavel.WithMinRate(math.NaN()), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := gavel.NewEvenPacer(tt.opt)
			if tt.ok {
				assert.NoError(t, err)
				assert.NotNil(t, p)
				return
			}
			require.ErrorIs(t, err, gavel.ErrInvalidOption)
			assert.Nil(t, p)
			assert.Regexp(t, `^gavel: `, err.Error())
		})
	}
}

// paceDown sets up account on p with a daily budget of 1000 micros a minute
// and a first minute that spends 3000, three times the pace, so that the
// pacer learns a demand of 3000 a minute and lowers its rate to about 0.27.
func paceDown(t *testing.T, p *gavel.EvenPacer, clock *auctiontest.Clock, account string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: account, Amount: 1_440_000, Period: gavel.DailyPeriod(time.UTC, 0)}))
	require.Equal(t, 1.0, p.Rate(account), "no demand known yet")
	p.Spend(ctx, account, 3_000)
	clock.Advance(time.Minute)
	p.Spend(ctx, account, 0) // the step is due: it runs here
	require.InDelta(t, 0.8/3, p.Rate(account), 1e-9)
}

// TestEvenPacerStep runs the controller on a state kept outside the pacer,
// as a pacer shared by several processes does, next to the pacer's own, and
// expects the same rates at every step.
func TestEvenPacerStep(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(p *gavel.EvenPacer) error
	}{
		{"daily", func(p *gavel.EvenPacer) error {
			return p.SetBudget(t.Context(), gavel.Budget{Account: "acme", Amount: 1_440_000, Period: gavel.DailyPeriod(time.UTC, 0)})
		}},
		{"flight", func(p *gavel.EvenPacer) error {
			return p.SetBudget(t.Context(), gavel.Budget{Account: "acme", Amount: 1_440_000, Start: simDay, End: simDay.Add(time.Hour)})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clock := auctiontest.NewClock(simDay)
			p := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock), gavel.WithTrafficShape([]float64{1, 3})))
			require.NoError(t, tt.set(p))

			s, next, ok := p.Step("acme", gavel.PacingState{}, clock.Now(), 0, 0)
			require.True(t, ok)
			assert.Equal(t, p.Rate("acme"), s.Rate)
			assert.Equal(t, simDay.Add(time.Minute/8), next, "a learning step: no demand known yet")
			assert.Equal(t, simDay, s.From, "the curve starts at the first step")
			var spent, stepSpent int64
			for i := range 90 { // past the flight's end
				clock.Advance(time.Minute)
				amount := int64(1_000 * (i%4 + 1))
				p.Spend(ctx, "acme", amount) // steps, then records the amount
				s, next, ok = p.Step("acme", s, clock.Now(), spent, stepSpent)
				require.True(t, ok)
				spent, stepSpent = spent+amount, amount
				require.InDelta(t, p.Rate("acme"), s.Rate, 1e-12, "minute %d", i+1)
				require.Equal(t, clock.Now(), s.StepStart)
				at := clock.Now().Add(30 * time.Second)
				require.Equal(t, p.Target("acme", at), p.StateTarget("acme", s, at), "minute %d", i+1)
				require.True(t, next.After(clock.Now()))
			}
			rate := p.Rate("acme")
			p.Step("acme", gavel.PacingState{}, clock.Now(), 1e12, 1e12)
			assert.Equal(t, rate, p.Rate("acme"), "Step changes nothing in the pacer")
		})
	}
	s, _, ok := must(gavel.NewEvenPacer()).Step("nobody", gavel.PacingState{Rate: 0.5}, simDay, 0, 0)
	assert.False(t, ok)
	assert.Equal(t, 0.5, s.Rate)
}

func TestEvenPacerDeterministic(t *testing.T) {
	clock := auctiontest.NewClock(simDay)
	p := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock)))
	paceDown(t, p, clock, "acme")
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 20_000
	allowed, changed := 0, 0
	for range n {
		draw := rng.Uint64()
		first := p.Allow(ctx, "acme", draw)
		for range 3 {
			if p.Allow(ctx, "acme", draw) != first {
				changed++
			}
		}
		if first {
			allowed++
		}
	}
	assert.Zero(t, changed, "answers that changed for the same draw")
	assert.InDelta(t, p.Rate("acme"), float64(allowed)/n, 0.01)
	assert.False(t, p.Allow(ctx, "acme", math.MaxUint64))
	assert.True(t, p.Allow(ctx, "acme", 0))
}

func TestEvenPacerAllowAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	clock := auctiontest.NewClock(simDay)
	p := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock)))
	paceDown(t, p, clock, "paced")
	require.NoError(t, p.SetBudget(t.Context(), gavel.Budget{Account: "unpaced", Amount: 1_000_000, Period: gavel.DailyPeriod(time.UTC, 0)}))
	ctx := context.Background()
	tests := []struct {
		name, account string
		draw          uint64
	}{
		{"rate<1", "paced", 0x9e3779b97f4a7c15},
		{"rate<1/step check", "paced", 0x9e3779b97f4a7c10},
		{"rate=1", "unpaced", 0x9e3779b97f4a7c15},
		{"no budget", "nobody", 0x9e3779b97f4a7c15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(1000, func() { p.Allow(ctx, tt.account, tt.draw) })
			assert.Zero(t, allocs)
		})
	}
}

func TestEvenPacerDailyReset(t *testing.T) {
	// The day starts at 06:00 UTC.
	start := simDay.Add(6 * time.Hour)
	clock := auctiontest.NewClock(start)
	p := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock)))
	ctx := context.Background()
	const budget = 1_440_000
	require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: budget, Period: gavel.DailyPeriod(time.UTC, 6*time.Hour)}))
	p.Spend(ctx, "acme", budget) // the whole day's budget in its first minute
	clock.Advance(time.Minute)
	p.Spend(ctx, "acme", 0)
	assert.Equal(t, gavel.DefaultMinRate, p.Rate("acme"), "far ahead of target")

	clock.Set(start.Add(24*time.Hour - time.Second))
	assert.False(t, p.Allow(ctx, "acme", 1<<63)) // a draw that checks for a due step
	assert.Equal(t, gavel.DefaultMinRate, p.Rate("acme"), "the day is not over yet")
	assert.Equal(t, int64(budget*1439/1440), p.Target("acme", start.Add(1439*time.Minute)))

	clock.Set(start.Add(24*time.Hour + time.Second))
	assert.True(t, p.Allow(ctx, "acme", 0)) // runs the step, which starts the new day
	assert.Greater(t, p.Rate("acme"), gavel.DefaultMinRate, "the new day starts with nothing spent")
	assert.Equal(t, int64(budget/24), p.Target("acme", start.Add(25*time.Hour)))
	assert.Equal(t, int64(0), p.Target("acme", start.Add(24*time.Hour)))
}

func TestEvenPacerTarget(t *testing.T) {
	const budget = 1_000_000
	clock := auctiontest.NewClock(simDay)
	uniform := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock)))
	// A quarter of the traffic in the first half of the day.
	shaped := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock), gavel.WithTrafficShape([]float64{1, 3})))
	est := time.FixedZone("EST", -5*3600)
	for _, p := range []*gavel.EvenPacer{uniform, shaped} {
		require.NoError(t, p.SetBudget(t.Context(), gavel.Budget{Account: "utc", Amount: budget, Period: gavel.DailyPeriod(nil, 0)}))
		require.NoError(t, p.SetBudget(t.Context(), gavel.Budget{Account: "est", Amount: budget, Period: gavel.DailyPeriod(est, 0)}))
		require.NoError(t, p.SetBudget(t.Context(), gavel.Budget{Account: "flight", Amount: budget, Start: simDay, End: simDay.Add(48 * time.Hour)}))
	}
	tests := []struct {
		name    string
		p       *gavel.EvenPacer
		account string
		at      time.Duration // after simDay
		want    int64
	}{
		{"uniform/start", uniform, "utc", 0, 0},
		{"uniform/06:00", uniform, "utc", 6 * time.Hour, budget / 4},
		{"uniform/next day", uniform, "utc", 30 * time.Hour, budget / 4},
		{"uniform/est midnight", uniform, "est", 5 * time.Hour, 0},
		{"uniform/est noon", uniform, "est", 17 * time.Hour, budget / 2},
		{"uniform/flight half", uniform, "flight", 24 * time.Hour, budget / 2},
		{"uniform/before flight", uniform, "flight", -time.Hour, 0},
		{"uniform/after flight", uniform, "flight", 50 * time.Hour, budget},
		{"shape/06:00", shaped, "utc", 6 * time.Hour, budget / 8},
		{"shape/12:00", shaped, "utc", 12 * time.Hour, budget / 4},
		{"shape/18:00", shaped, "utc", 18 * time.Hour, budget * 5 / 8},
		{"shape/flight day 1 noon", shaped, "flight", 12 * time.Hour, budget / 8},
		{"shape/flight day 2 noon", shaped, "flight", 36 * time.Hour, budget * 5 / 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.p.Target(tt.account, simDay.Add(tt.at)))
		})
	}
}

func TestEvenPacerFlightEnds(t *testing.T) {
	clock := auctiontest.NewClock(simDay)
	p := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock)))
	ctx := context.Background()
	require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: 1_000_000, Start: simDay.Add(time.Hour), End: simDay.Add(2 * time.Hour)}))
	assert.Equal(t, gavel.DefaultMinRate, p.Rate("acme"), "before the flight")
	clock.Set(simDay.Add(90 * time.Minute))
	p.Spend(ctx, "acme", 1_000)
	assert.Equal(t, 1.0, p.Rate("acme"), "behind, no demand known")
	clock.Set(simDay.Add(3 * time.Hour))
	p.Spend(ctx, "acme", 0)
	assert.Equal(t, 1.0, p.Rate("acme"), "after the flight, with budget left")
}

func TestEvenPacerSetBudgetAgain(t *testing.T) {
	clock := auctiontest.NewClock(simDay)
	p := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock)))
	paceDown(t, p, clock, "acme")
	rate := p.Rate("acme")
	day := gavel.DailyPeriod(time.UTC, 0)
	require.NoError(t, p.SetBudget(t.Context(), gavel.Budget{Account: "acme", Amount: 1_440_000, Period: day}))
	assert.Equal(t, rate, p.Rate("acme"), "the same budget changes nothing")
	require.NoError(t, p.SetBudget(t.Context(), gavel.Budget{Account: "acme", Amount: 2 * 1_440_000, Period: day}))
	assert.Greater(t, p.Rate("acme"), rate, "a larger budget spends faster")
	// At 00:01, 3000 spent: the other 2877000 are spread over the 1439
	// minutes left, 1999.3 a minute.
	assert.Equal(t, int64(3_000+2_877_000*719/1439), p.Target("acme", simDay.Add(12*time.Hour)))
	assert.Equal(t, int64(3_000), p.Target("acme", simDay.Add(time.Minute)))
	assert.Equal(t, int64(2*1_440_000/2), p.Target("acme", simDay.Add(36*time.Hour)), "the next day: the whole curve")
}

func TestEvenPacerClockSetBack(t *testing.T) {
	clock := auctiontest.NewClock(simDay)
	p := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock)))
	paceDown(t, p, clock, "acme")
	clock.Set(simDay.Add(-time.Hour)) // the day before: nothing is due yet
	p.Spend(context.Background(), "acme", 0)
	assert.Equal(t, gavel.DefaultMinRate, p.Rate("acme"), "a step must run after the clock was set back")
}

func TestEvenPacerConcurrent(t *testing.T) {
	clock := auctiontest.NewClock(simDay)
	p := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock), gavel.WithPacerStep(time.Second)))
	accounts := []string{"a", "b", "c"}
	for _, a := range accounts {
		require.NoError(t, p.SetBudget(t.Context(), gavel.Budget{Account: a, Amount: 10_000_000, Period: gavel.DailyPeriod(time.UTC, 0)}))
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var decisions atomic.Int64
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 5))
			for i := range 5_000 {
				account := accounts[i%len(accounts)]
				if p.Allow(ctx, account, rng.Uint64()) {
					p.Spend(ctx, account, 100+rng.Int64N(100))
					if i%10 == 0 {
						p.Spend(ctx, account, -50) // a hold committed for less
					}
				}
				decisions.Add(1)
			}
		})
	}
	wg.Go(func() {
		for i := range 2_000 {
			clock.Advance(100 * time.Millisecond)
			a := accounts[i%len(accounts)]
			p.Rate(a)
			p.Target(a, clock.Now())
			if i%100 == 0 {
				assert.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: a, Amount: int64(10_000_000 + i), Period: gavel.DailyPeriod(time.UTC, 0)}))
			}
		}
	})
	wg.Wait()
	assert.Equal(t, int64(4*5_000), decisions.Load())
	for _, a := range accounts {
		r := p.Rate(a)
		assert.True(t, r >= gavel.DefaultMinRate && r <= 1, "rate %v of %s", r, a)
	}
}

// fastClock is a clock without a lock, so that benchmarks measure the pacer
// rather than the clock.
type fastClock struct{ ns atomic.Int64 }

func (c *fastClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fastClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func BenchmarkPacerAllow(b *testing.B) {
	for _, bm := range []struct {
		name     string
		accounts int
		paced    bool
	}{
		{"accounts=1/paced", 1, true},
		{"accounts=1000/paced", 1000, true},
		{"accounts=1000/no-budget", 1000, false},
	} {
		b.Run(bm.name, func(b *testing.B) {
			clock := &fastClock{}
			clock.ns.Store(simDay.UnixNano())
			p := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock)))
			ctx := context.Background()
			names := make([]string, bm.accounts)
			for i := range names {
				names[i] = fmt.Sprintf("account-%d", i)
				if bm.paced {
					require.NoError(b, p.SetBudget(ctx, gavel.Budget{Account: names[i], Amount: 1_440_000, Period: gavel.DailyPeriod(time.UTC, 0)}))
					p.Spend(ctx, names[i], 3_000)
				}
			}
			clock.Advance(time.Minute)
			for _, n := range names {
				p.Spend(ctx, n, 0)
				if bm.paced {
					require.Less(b, p.Rate(n), 0.5)
				}
			}
			var total, allowed atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var n, yes int64
				x := uint64(time.Now().UnixNano())
				for pb.Next() {
					x += 0x9e3779b97f4a7c15
					draw := mix64(x)
					if p.Allow(ctx, names[draw%uint64(len(names))], draw) {
						yes++
					}
					n++
				}
				total.Add(n)
				allowed.Add(yes)
			})
			b.StopTimer()
			require.Equal(b, int64(b.N), total.Load(), "decisions made")
			if b.N >= 1000 { // the first, tiny runs may see too few draws
				require.Positive(b, allowed.Load(), "auctions allowed")
				if bm.paced {
					require.Less(b, allowed.Load(), total.Load(), "a paced account must be refused some auctions")
				}
			}
			b.ReportMetric(float64(allowed.Load())/float64(total.Load()), "allowed/op")
		})
	}
}

// mix64 is the splitmix64 finaliser: a cheap uniform draw from a counter.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func ExampleEvenPacer() {
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	clock := auctiontest.NewClock(day)
	pacer := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock)))
	// 1440.00 a day, in micros: 1.00 a minute.
	if err := pacer.SetBudget(context.Background(), gavel.Budget{Account: "acme", Amount: 1_440_000_000, Period: gavel.DailyPeriod(time.UTC, 0)}); err != nil {
		panic(err)
	}
	ctx := context.Background()
	fmt.Println("allowed:", pacer.Allow(ctx, "acme", 1<<63), "rate:", pacer.Rate("acme"))

	pacer.Spend(ctx, "acme", 3_000_000) // the first minute spends three times the pace
	clock.Advance(time.Minute)
	pacer.Spend(ctx, "acme", 0) // the step is due: the pacer adapts
	fmt.Println("allowed:", pacer.Allow(ctx, "acme", 1<<63), "rate:", math.Round(pacer.Rate("acme")*1000)/1000)
	fmt.Println("target at noon:", pacer.Target("acme", day.Add(12*time.Hour)))
	// Output:
	// allowed: true rate: 1
	// allowed: false rate: 0.267
	// target at noon: 720000000
}
