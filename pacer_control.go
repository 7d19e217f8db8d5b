package gavel

import (
	"math"
	"time"
)

// The controller of the EvenPacer, on a PacingState: the target curve,
// what a step learns and what it plans. The EvenPacer runs it on the state
// it keeps for each account; a pacer that keeps the state elsewhere runs
// it through EvenPacer.Step.

// Tuning of the even pacer's controller.
const (
	// catchUpSteps is the horizon, in steps, over which a gap between spend
	// and target is closed: each step makes up 1/catchUpSteps of it.
	catchUpSteps = 10
	// demandSmoothing is the weight of the newest step in the demand
	// estimate (an exponential moving average).
	demandSmoothing = 0.2
	// learnSteps is how many learning steps fit in a step: while no demand
	// is known, an account runs at p = 1 for steps of step/learnSteps, so
	// that it learns its demand before it can spend much beyond its
	// target. With 5 to 10 times the budget's demand and a 1-minute step,
	// the first step overspends by well under a minute of budget.
	learnSteps = 8
	// stepCheckMask selects the draws for which Allow looks at the clock to
	// see whether a step is due: one in 16.
	stepCheckMask = 15
)

// PacingState is the state of an EvenPacer's controller for one account
// between two steps. An EvenPacer keeps it for the accounts it paces; a
// pacer that keeps it elsewhere, for example in a store that several
// processes pacing one budget share, runs the same controller on it with
// EvenPacer.Step. The zero value is the state of an account never stepped.
type PacingState struct {
	Rate      float64   // participation probability planned by the last step
	StepStart time.Time // when the last step ran; the zero time before the first
	SpendAvg  float64   // smoothed spend per step, micros
	ReachAvg  float64   // smoothed Rate × traffic share per step

	// The target curve starts at From, the first step of the budget
	// BudgetID names (for an EvenPacer, when the budget was declared), at
	// FromSpent, the spend of the period (or flight) then: in the period
	// that holds From, the target spreads what was left of the budget over
	// what was left of the period, along the traffic. In the periods after,
	// and when From is before the flight, the target is the budget's whole
	// curve. A step for another budget (a new amount, period, flight or
	// pacing) starts a new curve.
	From      time.Time
	FromSpent int64  // micros
	BudgetID  uint64 // identifies the budget the curve was started for; 0 before the first step
}

// span is the stretch of time a budget is spread over: a period, or a
// flight. A total budget's span is empty: start and end are zero.
type span struct {
	flight     bool      // the budget is for [start, end) rather than per period
	start, end time.Time // the current period, or the flight
}

// spanOf returns the span of b that holds t: its flight, or the period
// that holds t.
func spanOf(b Budget, t time.Time) span {
	if b.flight() {
		return span{flight: true, start: b.Start, end: b.End}
	}
	start, end := b.Period.bounds(t)
	return span{start: start, end: end}
}

// curve returns the share of the span's traffic before t; 0 for an empty
// span.
func (s span) curve(shape trafficShape, t time.Time) float64 {
	if !s.end.After(s.start) {
		return 0
	}
	return shape.curve(t, s.start, s.end, s.flight)
}

// holds reports whether t is in the span.
func (s span) holds(t time.Time) bool { return !t.Before(s.start) && t.Before(s.end) }

// paced is what a step needs of an account's budget.
type paced struct {
	amount int64
	asap   bool
	id     uint64 // Budget.fingerprint
	span          // the span of the budget that holds the step
}

func pacedAt(b Budget, id uint64, t time.Time) paced {
	return paced{amount: b.Amount, asap: b.Pacing == PacingASAP, id: id, span: spanOf(b, t)}
}

// target returns the spend that the curve of s asks for by t, in micros,
// for the budget pb whose span holds t.
func (c *pacerConfig) target(s *PacingState, pb paced, t time.Time) float64 {
	b := float64(pb.amount)
	if pb.asap {
		return b
	}
	share := pb.curve(c.shape, t)
	if s.BudgetID != pb.id || !pb.holds(s.From) {
		return b * share // the whole curve of the span
	}
	base := min(float64(s.FromSpent), b)
	from := pb.curve(c.shape, s.From)
	if from >= 1 {
		return b // no traffic left after From: what is left is due at once
	}
	return base + (b-base)*max(share-from, 0)/(1-from)
}

// learn updates the demand estimate in s with the step that ends at now,
// in which the account spent stepSpent; sp is the span the step ran in.
func (c *pacerConfig) learn(s *PacingState, sp span, now time.Time, stepSpent int64) {
	share := sp.curve(c.shape, now) - sp.curve(c.shape, s.StepStart)
	if share <= 0 {
		return // no traffic expected: nothing to learn
	}
	s.SpendAvg += demandSmoothing * (float64(stepSpent) - s.SpendAvg)
	s.ReachAvg += demandSmoothing * (s.Rate*share - s.ReachAvg)
}

// plan starts a step at now: it sets in s the rate that should bring the
// spend to its target by the end of the step, and returns when the next
// step is due. spent is the spend so far in the span of pb, which holds
// now. The first step of a budget starts its curve (see PacingState).
func (c *pacerConfig) plan(s *PacingState, pb paced, now time.Time, spent int64) time.Time {
	if s.BudgetID != pb.id || s.StepStart.IsZero() {
		s.From, s.FromSpent, s.BudgetID = now, spent, pb.id
	}
	s.StepStart = now
	if pb.asap {
		s.Rate = 1
		return now.Add(c.step)
	}
	length := c.step
	if !(s.ReachAvg > 0) {
		length = max(c.step/learnSteps, 1) // no demand known yet: learn it first
	}
	next := now.Add(length)
	if now.Before(pb.end) && pb.end.Before(next) {
		next = pb.end // a step never straddles a period's end
	}
	tNow, tNext := c.target(s, pb, now), c.target(s, pb, next)
	sf := float64(spent)
	steps := 1.0 // steps left to close the gap in
	if left := pb.end.Sub(now); left > 0 {
		steps = min(catchUpSteps, math.Ceil(float64(left)/float64(c.step)))
	}
	need := tNext - tNow + (tNow-sf)/steps
	need = min(need, float64(pb.amount)-sf)
	var demand float64 // spend over the next step at p = 1
	if s.ReachAvg > 0 {
		demand = s.SpendAvg / s.ReachAvg * (pb.curve(c.shape, next) - pb.curve(c.shape, now))
	}
	rate := 1.0
	switch {
	case need <= 0:
		rate = c.minRate
	case demand > 0:
		rate = min(max(need/demand, c.minRate), 1)
	}
	s.Rate = rate
	return next
}

// trafficShape is the cumulative traffic of a day's equal slices: element i
// is the share of the day's traffic before slice i, from 0 to 1. Nil means
// uniform.
type trafficShape []float64

// at returns the share of a day's traffic before the fraction x of it.
func (s trafficShape) at(x float64) float64 {
	if len(s) == 0 {
		return x
	}
	n := len(s) - 1
	f := x * float64(n)
	i := int(f)
	if i >= n {
		return 1
	}
	return s[i] + (f-float64(i))*(s[i+1]-s[i])
}

// curve returns the share of the traffic of [start, end) that comes before
// t, clamped to [0, 1]. A daily period is one day of the shape; a flight
// is the shape repeated every 24 hours from start.
func (s trafficShape) curve(t, start, end time.Time, flight bool) float64 {
	length := end.Sub(start)
	d := min(max(t.Sub(start), 0), length)
	if !flight {
		return s.at(float64(d) / float64(length))
	}
	total := s.days(length)
	if total <= 0 {
		return float64(d) / float64(length)
	}
	return s.days(d) / total
}

// days returns the traffic in the first d of a flight, in days of traffic.
func (s trafficShape) days(d time.Duration) float64 {
	const day = 24 * time.Hour
	return float64(d/day) + s.at(float64(d%day)/float64(day))
}
