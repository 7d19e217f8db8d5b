package gavel

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// A Pacer decides, before the fan-out, whether an account's bidder takes
// part in an auction. Implementations must be safe for concurrent use: Run
// calls Allow for every bidder of every auction, from many goroutines.
type Pacer interface {
	// Allow reports whether account takes part in the auction. draw is a uniform
	// 64-bit number the auction derives from its id and the account, so the same
	// request always gets the same answer.
	Allow(ctx context.Context, account string, draw uint64) bool
	// Spend records that account's spend changed by amount micros (negative when
	// a reservation is given back).
	Spend(ctx context.Context, account string, amount int64)
}

// ASAP returns a Pacer that lets every account take part in every auction
// and ignores spend: budgets are then spent as fast as the auctions go, and
// only the ledger stops them.
func ASAP() Pacer { return asap{} }

type asap struct{}

func (asap) Allow(context.Context, string, uint64) bool { return true }
func (asap) Spend(context.Context, string, int64)       {}

// Defaults of the pacer options.
const (
	DefaultPacerStep = time.Minute
	DefaultMinRate   = 0.001
)

// Tuning of the even pacer's controller.
const (
	// catchUpSteps is the horizon, in steps, over which a gap between spend
	// and target is closed: each step makes up 1/catchUpSteps of it.
	catchUpSteps = 10
	// demandSmoothing is the weight of the newest step in the demand
	// estimate (an exponential moving average).
	demandSmoothing = 0.2
	// stepCheckMask selects the draws for which Allow looks at the clock to
	// see whether a step is due: one in 16.
	stepCheckMask = 15
)

// A PacerOption configures an EvenPacer; see NewEvenPacer.
type PacerOption interface {
	applyPacer(*pacerConfig)
}

type pacerOptionFunc func(*pacerConfig)

func (f pacerOptionFunc) applyPacer(c *pacerConfig) { f(c) }

type pacerConfig struct {
	clock   Clock
	step    time.Duration
	shape   trafficShape
	minRate float64
	optionErrors
}

// WithPacerClock sets the clock that the pacer reads to step and to tell
// periods apart. Default: the system clock. The auctiontest package has a
// clock that tests move by hand.
func WithPacerClock(c Clock) PacerOption {
	return pacerOptionFunc(func(cfg *pacerConfig) {
		if c == nil {
			cfg.fail("pacer clock must not be nil")
			return
		}
		cfg.clock = c
	})
}

// WithPacerStep sets how often each account's participation probability is
// adapted to its spend. Default DefaultPacerStep (1 minute). A shorter step
// follows changes in traffic sooner but learns the demand from fewer
// auctions per step; a step should see a few dozen wins.
func WithPacerStep(d time.Duration) PacerOption {
	return pacerOptionFunc(func(c *pacerConfig) {
		if d <= 0 {
			c.fail("pacer step must be positive, got %v", d)
			return
		}
		c.step = d
	})
}

// WithTrafficShape sets the relative traffic of each equal slice of a day,
// for example 24 hourly weights, the first slice starting when the day
// does (see Period). The target spend follows the cumulative sum of the
// weights, so a budget is spent where the traffic is, and the demand
// learned in one slice is scaled by the weights to predict the next.
// Weights must be finite and not negative, with a positive sum; the slice
// is copied. A daily period of 23 or 25 hours (a daylight saving change)
// stretches the slices to fit; a flight (SetFlight) lays the shape over
// every 24 hours from its start. Default: uniform, spend in proportion to
// time. An empty slice restores the default.
func WithTrafficShape(weights []float64) PacerOption {
	return pacerOptionFunc(func(c *pacerConfig) {
		if len(weights) == 0 {
			c.shape = nil
			return
		}
		var sum float64
		for i, w := range weights {
			if !(w >= 0) || math.IsInf(w, 1) {
				c.fail("traffic shape weight %d must be finite and not negative, got %v", i, w)
				return
			}
			sum += w
		}
		if !(sum > 0) || math.IsInf(sum, 1) {
			c.fail("traffic shape weights must have a positive finite sum, got %v", sum)
			return
		}
		c.shape = make(trafficShape, len(weights)+1)
		var acc float64
		for i, w := range weights {
			acc += w
			c.shape[i+1] = acc / sum
		}
		c.shape[len(weights)] = 1
	})
}

// WithMinRate sets the floor of the participation probability, in [0, 1]:
// an account ahead of its target still takes part in this share of the
// auctions, so that the pacer keeps measuring its demand. Default
// DefaultMinRate (0.001). With 0 an account ahead of its target takes part
// in nothing until it falls behind.
func WithMinRate(p float64) PacerOption {
	return pacerOptionFunc(func(c *pacerConfig) {
		if !(p >= 0 && p <= 1) {
			c.fail("pacer min rate must be in [0, 1], got %v", p)
			return
		}
		c.minRate = p
	})
}

// EvenPacer spreads each account's budget over its period, so that a daily
// budget lasts the whole day instead of being spent in the first busy hour.
// Create one with NewEvenPacer; the zero value is not usable. An EvenPacer
// is safe for concurrent use.
//
// For each account it keeps a participation probability p in [min rate, 1]
// (WithMinRate): Allow lets the account take part when the auction's draw,
// read as a number in [0, 1), is below p. Every step (WithPacerStep) it
// compares the spend so far with the target, the budget times the share of
// the period's traffic already past (WithTrafficShape; uniform by default),
// and sets p to what the next step needs: the target's growth over the step
// plus a tenth of the gap between target and spend (all that is left of the
// gap in the period's last step), divided by the demand, the spend the
// account would make over the step at p = 1. The demand is learned from the
// spend of the steps before, divided by the p they ran at and by their share
// of the traffic, and smoothed. An account behind its target with no demand
// known gets p = 1; an account at or ahead of it gets the min rate. At the
// start of each new period the spend starts again from zero, and the demand
// learned carries over.
//
// Accounts without a budget here (see SetBudget and SetFlight) are not
// paced: Allow returns true and Spend ignores them.
//
// The pacer steps lazily, from Spend and from one Allow in 16 (picked by
// the draw), so an account's state costs nothing between its auctions.
// Allow reads a few atomics and never waits for a lock; Spend adds to
// atomic counters; the step runs under a per-account mutex taken with
// TryLock by whichever call finds it due first.
//
// The pacer knows only the spend it is told about. After a restart, tell it
// the period's spend so far with Spend right after SetBudget, or it will
// believe the account is behind and catch up.
type EvenPacer struct {
	cfg      pacerConfig
	accounts sync.Map // account name -> *pacedAccount
}

// NewEvenPacer returns an EvenPacer configured by opts, applied in order (a
// later option overrides an earlier one). It returns an error wrapping
// ErrInvalidOption when an option is out of range; all such problems are
// reported at once.
func NewEvenPacer(opts ...PacerOption) (*EvenPacer, error) {
	cfg := pacerConfig{clock: systemClock{}, step: DefaultPacerStep, minRate: DefaultMinRate}
	for _, o := range opts {
		o.applyPacer(&cfg)
	}
	if err := cfg.err(); err != nil {
		return nil, err
	}
	cfg.optionErrors = nil
	return &EvenPacer{cfg: cfg}, nil
}

// pacedAccount is one account's pacing state. Allow reads rate and next
// without the lock; Spend adds to spent and stepSpent without it. The step
// runs under mu.
type pacedAccount struct {
	rate atomic.Uint64 // participation probability, float64 bits
	next atomic.Int64  // Unix nanoseconds when the next step is due
	_    [64]byte      // keeps Spend's counters off the cache line Allow reads

	spent     atomic.Int64 // spend in the current period, micros
	stepSpent atomic.Int64 // spend since the current step began, micros

	mu     sync.Mutex
	budget int64
	period Period // a daily budget's period; unused for a flight
	span          // the current period, or the flight
	state  PacingState
}

// span is the stretch of time a budget is spread over: a period, or a
// flight.
type span struct {
	flight     bool      // the budget is for [start, end) rather than per period
	start, end time.Time // the current period, or the flight
}

// curve returns the share of the span's traffic before t.
func (s span) curve(shape trafficShape, t time.Time) float64 {
	return shape.curve(t, s.start, s.end, s.flight)
}

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
}

// Allow implements Pacer. It returns true for an account without a budget.
// It does not allocate.
func (p *EvenPacer) Allow(_ context.Context, account string, draw uint64) bool {
	v, ok := p.accounts.Load(account)
	if !ok {
		return true
	}
	a := v.(*pacedAccount)
	if draw&stepCheckMask == 0 {
		p.maybeStep(a)
	}
	rate := math.Float64frombits(a.rate.Load())
	// The top 53 bits of the draw as a uniform number in [0, 1).
	return rate >= 1 || float64(draw>>11)/(1<<53) < rate
}

// Spend implements Pacer. The amount counts toward the period current when
// Spend is called. Spend ignores an account without a budget.
func (p *EvenPacer) Spend(_ context.Context, account string, amount int64) {
	v, ok := p.accounts.Load(account)
	if !ok {
		return
	}
	a := v.(*pacedAccount)
	p.maybeStep(a)
	a.spent.Add(amount)
	a.stepSpent.Add(amount)
}

// SetBudget paces account to spend budget micros in each period, starting
// now. period must be daily: a total budget has no end to spread it over
// (see SetFlight), and an account that should spend it as fast as it can
// is best left without a budget here. A budget of 0 keeps the account at
// the min rate. Setting a new budget or period keeps the spend recorded for
// the current period and the demand learned, and applies at once; setting
// the same again changes nothing. SetBudget returns an error wrapping
// ErrInvalidPacing for a negative budget or a total period.
func (p *EvenPacer) SetBudget(account string, budget int64, period Period) error {
	if budget < 0 {
		return fmt.Errorf("%w: negative budget %d for %q", ErrInvalidPacing, budget, account)
	}
	if !period.Daily {
		return fmt.Errorf("%w: total period for %q has no end; use SetFlight", ErrInvalidPacing, account)
	}
	p.set(account, budget, period, false, time.Time{}, time.Time{})
	return nil
}

// SetFlight paces account to spend budget micros over the flight from start
// to end, the way SetBudget paces a daily budget over a day. Before start
// the account takes part at the min rate; from end on, at whatever rate
// spends what is left, as fast as it can. Changing a flight keeps the spend
// recorded. SetFlight returns an error wrapping ErrInvalidPacing for a
// negative budget or an end not after start.
func (p *EvenPacer) SetFlight(account string, budget int64, start, end time.Time) error {
	if budget < 0 {
		return fmt.Errorf("%w: negative budget %d for %q", ErrInvalidPacing, budget, account)
	}
	if !end.After(start) {
		return fmt.Errorf("%w: flight for %q ends at %v, not after its start %v", ErrInvalidPacing, account, end, start)
	}
	p.set(account, budget, Period{}, true, start, end)
	return nil
}

func (p *EvenPacer) set(account string, budget int64, period Period, flight bool, start, end time.Time) {
	now := p.cfg.clock.Now()
	if !flight {
		start, end = period.Start(now), period.Next(now)
	}
	v, ok := p.accounts.Load(account)
	if !ok {
		// Set the new account up fully before Allow can see it.
		a := &pacedAccount{budget: budget, period: period, span: span{flight: flight, start: start, end: end}}
		p.plan(a, now)
		if v, ok = p.accounts.LoadOrStore(account, a); !ok {
			return
		}
	}
	a := v.(*pacedAccount)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.budget == budget && a.period == period && a.flight == flight && a.start.Equal(start) && a.end.Equal(end) {
		return
	}
	p.learn(a, now)
	if !a.flight && !now.Before(a.end) {
		a.spent.Store(0) // what was recorded belongs to a period now over
	}
	a.budget, a.period, a.flight, a.start, a.end = budget, period, flight, start, end
	p.plan(a, now)
}

// Rate returns account's participation probability as of its last step,
// or 1 for an account without a budget.
func (p *EvenPacer) Rate(account string) float64 {
	v, ok := p.accounts.Load(account)
	if !ok {
		return 1
	}
	return math.Float64frombits(v.(*pacedAccount).rate.Load())
}

// Target returns the spend that account should have made by t since the
// start of the period holding t (or of its flight), in micros: the budget
// times the share of the period's traffic before t. It returns 0 for an
// account without a budget.
func (p *EvenPacer) Target(account string, t time.Time) int64 {
	v, ok := p.accounts.Load(account)
	if !ok {
		return 0
	}
	a := v.(*pacedAccount)
	a.mu.Lock()
	budget, flight, start, end := a.budget, a.flight, a.start, a.end
	if !flight {
		start, end = a.period.Start(t), a.period.Next(t)
	}
	a.mu.Unlock()
	return int64(math.Round(float64(budget) * p.cfg.shape.curve(t, start, end, flight)))
}

// maybeStep runs a step of a if one is due and no other call is running it.
func (p *EvenPacer) maybeStep(a *pacedAccount) {
	now := p.cfg.clock.Now()
	if !a.due(now, p.cfg.step) || !a.mu.TryLock() {
		return
	}
	if a.due(now, p.cfg.step) {
		p.learn(a, now)
		if !a.flight && !now.Before(a.end) {
			a.start, a.end = a.period.Start(now), a.period.Next(now)
			a.spent.Store(0)
		}
		p.plan(a, now)
	}
	a.mu.Unlock()
}

// due reports whether a step is due at now: the clock has reached the time
// planned for it, or was set back by more than a step (that step then
// learns nothing).
func (a *pacedAccount) due(now time.Time, step time.Duration) bool {
	n, next := now.UnixNano(), a.next.Load()
	return n >= next || next-n > int64(step)
}

// learn updates a's demand estimate with the step that ends at now. a.mu
// is held.
func (p *EvenPacer) learn(a *pacedAccount, now time.Time) {
	p.cfg.learn(&a.state, a.span, now, a.stepSpent.Swap(0))
}

// plan starts a step of a at now. a.mu is held.
func (p *EvenPacer) plan(a *pacedAccount, now time.Time) {
	next := p.cfg.plan(&a.state, a.budget, a.span, now, a.spent.Load())
	a.rate.Store(math.Float64bits(a.state.Rate))
	a.next.Store(next.UnixNano())
}

// Step runs one step of account's controller on a state kept outside the
// pacer (see PacingState), the step the pacer runs on the state it keeps:
// it learns the demand from stepSpent, the spend since s.StepStart, then
// plans the step that begins at now from spent, the spend so far in the
// period (or flight) that holds now, both in micros. It returns the new
// state and when the next step is due. Step uses the account's budget
// (SetBudget, SetFlight) and the pacer's options, and changes nothing in
// the pacer. For an account without a budget it returns s unchanged and
// ok false. It is safe for concurrent use.
func (p *EvenPacer) Step(account string, s PacingState, now time.Time, spent, stepSpent int64) (_ PacingState, next time.Time, ok bool) {
	v, ok := p.accounts.Load(account)
	if !ok {
		return s, time.Time{}, false
	}
	a := v.(*pacedAccount)
	a.mu.Lock()
	budget, period, sp := a.budget, a.period, a.span
	a.mu.Unlock()
	if !s.StepStart.IsZero() {
		last := sp // the span the step that ends ran in
		if !sp.flight {
			last.start, last.end = period.Start(s.StepStart), period.Next(s.StepStart)
		}
		p.cfg.learn(&s, last, now, stepSpent)
	}
	if !sp.flight {
		sp.start, sp.end = period.Start(now), period.Next(now)
	}
	next = p.cfg.plan(&s, budget, sp, now, spent)
	return s, next, true
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
// step is due. budget is spread over sp, in which spent is spent so far.
func (c *pacerConfig) plan(s *PacingState, budget int64, sp span, now time.Time, spent int64) time.Time {
	next := now.Add(c.step)
	if now.Before(sp.end) && sp.end.Before(next) {
		next = sp.end // a step never straddles a period's end
	}
	cNow, cNext := sp.curve(c.shape, now), sp.curve(c.shape, next)
	b, sf := float64(budget), float64(spent)
	steps := 1.0 // steps left to close the gap in
	if left := sp.end.Sub(now); left > 0 {
		steps = min(catchUpSteps, math.Ceil(float64(left)/float64(c.step)))
	}
	need := b*(cNext-cNow) + (b*cNow-sf)/steps
	need = min(need, b-sf)
	var demand float64 // spend over the next step at p = 1
	if s.ReachAvg > 0 {
		demand = s.SpendAvg / s.ReachAvg * (cNext - cNow)
	}
	rate := 1.0
	switch {
	case need <= 0:
		rate = c.minRate
	case demand > 0:
		rate = min(max(need/demand, c.minRate), 1)
	}
	s.Rate = rate
	s.StepStart = now
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
