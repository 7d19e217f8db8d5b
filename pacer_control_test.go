package gavel_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// dayShape is the relative traffic of each hour of a day, as an exchange
// sees it in one time zone: a trough at 04:00, a climb through the
// morning, a plateau, and a peak at 20:00 six times the trough.
var dayShape = []float64{
	3.0, 2.1, 1.5, 1.2, 1.1, 1.3, 2.0, 3.1, 4.2, 4.8, 5.1, 5.3,
	5.5, 5.4, 5.2, 5.2, 5.3, 5.6, 6.0, 6.5, 6.8, 6.4, 5.4, 4.1,
}

// shapeTraffic returns the mean auctions per minute at t, averaging
// perMinute over the day, following dayShape.
func shapeTraffic(day time.Time, perMinute float64) func(t time.Time) float64 {
	var sum float64
	for _, w := range dayShape {
		sum += w
	}
	return func(t time.Time) float64 {
		return perMinute * dayShape[int(t.Sub(day)/time.Hour)%24] * 24 / sum
	}
}

// simAuctionsPerMinute is the mean traffic of the simulations: 300
// auctions a minute, 75 at 04:00. At ten times its budget's demand an
// account then wins about 450 auctions in the quietest hour, enough for a
// 5% bound on each hour to test the pacer rather than the dice: the spend
// of n wins varies by about 1/√n on its own, 5% at 400 wins.
const simAuctionsPerMinute = 300

// pacingStarts are the times of day at which the simulations declare a
// budget: at the start of the day, and twice in its middle.
var pacingStarts = []time.Duration{0, 9*time.Hour + 37*time.Minute, 17*time.Hour + 5*time.Minute}

// TestEvenPacerStartedMidPeriod declares a daily budget at 00:00, 09:37
// and 17:05, with a demand five and ten times the budget, and expects the
// rest of the day to be paced from the start: the spend by the day's end
// within 97-100% of the budget, and every hour's spend within 5% of that
// hour's target on the curve that starts at the declaration (see
// startedCurve), uniform or shaped by the traffic.
func TestEvenPacerStartedMidPeriod(t *testing.T) {
	const budget = 500_000_000 // 500.00 for what is left of the day
	for _, start := range pacingStarts {
		for _, shaped := range []bool{false, true} {
			for _, demand := range []float64{5, 10} {
				curveName := "uniform"
				var shape []float64
				if shaped {
					curveName, shape = "traffic-shape", dayShape
				}
				name := fmt.Sprintf("start=%s/%s/demand=%vx", simDay.Add(start).Format("15:04"), curveName, demand)
				t.Run(name, func(t *testing.T) {
					at := simDay.Add(start)
					clock := auctiontest.NewClock(at)
					pacer := must(gavel.NewEvenPacer(gavel.WithPacerClock(clock), gavel.WithTrafficShape(shape)))
					require.NoError(t, pacer.SetBudget(t.Context(), gavel.Budget{
						Account: "acme", Amount: budget, Period: gavel.DailyPeriod(time.UTC, 0)}))
					target := auctiontest.StartedTarget(budget, at, auctiontest.DayCurve(simDay, shapeIf(shaped, dayShape[:])))
					for _, h := range []time.Duration{0, 30 * time.Minute, 3 * time.Hour} {
						assert.InDelta(t, target(at.Add(h)), pacer.Target("acme", at.Add(h)), 2, "Target %v after the start", h)
					}
					hours, err := auctiontest.PacingSim{
						Pacers:  []gavel.Pacer{pacer},
						Clock:   clock,
						Account: "acme",
						Budget:  budget,
						Start:   at,
						End:     simDay.Add(24 * time.Hour),
						Traffic: shapeTraffic(simDay, simAuctionsPerMinute),
						Demand:  demand,
						Seed:    1,
					}.Run()
					require.NoError(t, err)
					t.Logf("%s: %s", name, auctiontest.CheckPacing(t, hours, at, budget, target))
				})
			}
		}
	}
}

// shapeIf returns hourly when shaped, else nil: a uniform day.
func shapeIf(shaped bool, hourly []float64) []float64 {
	if shaped {
		return hourly
	}
	return nil
}
