package gavelredis

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
)

// PacerStateVersion is the version of the stored controller state, its
// field "v". Version 2 added the start of the target curve (from,
// from_spent, budget_id). A Pacer reads a state of version 1 as one whose
// curve has not started, which its next step starts; it treats a state of
// a later version as an error and leaves it alone.
const PacerStateVersion = 2

const (
	// pacerStateTTL is how long an account's state and its spend since the
	// last step live in Redis after they were last written.
	pacerStateTTL = 7 * 24 * time.Hour
	// pacerSpentTTL is how long a period's spend lives after the period.
	pacerSpentTTL = 24 * time.Hour
	// pacerStateCacheTTL bounds how long a state stays in the client-side
	// cache; Redis invalidates it sooner when a step writes it.
	pacerStateCacheTTL = time.Minute
	// pacerFlushTTL is how long Redis remembers a flush it applied, so that
	// sending it again adds nothing. A flush whose answer was lost and that
	// is sent again only after this long (Redis unreachable all that time)
	// could count twice.
	pacerFlushTTL = 10 * time.Minute
)

// flushScript adds a process's spend to the account's spend in the period
// and since the last step, once per flush id: a flush whose answer was lost
// (a timeout after Redis applied it) is sent again with the same id and
// amount, and the second time changes nothing.
//
//	KEYS[1] spend in the period, KEYS[2] spend since the last step, KEYS[3] the flush id's marker
//	ARGV[1] amount, ARGV[2] ttl of KEYS[1] in ms, ARGV[3] ttl of KEYS[2] in ms, ARGV[4] ttl of KEYS[3] in ms
var flushScript = newPacerScript(`
if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[4]) then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('INCRBY', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1`)

// takeScript starts a step: unless the state changed since the caller read
// it (the answer is then {"0", state}), it takes the step lock (or answers
// {"1", state} when another process holds it), and answers {"2", state,
// spend since the last step, which it resets, spend in the period}.
//
//	KEYS[1] state, KEYS[2] lock, KEYS[3] spend since the last step, KEYS[4] spend in the period
//	ARGV[1] the state the caller read ("" for none), ARGV[2] lock token, ARGV[3] lock ttl in ms
var takeScript = newPacerScript(`
local state = redis.call('GET', KEYS[1]) or ''
if state ~= ARGV[1] then return {'0', state} end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return {'1', state} end
local step = redis.call('GETDEL', KEYS[3]) or '0'
local spent = redis.call('GET', KEYS[4]) or '0'
return {'2', state, step, spent}`)

// commitScript ends a step: if the caller still holds the lock, it writes
// the new state and drops the lock, and answers 1; otherwise 0.
//
//	KEYS[1] state, KEYS[2] lock
//	ARGV[1] lock token, ARGV[2] new state, ARGV[3] state ttl in ms
var commitScript = newPacerScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1`)

// flush sends every account's spend recorded since the last flush. The
// spend of a flush that failed is sent again, with the same id and amount,
// before anything recorded since: whether Redis applied it or not, it then
// counts once (flushScript). Sync holds syncMu.
func (p *Pacer) flush(ctx context.Context, accounts []*pacerAccount) error {
	now := p.clock.Now()
	var (
		execs   []rueidis.LuaExec
		flushed []*pacerAccount
	)
	for _, a := range accounts {
		if a.unacked.Load() == 0 {
			amount := a.pending.Swap(0)
			if amount == 0 {
				continue
			}
			p.flushes++
			a.flushID = p.token + strconv.FormatUint(p.flushes, 10)
			a.unacked.Store(amount)
		}
		key, ttl := a.spentKeyAt(now)
		execs = append(execs, rueidis.LuaExec{
			Keys: []string{key, a.stepKey, a.flushKey + a.flushID},
			Args: []string{strconv.FormatInt(a.unacked.Load(), 10), pacerMillis(ttl), pacerMillis(pacerStateTTL), pacerMillis(pacerFlushTTL)},
		})
		flushed = append(flushed, a)
	}
	if len(execs) == 0 {
		return nil
	}
	var first error
	for i, r := range flushScript.run(ctx, p.client, execs) {
		a := flushed[i]
		if err := r.Error(); err != nil {
			first = pacerFirst(first, p.fail(PacerFlush, a.name, err))
			continue
		}
		p.stats.flushes.Add(1)
		p.stats.flushed.Add(a.unacked.Swap(0))
	}
	return first
}

// refresh reads every account's shared state, through the client-side
// cache, and applies it.
func (p *Pacer) refresh(ctx context.Context, accounts []*pacerAccount) error {
	gets := make([]rueidis.CacheableTTL, len(accounts))
	for i, a := range accounts {
		gets[i] = rueidis.CT(p.client.B().Get().Key(a.stateKey).Cache(), pacerStateCacheTTL)
	}
	var first error
	for i, r := range p.client.DoMultiCache(ctx, gets...) {
		a := accounts[i]
		raw, err := r.ToString()
		if rueidis.IsRedisNil(err) {
			raw, err = "", nil
		}
		if err == nil {
			err = a.adopt(raw)
		}
		a.unreadable = err != nil
		if err != nil {
			first = pacerFirst(first, p.fail(PacerRefresh, a.name, err))
			continue
		}
		p.stats.refreshes.Add(1)
	}
	return first
}

// step runs the steps that are due by the pacer's clock: due when the time
// planned for it has come, or when the clock went back before the last
// step.
func (p *Pacer) step(ctx context.Context, accounts []*pacerAccount) error {
	now := p.clock.Now()
	var (
		due    []*pacerAccount
		tokens []string
		takes  []rueidis.LuaExec
	)
	for _, a := range accounts {
		if a.unreadable || (now.UnixNano() < a.next && !now.Before(a.state.StepStart)) {
			continue
		}
		p.locks++
		token := p.token + strconv.FormatUint(p.locks, 10)
		key, _ := a.spentKeyAt(now)
		due, tokens = append(due, a), append(tokens, token)
		takes = append(takes, rueidis.LuaExec{
			Keys: []string{a.stateKey, a.lockKey, a.stepKey, key},
			Args: []string{a.raw, token, pacerMillis(p.lockTTL)},
		})
	}
	if len(takes) == 0 {
		return nil
	}
	var (
		first     error
		commits   []rueidis.LuaExec
		committed []*pacerAccount
		states    []pacerState
	)
	for i, r := range takeScript.run(ctx, p.client, takes) {
		a := due[i]
		st, err := p.stepTaken(a, r, now)
		if err != nil {
			first = pacerFirst(first, p.fail(PacerStep, a.name, err))
			continue
		}
		if st.raw == "" {
			p.stats.busy.Add(1)
			continue
		}
		commits = append(commits, rueidis.LuaExec{
			Keys: []string{a.stateKey, a.lockKey},
			Args: []string{tokens[i], st.raw, pacerMillis(pacerStateTTL)},
		})
		committed, states = append(committed, a), append(states, st)
	}
	if len(commits) == 0 {
		return first
	}
	for i, r := range commitScript.run(ctx, p.client, commits) {
		a, st := committed[i], states[i]
		ok, err := r.AsInt64()
		if err != nil {
			first = pacerFirst(first, p.fail(PacerStep, a.name, err))
			continue
		}
		if ok != 1 { // the lock expired during the step: its state is not written
			p.stats.busy.Add(1)
			continue
		}
		a.apply(st)
		p.stats.steps.Add(1)
		for _, h := range p.stepHook {
			h.OnPacerStep(a.name, st.PacingState, time.Unix(0, st.next))
		}
	}
	return first
}

// stepTaken handles the answer of takeScript for a: it adopts the state of
// a step another process ran, or runs the controller on the global spend.
// It returns the new state to write, or one with raw "" when there is none.
func (p *Pacer) stepTaken(a *pacerAccount, r rueidis.RedisResult, now time.Time) (pacerState, error) {
	vals, err := r.AsStrSlice()
	if err != nil {
		return pacerState{}, err
	}
	if len(vals) < 2 || (vals[0] == "2" && len(vals) < 4) {
		return pacerState{}, &pacerDataError{fmt.Errorf("unexpected answer %q", vals)}
	}
	switch vals[0] {
	case "0": // another process stepped since the refresh
		return pacerState{}, a.adopt(vals[1])
	case "1": // another process is stepping
		return pacerState{}, nil
	}
	stepSpent, err1 := strconv.ParseInt(vals[2], 10, 64)
	spent, err2 := strconv.ParseInt(vals[3], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return pacerState{}, &pacerDataError{err}
	}
	s, next, ok := p.even.Step(a.name, a.state, now, spent, stepSpent)
	if !ok {
		return pacerState{}, &pacerDataError{fmt.Errorf("no budget for %q", a.name)}
	}
	return encodePacerState(s, next)
}

// spentKeyAt returns the key of the account's spend in the period (or
// flight) that holds now, and how long it should live from now.
func (a *pacerAccount) spentKeyAt(now time.Time) (string, time.Duration) {
	a.mu.Lock()
	b := a.budget
	a.mu.Unlock()
	switch {
	case !b.Start.IsZero(): // a flight
		return a.spentKey + strconv.FormatInt(b.Start.Unix(), 10), max(b.End.Sub(now), 0) + pacerSpentTTL
	case b.Period.Daily:
		return a.spentKey + strconv.FormatInt(b.Period.Start(now).Unix(), 10), max(b.Period.Next(now).Sub(now), 0) + pacerSpentTTL
	}
	return a.spentKey + "total", pacerSpentTTL // an ASAP budget: no period
}

// adopt applies the state record raw read from Redis ("" for none: the
// step is then due, and the rate stays as it is). It belongs to Sync.
func (a *pacerAccount) adopt(raw string) error {
	if raw == a.raw {
		return nil
	}
	if raw == "" {
		a.raw, a.state, a.next = "", gavel.PacingState{}, 0
		a.mu.Lock()
		a.shared = gavel.PacingState{}
		a.mu.Unlock()
		return nil
	}
	st, err := decodePacerState(raw)
	if err != nil {
		return err
	}
	a.apply(st)
	return nil
}

func (a *pacerAccount) apply(st pacerState) {
	a.raw, a.state, a.next = st.raw, st.PacingState, st.next
	a.rate.Store(math.Float64bits(st.Rate))
	a.mu.Lock()
	a.shared = st.PacingState
	a.mu.Unlock()
}

// pacerState is a controller state with when its next step is due, and
// its stored form.
type pacerState struct {
	gavel.PacingState
	next int64 // Unix nanoseconds
	raw  string
}

// pacerStateRecord is the stored form of a pacerState (version 2). Times
// are Unix nanoseconds.
type pacerStateRecord struct {
	V         int     `json:"v"`
	Rate      float64 `json:"rate"`
	StepStart int64   `json:"step_start"`
	Next      int64   `json:"next"`
	SpendAvg  float64 `json:"spend_avg"`
	ReachAvg  float64 `json:"reach_avg"`
	From      int64   `json:"from"`       // 0 in version 1
	FromSpent int64   `json:"from_spent"` // micros
	BudgetID  uint64  `json:"budget_id"`  // 0 in version 1: the curve starts at the next step
}

func encodePacerState(s gavel.PacingState, next time.Time) (pacerState, error) {
	b, err := json.Marshal(pacerStateRecord{
		V:         PacerStateVersion,
		Rate:      s.Rate,
		StepStart: s.StepStart.UnixNano(),
		Next:      next.UnixNano(),
		SpendAvg:  s.SpendAvg,
		ReachAvg:  s.ReachAvg,
		From:      s.From.UnixNano(),
		FromSpent: s.FromSpent,
		BudgetID:  s.BudgetID,
	})
	if err != nil {
		return pacerState{}, err
	}
	return pacerState{PacingState: s, next: next.UnixNano(), raw: string(b)}, nil
}

// pacerDataError is a value read from Redis that the pacer cannot use.
type pacerDataError struct{ err error }

func (e *pacerDataError) Error() string { return e.err.Error() }
func (e *pacerDataError) Unwrap() error { return e.err }

func decodePacerState(raw string) (pacerState, error) {
	var r pacerStateRecord
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return pacerState{}, &pacerDataError{fmt.Errorf("state: %w", err)}
	}
	if r.V < 1 || r.V > PacerStateVersion {
		return pacerState{}, &pacerDataError{fmt.Errorf("state version %d, want 1 to %d", r.V, PacerStateVersion)}
	}
	if !(r.Rate >= 0 && r.Rate <= 1) {
		return pacerState{}, &pacerDataError{fmt.Errorf("state rate %v out of [0, 1]", r.Rate)}
	}
	s := gavel.PacingState{
		Rate:      r.Rate,
		StepStart: time.Unix(0, r.StepStart),
		SpendAvg:  r.SpendAvg,
		ReachAvg:  r.ReachAvg,
		FromSpent: r.FromSpent,
		BudgetID:  r.BudgetID,
	}
	if r.From != 0 {
		s.From = time.Unix(0, r.From)
	}
	return pacerState{PacingState: s, next: r.Next, raw: raw}, nil
}

// pacerScript is a Lua script run with EVALSHA, pipelined, and with EVAL
// for the calls Redis answers NOSCRIPT (the first ever, or after a
// restart). Unlike rueidis.Lua.ExecMulti, it does not load the script
// every time.
type pacerScript struct{ src, sha string }

func newPacerScript(src string) pacerScript {
	sum := sha1.Sum([]byte(src))
	return pacerScript{src: src, sha: hex.EncodeToString(sum[:])}
}

func (s pacerScript) run(ctx context.Context, c rueidis.Client, execs []rueidis.LuaExec) []rueidis.RedisResult {
	cmds := make(rueidis.Commands, len(execs))
	for i, e := range execs {
		cmds[i] = c.B().Evalsha().Sha1(s.sha).Numkeys(int64(len(e.Keys))).Key(e.Keys...).Arg(e.Args...).Build()
	}
	res := c.DoMulti(ctx, cmds...)
	var again []int
	for i, r := range res {
		if e, ok := rueidis.IsRedisErr(r.Error()); ok && e.IsNoScript() {
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return res
	}
	cmds = cmds[:0]
	for _, i := range again {
		e := execs[i]
		cmds = append(cmds, c.B().Eval().Script(s.src).Numkeys(int64(len(e.Keys))).Key(e.Keys...).Arg(e.Args...).Build())
	}
	for j, r := range c.DoMulti(ctx, cmds...) {
		res[again[j]] = r
	}
	return res
}

func pacerMillis(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 1), 10) }

// pacerFirst returns first, or err when first is nil: a Sync reports the first
// error of each part, having counted them all.
func pacerFirst(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// newPacerToken returns a random prefix for this process's lock tokens.
func newPacerToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + ":"
}
