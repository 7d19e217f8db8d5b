package auctiontest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
)

// PacingSim simulates the auctions of one account against one or more
// gavel.Pacers, on a Clock, to check how a budget is spent over time. It
// is deterministic: the traffic, the draws and the prices come from Seed,
// and time moves only with the Clock, so a simulated day takes a fraction
// of a second.
//
// Each minute from Start to End has about Traffic auctions (±15%), spread
// evenly over the minute. Each goes to one of the Pacers, at random, as
// the processes of an exchange share its traffic. When that Pacer allows
// the account, the account wins and pays between 0.5 and 1.5 times a mean
// cost, unless that would take its spend past Budget, as a strict ledger
// would refuse it; the Pacer is then told of the spend. The mean cost is
// such that taking part in every auction would spend Demand × Budget.
type PacingSim struct {
	Pacers     []gavel.Pacer // at least one
	Clock      *Clock        // the Pacers' clock; Run moves it
	Account    string
	Budget     int64     // micros the account may spend from Start to End
	Start, End time.Time // End after Start

	// Traffic returns the mean number of auctions in the minute that
	// starts at t.
	Traffic func(t time.Time) float64
	// Demand is the spend at full participation, in budgets: 5 would spend
	// the budget five times over.
	Demand float64

	// Sync, if not nil, is called with the Clock set to Start and to every
	// SyncEvery after it, before the auctions of that instant, and once
	// more at End less a nanosecond: a Pacer that syncs with a store (as
	// the Redis adapter's does with WithSyncInterval(0)) syncs there. Run
	// stops at its first error.
	Sync      func() error
	SyncEvery time.Duration

	Seed uint64
}

// PacingHour is the spend of a PacingSim up to the end of one hour.
type PacingHour struct {
	End   time.Time // a whole hour of the Clock, or the simulation's End
	Spent int64     // micros, from Start
}

// Run runs the simulation. It returns the spend at the end of every whole
// hour of the Clock after Start and at End (so the first and last hours
// may be partial), and the first error of Sync.
func (s PacingSim) Run() ([]PacingHour, error) {
	if len(s.Pacers) == 0 || s.Clock == nil || s.Traffic == nil || !s.End.After(s.Start) ||
		(s.Sync != nil && s.SyncEvery <= 0) {
		return nil, errors.New("auctiontest: PacingSim needs Pacers, a Clock, Traffic, an End after Start and, with Sync, SyncEvery")
	}
	var expected float64
	for m := s.Start; m.Before(s.End); m = m.Add(time.Minute) {
		expected += s.Traffic(m)
	}
	r := pacingRun{
		PacingSim: s,
		meanCost:  s.Demand * float64(s.Budget) / expected,
		rng:       rand.New(rand.NewPCG(s.Seed, 0x9e3779b97f4a7c15)),
		nextSync:  s.Start,
	}
	var hours []PacingHour
	for m := s.Start; m.Before(s.End); m = m.Add(time.Minute) {
		if m != s.Start && m.Truncate(time.Hour).Equal(m) {
			hours = append(hours, PacingHour{End: m, Spent: r.spent})
		}
		if err := r.minute(m); err != nil {
			return hours, err
		}
	}
	hours = append(hours, PacingHour{End: s.End, Spent: r.spent})
	last := s.End.Add(-time.Nanosecond)
	if err := r.syncUntil(last); err != nil || s.Sync == nil {
		return hours, err
	}
	s.Clock.Set(last)
	return hours, s.Sync()
}

// pacingRun is a PacingSim under way.
type pacingRun struct {
	PacingSim
	meanCost float64
	rng      *rand.Rand
	spent    int64
	nextSync time.Time
}

// minute runs the auctions of the minute that starts at m.
func (r *pacingRun) minute(m time.Time) error {
	ctx := context.Background()
	n := int(math.Round(r.Traffic(m) * (0.85 + 0.3*r.rng.Float64())))
	for i := range n {
		at := m.Add(time.Duration(i) * time.Minute / time.Duration(n))
		if at.After(r.End) {
			break
		}
		if err := r.syncUntil(at); err != nil {
			return err
		}
		r.Clock.Set(at)
		p := r.Pacers[r.rng.IntN(len(r.Pacers))]
		if !p.Allow(ctx, r.Account, r.rng.Uint64()) {
			continue
		}
		cost := int64(r.meanCost * (0.5 + r.rng.Float64()))
		if r.spent+cost > r.Budget {
			continue // the ledger refuses: the next bid would win
		}
		r.spent += cost
		p.Spend(ctx, r.Account, cost)
	}
	return nil
}

// syncUntil runs the syncs due by t, each at its own time.
func (r *pacingRun) syncUntil(t time.Time) error {
	for ; r.Sync != nil && !r.nextSync.After(t); r.nextSync = r.nextSync.Add(r.SyncEvery) {
		r.Clock.Set(r.nextSync)
		if err := r.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// CheckPacing checks the hours of a simulation against target, the
// cumulative spend the pacer aims at by a time: the spend by the end of the
// day is within 97–100% of budget, the spend of every hour within 5% of
// that hour's target (target at its end less target at its start, or at
// start for the first), and the spend by the end of every hour within 5%
// of the budget of the target by then. It logs every hour and returns a
// line that sums the simulation up.
func CheckPacing(t testing.TB, hours []PacingHour, start time.Time, budget int64, target func(time.Time) int64) string {
	t.Helper()
	if len(hours) == 0 {
		t.Fatal("auctiontest: no hours to check")
	}
	t.Logf("%5s %12s %12s %8s %12s %12s %8s", "hour", "hour target", "hour spent", "err%", "target", "spent", "err%budget")
	prevEnd, prevSpent := start, int64(0)
	var firstHour, worstHour, worstCum float64
	for i, h := range hours {
		hourTarget := target(h.End) - target(prevEnd)
		hourSpent := h.Spent - prevSpent
		hourErr := 100 * float64(hourSpent-hourTarget) / float64(hourTarget)
		cumErr := 100 * float64(h.Spent-target(h.End)) / float64(budget)
		t.Logf("%5s %12d %12d %+8.2f %12d %12d %+8.2f", h.End.Format("15:04"), hourTarget, hourSpent, hourErr,
			target(h.End), h.Spent, cumErr)
		if math.Abs(float64(hourSpent-hourTarget)) > 0.05*float64(hourTarget) {
			t.Errorf("the hour to %v spent %d, want %d ± 5%%", h.End.Format("15:04"), hourSpent, hourTarget)
		}
		if math.Abs(float64(h.Spent-target(h.End))) > 0.05*float64(budget) {
			t.Errorf("the spend by %v is %d, want %d ± 5%% of the budget", h.End.Format("15:04"), h.Spent, target(h.End))
		}
		if i == 0 {
			firstHour = hourErr
		}
		if math.Abs(hourErr) > math.Abs(worstHour) {
			worstHour = hourErr
		}
		if math.Abs(cumErr) > math.Abs(worstCum) {
			worstCum = cumErr
		}
		prevEnd, prevSpent = h.End, h.Spent
	}
	spent := hours[len(hours)-1].Spent
	if spent < budget*97/100 || spent > budget {
		t.Errorf("spent %d by the end of the day, want 97-100%% of %d", spent, budget)
	}
	return fmt.Sprintf("spent %6.2f%% of the budget; worst hour %+5.2f%% of its target (first hour %+5.2f%%); worst spend by an hour's end %+5.2f%% of the budget",
		100*float64(spent)/float64(budget), worstHour, firstHour, worstCum)
}

// DayCurve returns the share of a day's traffic before t, for the day that
// starts at day, as an EvenPacer computes it: uniform in time when hourly
// is empty, else by the hourly weights (one per hour), linear within each
// hour.
func DayCurve(day time.Time, hourly []float64) func(t time.Time) float64 {
	return func(t time.Time) float64 {
		x := float64(t.Sub(day)) / float64(24*time.Hour)
		if len(hourly) == 0 {
			return x
		}
		var sum, before float64
		for h, w := range hourly {
			sum += w
			if f := x*float64(len(hourly)) - float64(h); f > 0 {
				before += w * min(f, 1)
			}
		}
		return before / sum
	}
}

// StartedTarget returns the spend a pacer aims at by t for a budget
// declared at start, along curve: the target curve from the start, which
// spreads the budget over what is left of the period,
//
//	target(t) = budget × (curve(t) − curve(start)) / (1 − curve(start))
//
// An hour's target is target(end of the hour) − target(start of the hour,
// or start): a budget declared at 09:37 has a first hour of 23 minutes.
func StartedTarget(budget int64, start time.Time, curve func(time.Time) float64) func(time.Time) int64 {
	from := curve(start)
	return func(t time.Time) int64 {
		return int64(math.Round(float64(budget) * max(curve(t)-from, 0) / (1 - from)))
	}
}
