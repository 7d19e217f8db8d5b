package gavelredis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
)

// Defaults of the Pacer options. The controller's options have the
// defaults of gavel's: gavel.DefaultPacerStep, gavel.DefaultMinRate, and a
// uniform traffic shape.
const (
	DefaultSyncInterval = 250 * time.Millisecond
	DefaultLockTTL      = 2 * time.Second
)

// Pacer is a gavel.Pacer for a budget that several processes spend
// together: it paces the global spend, kept in Redis, with the controller
// of gavel.EvenPacer, so that every process takes part in an account's
// auctions with the same probability p and the processes together follow
// the budget's target curve.
//
// # Design
//
// Allow and Spend stay local: Allow reads p from an atomic, Spend adds to
// an atomic counter of spend not yet sent. Neither does I/O, waits for a
// lock or allocates. All traffic with Redis happens in Sync, which a
// background goroutine runs every sync interval (WithSyncInterval) and
// which does, in order:
//
//  1. flush: add the spend recorded since the last flush to the account's
//     global spend in its current period, and to its spend since the last
//     step, in one script per account;
//  2. refresh: read each account's controller state (p, demand estimate,
//     when the next step is due) through the client-side cache, so that
//     an unchanged state costs no round trip, into the local atomics;
//  3. step: for each account whose step is due by the pacer's clock
//     (WithPacerClock), take the account's step lock (SET NX PX, for
//     WithLockTTL) in a script that also checks that no other process
//     stepped since the refresh and reads the global spend; run the
//     controller (gavel.EvenPacer.Step) on the global spend; and write the
//     new state and drop the lock in a second script, unless the lock was
//     lost meanwhile. The state written invalidates every other process's
//     cached copy, so they read it at their next Sync.
//
// Which process steps does not matter: the one whose Sync finds the step
// due first. The controller's options (WithPacerStep, WithTrafficShape,
// WithMinRate) and the budgets (SetBudget) must be the same in every
// process; each step uses those of the process that runs it. The state
// also says where the budget's target curve starts (gavel.PacingState):
// the first step of a budget, by whichever process, starts it from the
// global spend then, and every process follows it, also one started
// later. A step by a process whose budget differs from the one the curve
// was started for (while a change rolls out) starts a new curve, from the
// global spend then.
//
// # Staleness
//
// With a sync interval S and a step T (WithPacerStep, 1 minute by
// default): spend reaches Redis at most S after Spend; a step runs at most
// S after it is due, and misses at most the last S of each other
// process's spend, which then counts in the next step; and every process
// applies a new p at most S after the step, plus the time Redis takes to
// deliver an invalidation. A process so runs on a p at most T + 2S old.
// Spend flushed at the turn of a daily period counts in the period current
// at the flush, so up to S of spend may land in the next period.
//
// # When Redis is down
//
// Allow goes on with the last p each process read, and Spend keeps adding
// up locally. Sync stops at the first part that cannot reach Redis (the
// client may retry a read until the Sync's ctx ends; writes are not
// retried), counts the error (Stats) and tells the PacerErrorHooks; the
// spend not flushed is sent with the next Sync that succeeds. No step runs, so p stays where it was
// until Redis is back; the ledger, not the pacer, keeps the budget from
// being overspent meanwhile. A flush whose reply is lost after Redis
// applied it (a timeout) is sent again with the same id and amount before
// anything spent since, and counts once: Redis remembers each flush id it
// applied for 10 minutes (P:pacer:{A}:flush:ID).
//
// # When Redis loses its state
//
// A Redis restarted empty or flushed has lost every process's recorded
// spend. Each Sync reads the pacer's epoch marker first (P:pacer:epoch,
// written by the first Sync on a Redis without one): when it is gone, or
// replaced other than by Rearm, the pacer freezes: Allow keeps the last p,
// Spend keeps adding up locally, Sync sends nothing and returns an error
// wrapping ErrLedgerLost; counted (PacerStats.Wipes), told to the
// PacerErrorHooks (PacerEpoch) and logged (WithPacerLogger), once per
// loss. Restore puts each account's spend back, Rearm writes a new
// marker; every process then syncs again, its local spend on top.
//
// # Keys
//
// With the key prefix P (WithKeyPrefix, default DefaultKeyPrefix, "gavel")
// and the account A, all of an account's keys share the hash tag {A}, so
// the scripts also run on a Redis Cluster:
//
//	P:pacer:{A}:state           the controller state, JSON with "v":2 (see PacerStateVersion)
//	P:pacer:{A}:spent:<start>   spend in the period or flight that starts at <start>, Unix seconds
//	P:pacer:{A}:spent:total     spend of a total budget (PacingASAP)
//	P:pacer:{A}:step            spend since the last step
//	P:pacer:{A}:lock            the step lock
//	P:pacer:{A}:flush:<id>      a flush applied, kept 10 minutes so that it is applied once
//	P:pacer:epoch               the epoch marker (see When Redis loses its state)
//
// Spend counters expire a day after their period or flight ends (that of
// a total budget, a day after its last flush), the state a week after its
// last step.
//
// A Pacer is safe for concurrent use; it does not own its client. Create
// one with NewPacer, and Close it to stop its goroutine and flush what is
// left. The zero value is not usable.
type Pacer struct {
	client   rueidis.Client
	even     *gavel.EvenPacer // budgets, options and the controller; its own state is unused
	clock    gavel.Clock
	prefix   string // P:pacer:
	interval time.Duration
	lockTTL  time.Duration
	errHooks []PacerErrorHook
	stepHook []PacerStepHook
	token    string // this process's lock token prefix
	logger   *slog.Logger
	epoch    pacerEpoch // pacer_epoch.go

	accounts sync.Map // name -> *pacerAccount
	mu       sync.Mutex
	list     []*pacerAccount // every account, in the order they came; under mu

	syncMu  sync.Mutex // one Sync at a time
	locks   uint64     // lock tokens handed out; under syncMu
	flushes uint64     // flush ids handed out; under syncMu

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	stats pacerCounters
}

var (
	_ gavel.Pacer        = (*Pacer)(nil)
	_ gavel.BudgetSetter = (*Pacer)(nil)
)

// pacerAccount is one account's local pacing state. Allow reads rate and
// Spend adds to pending without a lock; the rest belongs to Sync (syncMu),
// except what mu guards: the budget, which SetBudget changes, and a copy of
// the state for Target.
type pacerAccount struct {
	rate atomic.Uint64 // p, float64 bits
	_    [56]byte      // keeps Spend's counter off the cache line Allow reads

	pending  atomic.Int64 // spend not yet flushed, micros
	unacked  atomic.Int64 // spend of the flush sent and not yet acknowledged (flushID); written under syncMu
	flushID  string       // the id of that flush; under syncMu
	flushKey string       // prefix of the flush markers' keys

	name                       string
	stateKey, stepKey, lockKey string
	spentKey                   string // prefix of the spend counters' keys

	raw        string // the state record last read
	state      gavel.PacingState
	next       int64 // Unix nanoseconds when the next step is due; 0: now
	unreadable bool  // the last refresh failed: no step until one succeeds

	mu     sync.Mutex
	budget gavel.Budget
	shared gavel.PacingState // state, for Target
}

// A PacerOption configures a Pacer. NewPacer applies options in order; a
// later option overrides an earlier one of the same kind, except
// WithPacerHooks, which adds. WithKeyPrefix is a PacerOption too.
type PacerOption interface {
	applyPacer(*pacerConfig)
}

type pacerConfig struct {
	prefix   string
	clock    gavel.Clock
	pacing   []gavel.PacerOption // the controller's options, for gavel.NewEvenPacer
	interval time.Duration
	lockTTL  time.Duration
	hooks    []PacerHook
	logger   *slog.Logger
	errs     []error
}

func (c *pacerConfig) fail(format string, args ...any) {
	c.errs = append(c.errs, invalidOption(pacerWhat, format, args...))
}

type pacerOptionFunc func(*pacerConfig)

func (f pacerOptionFunc) applyPacer(c *pacerConfig) { f(c) }

// WithPacerClock sets the clock that decides when steps are due and which
// period spend belongs to, as gavel.WithPacerClock does for an EvenPacer;
// it must not be nil. The background goroutine runs Sync on the wall
// clock whatever this clock says. Default: the system clock.
func WithPacerClock(clock gavel.Clock) PacerOption {
	return pacerOptionFunc(func(c *pacerConfig) {
		if clock == nil {
			c.fail("pacer clock must not be nil")
			return
		}
		c.clock = clock
	})
}

// WithPacerStep sets how often each account's participation probability
// is adapted to the spend of every process, as gavel.WithPacerStep does
// for an EvenPacer, with the same bounds. Default gavel.DefaultPacerStep
// (1 minute).
func WithPacerStep(d time.Duration) PacerOption {
	return pacerOptionFunc(func(c *pacerConfig) { c.pacing = append(c.pacing, gavel.WithPacerStep(d)) })
}

// WithTrafficShape sets the relative traffic of each equal slice of a
// day, as gavel.WithTrafficShape does for an EvenPacer, with the same
// bounds. Default: uniform.
func WithTrafficShape(weights []float64) PacerOption {
	return pacerOptionFunc(func(c *pacerConfig) { c.pacing = append(c.pacing, gavel.WithTrafficShape(weights)) })
}

// WithMinRate sets the floor of the participation probability, in [0, 1],
// as gavel.WithMinRate does for an EvenPacer. Default gavel.DefaultMinRate
// (0.001).
func WithMinRate(p float64) PacerOption {
	return pacerOptionFunc(func(c *pacerConfig) { c.pacing = append(c.pacing, gavel.WithMinRate(p)) })
}

// WithSyncInterval sets how often the background goroutine runs Sync, and
// bounds each of its runs. 0 starts no goroutine: the owner calls Sync
// itself (a test with a virtual clock, or a program with its own
// scheduler). Default DefaultSyncInterval (250ms).
func WithSyncInterval(d time.Duration) PacerOption {
	return pacerOptionFunc(func(c *pacerConfig) {
		if d < 0 {
			c.fail("sync interval must not be negative, got %v", d)
			return
		}
		c.interval = d
	})
}

// WithLockTTL sets how long a step lock lives when the process that took it
// does not drop it, for example because it died during the step. It must
// be longer than a step takes (two round trips). Default DefaultLockTTL
// (2s).
func WithLockTTL(d time.Duration) PacerOption {
	return pacerOptionFunc(func(c *pacerConfig) {
		if d < time.Millisecond {
			c.fail("lock ttl must be at least 1ms, got %v", d)
			return
		}
		c.lockTTL = d
	})
}

// A PacerHook observes a Pacer. It is any value that implements one or
// more of PacerErrorHook and PacerStepHook; register hooks with
// WithPacerHooks. Hooks are called from Sync, one at a time, and must not
// block.
type PacerHook any

// PacerErrorHook is told of every failure to reach Redis or to read what
// it holds. account is "" when the failure is not one account's.
type PacerErrorHook interface {
	OnPacerError(op PacerOp, account string, err error)
}

// PacerStepHook is told of every step this process runs.
type PacerStepHook interface {
	OnPacerStep(account string, state gavel.PacingState, next time.Time)
}

// PacerOp names the part of Sync that failed.
type PacerOp string

// The parts of Sync.
const (
	PacerFlush   PacerOp = "flush"
	PacerRefresh PacerOp = "refresh"
	PacerStep    PacerOp = "step"
)

// WithPacerHooks registers hooks (see PacerHook); later calls add to
// earlier ones. NewPacer refuses a hook that implements no hook interface.
// Default: none.
func WithPacerHooks(hooks ...PacerHook) PacerOption {
	return pacerOptionFunc(func(c *pacerConfig) { c.hooks = append(c.hooks, hooks...) })
}

// NewPacer returns a Pacer that keeps its shared state in Redis through
// client and, unless WithSyncInterval(0), starts the goroutine that runs
// Sync. It does no I/O. It returns an error wrapping gavel.ErrInvalidOption
// for a nil client, an option out of range, or a hook that implements no
// hook interface, all such problems at once.
func NewPacer(client rueidis.Client, opts ...PacerOption) (*Pacer, error) {
	cfg := pacerConfig{
		prefix:   DefaultKeyPrefix,
		clock:    pacerSystemClock{},
		interval: DefaultSyncInterval,
		lockTTL:  DefaultLockTTL,
		logger:   slog.Default(),
	}
	for _, o := range opts {
		o.applyPacer(&cfg)
	}
	if client == nil {
		cfg.fail("nil client")
	}
	p := &Pacer{
		client:   client,
		clock:    cfg.clock,
		prefix:   cfg.prefix + ":pacer:",
		interval: cfg.interval,
		lockTTL:  cfg.lockTTL,
		token:    newPacerToken(),
		logger:   cfg.logger,
	}
	for _, h := range cfg.hooks {
		eh, okE := h.(PacerErrorHook)
		sh, okS := h.(PacerStepHook)
		if okE {
			p.errHooks = append(p.errHooks, eh)
		}
		if okS {
			p.stepHook = append(p.stepHook, sh)
		}
		if !okE && !okS {
			cfg.fail("hook %T implements no hook interface", h)
		}
	}
	even, err := gavel.NewEvenPacer(append(cfg.pacing, gavel.WithPacerClock(cfg.clock))...)
	if err != nil {
		cfg.errs = append(cfg.errs, err)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	p.even = even
	if p.interval > 0 {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.loop()
	}
	return p, nil
}

// Allow implements gavel.Pacer: account takes part when the draw, read as a
// number in [0, 1), is below its p. It returns true for an account without
// a budget. It does no I/O and does not allocate.
func (p *Pacer) Allow(_ context.Context, account string, draw uint64) bool {
	v, ok := p.accounts.Load(account)
	if !ok {
		return true
	}
	rate := math.Float64frombits(v.(*pacerAccount).rate.Load())
	// The top 53 bits of the draw as a uniform number in [0, 1).
	return rate >= 1 || float64(draw>>11)/(1<<53) < rate
}

// Spend implements gavel.Pacer. The amount is sent to Redis by the next
// Sync. Spend ignores an account without a budget. It does no I/O.
func (p *Pacer) Spend(_ context.Context, account string, amount int64) {
	if v, ok := p.accounts.Load(account); ok {
		v.(*pacerAccount).pending.Add(amount)
	}
}

// SetBudget implements gavel.BudgetSetter: it paces b.Account to spend
// b.Amount in each daily period or over its flight, as
// gavel.EvenPacer.SetBudget does, on the spend of every process. Every
// process must set the same budget. It does no I/O: the account takes
// part in every auction (p = 1) until the first Sync reads its shared
// state; call Sync after SetBudget to start from it at once.
//
// The first step that any process runs for a budget (a new account, or a
// new amount, period, flight or pacing) starts the budget's target curve
// in the shared state, from the global spend then: in the period under
// way, what is left of the budget is spread over what is left of the
// period (see gavel.PacingState). Processes that set the same budget later,
// or again after a restart, keep that curve. The spend of a flight is kept
// under its start: a flight that changes only its end keeps it.
//
// It returns the errors of gavel.EvenPacer.SetBudget.
func (p *Pacer) SetBudget(ctx context.Context, b gavel.Budget) error {
	if err := p.even.SetBudget(ctx, b); err != nil {
		return err
	}
	a := p.account(b.Account)
	a.mu.Lock()
	a.budget = b
	a.mu.Unlock()
	return nil
}

// account returns account's local state, created on first use.
func (p *Pacer) account(name string) *pacerAccount {
	if v, ok := p.accounts.Load(name); ok {
		return v.(*pacerAccount)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.accounts.Load(name); ok {
		return v.(*pacerAccount)
	}
	base := p.prefix + "{" + name + "}:"
	a := &pacerAccount{
		name:     name,
		stateKey: base + "state",
		stepKey:  base + "step",
		lockKey:  base + "lock",
		spentKey: base + "spent:",
		flushKey: base + "flush:",
	}
	a.rate.Store(math.Float64bits(1))
	p.list = append(p.list, a)
	p.accounts.Store(name, a)
	return a
}

// Rate returns account's p as this process last read it, or 1 for an
// account without a budget.
func (p *Pacer) Rate(account string) float64 {
	if v, ok := p.accounts.Load(account); ok {
		return math.Float64frombits(v.(*pacerAccount).rate.Load())
	}
	return 1
}

// Target returns the spend that account should have made by t, as
// gavel.EvenPacer.Target does, on the curve of the shared state this
// process last read (before it read any, the budget's whole curve). It
// returns 0 for an account without a budget.
func (p *Pacer) Target(account string, t time.Time) int64 {
	v, ok := p.accounts.Load(account)
	if !ok {
		return 0
	}
	a := v.(*pacerAccount)
	a.mu.Lock()
	s := a.shared
	a.mu.Unlock()
	return p.even.StateTarget(account, s, t)
}

// Close stops the background goroutine, waits for a Sync it is running,
// and flushes the spend not yet sent, under ctx. It returns the flush's
// error; the spend it could not send is lost with the Pacer. Allow and
// Spend still work after Close, locally.
func (p *Pacer) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		if p.stop != nil {
			close(p.stop)
			<-p.done
		}
	})
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	if _, lost := p.Lost(); lost {
		var pending int64
		for _, a := range p.accountList() {
			pending += a.pending.Load() + a.unacked.Load()
		}
		return fmt.Errorf("gavel: redis pacer: %d micros recorded not flushed: %w", pending, ErrLedgerLost)
	}
	return p.flush(ctx, p.accountList())
}

func (p *Pacer) loop() {
	defer close(p.done)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), p.interval)
			_ = p.Sync(ctx) // counted and reported to the hooks
			cancel()
		}
	}
}

// Sync exchanges the pacer's state with Redis: it flushes the local spend,
// reads every account's shared state, and runs the steps that are due (see
// Pacer). The background goroutine calls it every sync interval; calls wait
// for each other. It returns the errors met, joined; a Sync that fails in
// part still does the rest.
func (p *Pacer) Sync(ctx context.Context) error {
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	p.stats.syncs.Add(1)
	accounts := p.accountList()
	if len(accounts) == 0 {
		return nil
	}
	// The marker first: on a Redis that lost the spend, nothing is sent.
	if err := p.syncEpoch(ctx); err != nil {
		return err
	}
	// A part that cannot reach Redis ends the Sync: the next would fail too.
	err := p.flush(ctx, accounts)
	if unreachable(err) {
		return err
	}
	err2 := p.refresh(ctx, accounts)
	if unreachable(err2) {
		return errors.Join(err, err2)
	}
	return errors.Join(err, err2, p.step(ctx, accounts))
}

// unreachable reports whether err is a failure to talk to Redis at all,
// rather than an error Redis answered or a state it could not read.
func unreachable(err error) bool {
	var re *rueidis.RedisError
	var de *pacerDataError
	return err != nil && !errors.As(err, &re) && !errors.As(err, &de)
}

func (p *Pacer) accountList() []*pacerAccount {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.list[:len(p.list):len(p.list)]
}

// fail counts and reports an error of op for account, and returns it
// wrapped.
func (p *Pacer) fail(op PacerOp, account string, err error) error {
	p.stats.errors.Add(1)
	for _, h := range p.errHooks {
		h.OnPacerError(op, account, err)
	}
	if account == "" {
		return fmt.Errorf("gavel: redis pacer %s: %w", op, err)
	}
	return fmt.Errorf("gavel: redis pacer %s %q: %w", op, account, err)
}

// PacerStats are a Pacer's counters since NewPacer.
type PacerStats struct {
	Syncs     int64 // calls of Sync
	Flushes   int64 // accounts' spend written to Redis
	Flushed   int64 // micros written to Redis
	Pending   int64 // micros recorded and not yet written, now
	Refreshes int64 // shared states read, from the client-side cache or Redis
	Steps     int64 // steps this process ran
	Busy      int64 // due steps left to another process that held the lock or had just stepped
	Errors    int64 // failures to reach Redis or to read what it holds
	Wipes     int64 // times the pacer found that Redis lost the recorded spend (see Pacer)
}

type pacerCounters struct {
	syncs, flushes, flushed, refreshes, steps, busy, errors, wipes atomic.Int64
}

// Stats returns the pacer's counters.
func (p *Pacer) Stats() PacerStats {
	var pending int64
	for _, a := range p.accountList() {
		pending += a.pending.Load() + a.unacked.Load()
	}
	s := &p.stats
	return PacerStats{
		Syncs:     s.syncs.Load(),
		Flushes:   s.flushes.Load(),
		Flushed:   s.flushed.Load(),
		Pending:   pending,
		Refreshes: s.refreshes.Load(),
		Steps:     s.steps.Load(),
		Busy:      s.busy.Load(),
		Errors:    s.errors.Load(),
		Wipes:     s.wipes.Load(),
	}
}

type pacerSystemClock struct{}

func (pacerSystemClock) Now() time.Time { return time.Now() }
