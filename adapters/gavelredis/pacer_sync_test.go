package gavelredis

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// The traffic and the targets of the simulations of budgets declared in
// the middle of a day: the same as the core's (pacer_control_test.go).

// simDayShape is the relative traffic of each hour of a day: a trough at
// 04:00, a climb through the morning, a plateau, and a peak at 20:00 six
// times the trough.
var simDayShape = []float64{
	3.0, 2.1, 1.5, 1.2, 1.1, 1.3, 2.0, 3.1, 4.2, 4.8, 5.1, 5.3,
	5.5, 5.4, 5.2, 5.2, 5.3, 5.6, 6.0, 6.5, 6.8, 6.4, 5.4, 4.1,
}

// simAuctionsPerMinute is the mean traffic: 300 auctions a minute, 75 at
// 04:00, enough wins in every hour for a 5% bound per hour to test the
// pacer rather than the dice.
const simAuctionsPerMinute = 300

// simTraffic returns the mean auctions per minute at t, following
// simDayShape.
func simTraffic(t time.Time) float64 {
	var sum float64
	for _, w := range simDayShape {
		sum += w
	}
	return simAuctionsPerMinute * simDayShape[int(t.Sub(pacerSimDay)/time.Hour)%24] * 24 / sum
}

// TestPacerStartedMidPeriod declares a daily budget at 00:00, 09:37 and
// 17:05 in three processes (three Pacers, each with its own client, on one
// Redis), which share the traffic at random and sync every 10 virtual
// seconds, by hand, on a fake clock. The demand is eight times the budget.
// The processes together must spend 97-100% of the budget by the day's
// end, and every hour within 5% of that hour's target on the curve that
// starts at the declaration (see simTarget), uniform or traffic-shaped.
func TestPacerStartedMidPeriod(t *testing.T) {
	c, prefix := profileClient(t)
	const budget = 500_000_000 // 500.00 for what is left of the day
	starts := []time.Duration{0, 9*time.Hour + 37*time.Minute, 17*time.Hour + 5*time.Minute}
	for _, start := range starts {
		for _, shaped := range []bool{false, true} {
			curveName := "uniform"
			var shape []float64
			if shaped {
				curveName, shape = "traffic-shape", simDayShape
			}
			at := pacerSimDay.Add(start)
			name := fmt.Sprintf("start=%s/%s", at.Format("15:04"), curveName)
			t.Run(name, func(t *testing.T) {
				if pacerRaceEnabled && (start == 0 || !shaped) {
					t.Skip("the same code as the other cases: one under the race detector is enough")
				}
				ctx := context.Background()
				clock := auctiontest.NewClock(at)
				keys := prefix + strconv.Itoa(int(start/time.Minute)) + curveName
				pacers := make([]*Pacer, 3)
				sims := make([]gavel.Pacer, len(pacers))
				for i := range pacers {
					client := c
					if i > 0 {
						client = profileNewClient(t, redisAddr())
					}
					pacers[i] = newTestPacer(t, client, keys, WithPacerClock(clock), WithTrafficShape(shape))
					require.NoError(t, pacers[i].SetBudget(ctx, gavel.Budget{Account: "acme", Amount: budget, Period: pacerDay}))
					sims[i] = pacers[i]
				}
				syncs := 0
				sync := func() error {
					syncs++
					for k := range pacers {
						if err := pacers[(syncs+k)%len(pacers)].Sync(ctx); err != nil {
							return err
						}
					}
					return nil
				}
				hours, err := auctiontest.PacingSim{
					Pacers:    sims,
					Clock:     clock,
					Account:   "acme",
					Budget:    budget,
					Start:     at,
					End:       pacerSimDay.Add(24 * time.Hour),
					Traffic:   simTraffic,
					Demand:    8,
					Sync:      sync,
					SyncEvery: 10 * time.Second,
					Seed:      1,
				}.Run()
				require.NoError(t, err)

				target := auctiontest.StartedTarget(budget, at, auctiontest.DayCurve(pacerSimDay, shapeIf(shaped, simDayShape[:])))
				for _, p := range pacers {
					for _, h := range []time.Duration{30 * time.Minute, 3 * time.Hour} {
						assert.InDelta(t, target(at.Add(h)), p.Target("acme", at.Add(h)), budget/1e6,
							"the shared curve starts at the declaration")
					}
				}
				t.Logf("%s: %s", name, auctiontest.CheckPacing(t, hours, at, budget, target))

				key := keys + ":pacer:{acme}:spent:" + strconv.FormatInt(pacerSimDay.Unix(), 10)
				global, err := c.Do(ctx, c.B().Get().Key(key).Build()).AsInt64()
				require.NoError(t, err)
				assert.Equal(t, hours[len(hours)-1].Spent, global, "every process's spend is in Redis")
				var steps, errs int64
				for _, p := range pacers {
					st := p.Stats()
					steps, errs = steps+st.Steps, errs+st.Errors
				}
				t.Logf("%d syncs of each process, %d steps, %d errors", syncs, steps, errs)
				assert.Zero(t, errs)
			})
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
