package gavel

import (
	"context"
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
// auctions per step; a step should see a few dozen wins. Until an account's
// demand is known (right after SetBudget), its steps last an eighth of d.
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
// stretches the slices to fit; a flight (Budget.Start, End) lays the shape over
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
// compares the spend so far with the target, and sets p to what the next
// step needs: the target's growth over the step plus a tenth of the gap
// between target and spend (all that is left of the gap in the period's
// last step), divided by the demand, the spend the account would make over
// the step at p = 1. The demand is learned from the spend of the steps
// before, divided by the p they ran at and by their share of the traffic,
// and smoothed. An account behind its target with no demand known gets
// p = 1, for short learning steps (an eighth of a step) until it knows its
// demand; an account at or ahead of its target gets the min rate. At the
// start of each new period the spend starts again from zero, and the demand
// learned carries over.
//
// The target is the budget times the share of the period's traffic already
// past (WithTrafficShape; uniform by default), except in the period in which
// the budget is declared: there the curve starts when SetBudget is called,
// and spreads what is left of the budget (all of it, for a new account)
// over what is left of the period, along the same traffic shape; see
// PacingState. A budget declared at 17:05 is so spent between 17:05 and
// midnight as a day's would be, not caught up at once for the hours before
// 17:05.
//
// Accounts without a budget here (see SetBudget) are not paced: Allow
// returns true and Spend ignores them. An account with PacingASAP takes
// part in every auction; its spend is still counted, and its demand
// learned, for the day it turns to PacingEven.
//
// The pacer steps lazily, from Spend and from one Allow in 16 (picked by
// the draw), so an account's state costs nothing between its auctions.
// Allow reads a few atomics and never waits for a lock; Spend adds to
// atomic counters; the step runs under a per-account mutex taken with
// TryLock by whichever call finds it due first.
//
// The pacer knows only the spend it is told about. After a restart in the
// middle of a period, the curve starts again at SetBudget with nothing
// spent: tell it the period's spend so far with Spend right after SetBudget,
// and it will hold the account back until the target has caught up with
// that spend, to end the period on the budget.
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

var _ BudgetSetter = (*EvenPacer)(nil)

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
	budget Budget
	id     uint64 // budget.fingerprint()
	span          // the current period, or the flight
	state  PacingState
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

// SetBudget implements BudgetSetter: it paces b.Account to spend b.Amount
// in each daily period, or over its flight, from now on. Before a flight
// the account takes part at the min rate; from its end on, at whatever
// rate spends what is left, as fast as it can. In the period (or flight)
// under way, the target spreads what is left over what is left of it (see
// EvenPacer). A budget of 0 keeps the account at the min rate.
//
// Setting a new budget keeps the spend recorded for the current period and
// the demand learned, and applies at once: the target then spreads what is
// left of the new amount over what is left of the period. Setting the same
// budget again changes nothing.
//
// It returns an error wrapping ErrInvalidBudget for a Budget that Validate
// refuses, one wrapping ErrInvalidPacing for a total budget with
// PacingEven, which has no end to spread it over, and ctx.Err() if ctx is
// done; it then changes nothing. It does not block.
func (p *EvenPacer) SetBudget(ctx context.Context, b Budget) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.validatePacing(); err != nil {
		return err
	}
	now := p.cfg.clock.Now()
	id, sp := b.fingerprint(), spanOf(b, now)
	v, ok := p.accounts.Load(b.Account)
	if !ok {
		// Set the new account up fully before Allow can see it.
		a := &pacedAccount{budget: b, id: id, span: sp}
		p.plan(a, now)
		if v, ok = p.accounts.LoadOrStore(b.Account, a); !ok {
			return nil
		}
	}
	a := v.(*pacedAccount)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.id == id {
		return nil
	}
	p.learn(a, now)
	if a.budget.Period.Daily && !now.Before(a.end) {
		a.spent.Store(0) // what was recorded belongs to a period now over
	}
	a.budget, a.id, a.span = b, id, sp
	p.plan(a, now)
	return nil
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
// times the share of the period's traffic before t or, in the period in
// which the budget was declared, what the curve started then asks for by t
// (before the declaration: what was spent at it). For a budget with
// PacingASAP it is the whole budget. It returns 0 for an account without a
// budget.
func (p *EvenPacer) Target(account string, t time.Time) int64 {
	v, ok := p.accounts.Load(account)
	if !ok {
		return 0
	}
	a := v.(*pacedAccount)
	a.mu.Lock()
	b, id, s := a.budget, a.id, a.state
	a.mu.Unlock()
	return int64(math.Round(p.cfg.target(&s, pacedAt(b, id, t), t)))
}

// StateTarget is Target for a state kept outside the pacer (see Step):
// the spend that the curve of s asks of account by t, with the account's
// budget here. It returns 0 for an account without a budget.
func (p *EvenPacer) StateTarget(account string, s PacingState, t time.Time) int64 {
	b, id, ok := p.budget(account)
	if !ok {
		return 0
	}
	return int64(math.Round(p.cfg.target(&s, pacedAt(b, id, t), t)))
}

// budget returns account's budget and its fingerprint.
func (p *EvenPacer) budget(account string) (Budget, uint64, bool) {
	v, ok := p.accounts.Load(account)
	if !ok {
		return Budget{}, 0, false
	}
	a := v.(*pacedAccount)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.budget, a.id, true
}

// maybeStep runs a step of a if one is due and no other call is running it.
func (p *EvenPacer) maybeStep(a *pacedAccount) {
	now := p.cfg.clock.Now()
	if !a.due(now, p.cfg.step) || !a.mu.TryLock() {
		return
	}
	if a.due(now, p.cfg.step) {
		p.learn(a, now)
		if a.budget.Period.Daily && !now.Before(a.end) {
			a.span = spanOf(a.budget, now)
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
	pb := paced{amount: a.budget.Amount, asap: a.budget.Pacing == PacingASAP, id: a.id, span: a.span}
	next := p.cfg.plan(&a.state, pb, now, a.spent.Load())
	a.rate.Store(math.Float64bits(a.state.Rate))
	a.next.Store(next.UnixNano())
}

// Step runs one step of account's controller on a state kept outside the
// pacer (see PacingState), the step the pacer runs on the state it keeps:
// it learns the demand from stepSpent, the spend since s.StepStart, then
// plans the step that begins at now from spent, the spend so far in the
// period (or flight) that holds now, both in micros. The first step of a
// budget (s.StepStart zero, or s.BudgetID another budget's) starts its
// target curve at now. It returns the new state and when the next step is
// due. Step uses the account's budget (SetBudget) and the pacer's options,
// and changes nothing in the pacer. For an account without a budget it
// returns s unchanged and ok false. It is safe for concurrent use.
func (p *EvenPacer) Step(account string, s PacingState, now time.Time, spent, stepSpent int64) (_ PacingState, next time.Time, ok bool) {
	b, id, ok := p.budget(account)
	if !ok {
		return s, time.Time{}, false
	}
	if !s.StepStart.IsZero() {
		p.cfg.learn(&s, spanOf(b, s.StepStart), now, stepSpent) // the span the step that ends ran in
	}
	next = p.cfg.plan(&s, pacedAt(b, id, now), now, spent)
	return s, next, true
}
