package gavel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
)

// A Hold is money reserved on an account by Ledger.Reserve, to be billed
// with Commit or given back with Release. It is a plain value: copy it,
// keep it, send it to another goroutine. The zero Hold is never valid.
type Hold struct {
	Account string
	ID      uint64    // unique within the ledger while the hold lives
	Amount  int64     // micros reserved
	Expires time.Time // when the hold returns to the account by itself
}

// A Ledger keeps the budgets of accounts and guards them against
// overspending: money is first reserved with a time to live, then either
// committed (billed) or released. Money is int64 micros of the account's
// currency throughout. A hold that is neither committed nor
// released by its expiry returns to its account by itself, so a caller
// that crashes or loses its ctx never strands money.
//
// Implementations are safe for concurrent use. Every method first checks
// ctx: if it is already done, the method returns ctx.Err() and changes
// nothing. A remote implementation may also return ctx.Err() when ctx ends
// during the call, in which case the caller cannot know whether the change
// was made; a hold it cannot account for returns at its expiry.
type Ledger interface {
	// Reserve holds amount (> 0) on account for ttl (> 0): the hold
	// Expires ttl from now, by the ledger's clock. It returns
	// ErrBudgetExhausted if the account cannot cover amount,
	// ErrUnknownAccount if the account has no budget and
	// ErrInvalidReservation if amount or ttl is not positive. On error
	// nothing changes.
	Reserve(ctx context.Context, account string, amount int64, ttl time.Duration) (Hold, error)

	// Commit bills actual (0 <= actual <= h.Amount) of the hold and
	// returns the rest to the account; the hold ends. It returns
	// ErrHoldNotFound if the hold was committed, released or expired, or
	// never existed, and ErrCommitExceedsHold if actual is negative or
	// more than h.Amount. On error nothing changes.
	Commit(ctx context.Context, h Hold, actual int64) error

	// Release returns the whole hold to the account; the hold ends. It
	// returns ErrHoldNotFound as Commit does, and then nothing changes.
	Release(ctx context.Context, h Hold) error
}

// BalanceReader is an optional Ledger capability: a ledger that can tell an
// account's balance implements it. Check for it with a type assertion.
type BalanceReader interface {
	// Balance returns the account's balance as of now, with every hold
	// that expired by now returned. It returns ErrUnknownAccount if the
	// account has no budget, and ctx.Err() if ctx is done.
	Balance(ctx context.Context, account string) (Balance, error)
}

// Balance is the state of an account's budget in its current period.
type Balance struct {
	Budget    int64 // the budget of each period
	Committed int64 // billed in the current period
	Reserved  int64 // held by holds that are still outstanding

	PeriodStart time.Time // start of the current period; zero for a total budget
}

// Remaining returns what can still be reserved: Budget − Committed −
// Reserved, or 0 when that is negative, which happens only after a budget
// was lowered below what was already committed and reserved.
func (b Balance) Remaining() int64 { return max(b.Budget-b.Committed-b.Reserved, 0) }

// Period is a budget's period: total (the zero value), where the budget
// covers all time, or daily, where it is renewed every day.
//
// A daily period starts each day at the local wall-clock time Reset (6h
// means 06:00) in Location, also on days when the clocks change, so such a
// day is 23 or 25 hours long. If the clocks skip the starting time that
// day, the day starts at the change (Reset 2h30m starts 2026-03-08 at 03:00
// EDT in America/New_York); if they repeat it, the day starts at its first
// occurrence.
//
// When a daily period ends, a ledger starts the account's Committed again
// from 0. Holds outstanding at that moment stay reserved, and a hold
// committed later counts in the period it is committed in, so a day may
// bill up to its budget plus what the holds carried into it bill.
//
// Periods are comparable with ==.
type Period struct {
	Daily    bool
	Location *time.Location // the day's time zone; nil means UTC
	Reset    time.Duration  // the day starts this long after local midnight, on the wall clock; in [0, 24h)
}

// DailyPeriod returns a daily period in loc (nil means UTC) that starts
// every day at the local time reset, in [0, 24h).
func DailyPeriod(loc *time.Location, reset time.Duration) Period {
	return Period{Daily: true, Location: loc, Reset: reset}
}

// Start returns the start of the period that holds t, in the period's
// location; the zero time for a total period. A Reset outside [0, 24h) is
// taken modulo 24h.
func (p Period) Start(t time.Time) time.Time {
	start, _ := p.bounds(t)
	return start
}

// Next returns the start of the period after the one that holds t, in the
// period's location; the zero time for a total period.
func (p Period) Next(t time.Time) time.Time {
	_, next := p.bounds(t)
	return next
}

func (p Period) valid() bool { return !p.Daily || (p.Reset >= 0 && p.Reset < 24*time.Hour) }

// bounds returns the start of the period that holds t and of the next one.
// Days are counted on the local calendar, never by adding 24h.
func (p Period) bounds(t time.Time) (start, next time.Time) {
	if !p.Daily {
		return time.Time{}, time.Time{}
	}
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	start = p.dayStart(y, m, d, loc)
	for start.After(t) { // before today's reset: the period began yesterday
		d--
		start = p.dayStart(y, m, d, loc)
	}
	next = p.dayStart(y, m, d+1, loc)
	return start, next
}

// dayStart returns the first instant of the local date y-m-d (time.Date
// normalizes d out of range) at which the wall clock reads Reset or later.
func (p Period) dayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	r := p.Reset % (24 * time.Hour)
	if r < 0 {
		r += 24 * time.Hour
	}
	hh, mm, ss, ns := int(r/time.Hour), int(r%time.Hour/time.Minute), int(r%time.Minute/time.Second), int(r%time.Second)
	t := time.Date(y, m, d, hh, mm, ss, ns, loc)
	// A wall time that the clocks skip does not exist; time.Date then
	// answers with a neighbouring wall time. Start the day at the change.
	want := time.Date(y, m, d, hh, mm, ss, ns, time.UTC)
	got := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	switch zoneStart, zoneEnd := t.ZoneBounds(); {
	case got.Before(want):
		return zoneEnd
	case got.After(want):
		return zoneStart
	}
	return t
}

// MemoryLedger is a Ledger kept in the memory of one process, with budgets
// set by SetBudget. It is strict: at every instant, for every account,
// Committed + Reserved <= Budget (unless SetBudget lowered the budget below
// that, see there). It also implements BalanceReader.
//
// Accounts are spread over shards by a hash of their name, each with its
// own lock, so that calls on different accounts rarely wait for each
// other. Reserve, Commit and Release on an existing account allocate
// nothing once the shard has grown to the number of holds outstanding; a
// shard keeps the memory of the most holds it ever had at once (48 bytes
// per hold). Accounts are never removed: a budget of 0 closes one.
//
// Expired holds are returned lazily, by the next call on the account's
// shard; every call sees the state as if each hold had returned exactly at
// its expiry, by the ledger's clock.
//
// A MemoryLedger is safe for concurrent use. The zero value is not usable;
// create one with NewMemoryLedger.
type MemoryLedger struct {
	clock     Clock
	mask      uint64 // len(shards) - 1
	shardBits int    // log2(len(shards))
	maxSlots  uint32 // holds a shard can keep at once
	shards    []shard
}

var (
	_ Ledger        = (*MemoryLedger)(nil)
	_ BalanceReader = (*MemoryLedger)(nil)
)

// A LedgerOption configures a MemoryLedger.
type LedgerOption interface {
	applyLedger(*ledgerConfig)
}

type ledgerConfig struct {
	clock  Clock
	shards int
	errs   []error
}

func (c *ledgerConfig) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...))
}

type ledgerOptionFunc func(*ledgerConfig)

func (f ledgerOptionFunc) applyLedger(c *ledgerConfig) { f(c) }

// Shard counts of a MemoryLedger (WithLedgerShards).
const (
	DefaultLedgerShards = 64
	MaxLedgerShards     = 1024
)

// WithLedgerClock sets the clock that decides when holds expire and when
// daily periods turn over; it must not be nil. Default: the system clock.
func WithLedgerClock(c Clock) LedgerOption {
	return ledgerOptionFunc(func(cfg *ledgerConfig) {
		if c == nil {
			cfg.fail("ledger clock must not be nil")
			return
		}
		cfg.clock = c
	})
}

// WithLedgerShards sets the number of shards (independent locks) accounts
// are spread over: a power of two in [1, MaxLedgerShards]. Default
// DefaultLedgerShards (64).
func WithLedgerShards(n int) LedgerOption {
	return ledgerOptionFunc(func(cfg *ledgerConfig) {
		if n < 1 || n > MaxLedgerShards || n&(n-1) != 0 {
			cfg.fail("ledger shards must be a power of two in [1, %d], got %d", MaxLedgerShards, n)
			return
		}
		cfg.shards = n
	})
}

// NewMemoryLedger returns an empty MemoryLedger configured by opts, applied
// in order. It returns an error wrapping ErrInvalidOption when an option is
// out of range; all such problems are reported at once.
func NewMemoryLedger(opts ...LedgerOption) (*MemoryLedger, error) {
	cfg := ledgerConfig{clock: systemClock{}, shards: DefaultLedgerShards}
	for _, o := range opts {
		o.applyLedger(&cfg)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	shardBits := bits.Len(uint(cfg.shards - 1))
	l := &MemoryLedger{
		clock:     cfg.clock,
		mask:      1<<shardBits - 1,
		shardBits: shardBits,
		maxSlots:  uint32(1<<(32-shardBits) - 1), // slot numbers leave room for the shard in the ID
		shards:    make([]shard, 1<<shardBits),
	}
	for i := range l.shards {
		l.shards[i].accounts = make(map[string]*ledgerAccount)
		l.shards[i].freeList = noSlot
	}
	return l, nil
}

// SetBudget creates account with budget (micros, >= 0) per period, or
// changes the budget and period of an existing account. A change keeps
// what is committed and reserved, also in the current period when the
// period changes; a budget lowered below them stops new reservations until
// enough returns, and takes nothing back.
//
// In a daily period, Committed starts again from 0 when a new period
// starts; see Period.
//
// It returns ErrInvalidBudget, changing nothing, for an empty account
// name, a negative budget or a daily period whose Reset is outside
// [0, 24h).
func (l *MemoryLedger) SetBudget(account string, budget int64, period Period) error {
	if account == "" || budget < 0 || !period.valid() {
		return ErrInvalidBudget
	}
	now := l.clock.Now()
	s := l.shard(account)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[account]
	if a == nil {
		a = &ledgerAccount{name: account}
		s.accounts[account] = a
	} else {
		a.turn(now, now.UnixNano()) // what the old period ended is not carried over
		if a.period == period {
			a.budget = budget
			return nil
		}
	}
	a.budget = budget
	a.period = period
	a.start, a.next = time.Time{}, 0
	if period.Daily {
		start, next := period.bounds(now)
		a.start, a.next = start, next.UnixNano()
	}
	return nil
}

// Reserve implements Ledger. The hold's ID is unique in the ledger while
// the hold lives; after the hold ends, its ID comes back only once the
// ledger has reused the hold's record 2^31 times. The ID is below 2^63:
// a Ledger that keeps some of its holds in a MemoryLedger may mark the IDs
// of those holds with the top bit, to tell them from its others.
func (l *MemoryLedger) Reserve(ctx context.Context, account string, amount int64, ttl time.Duration) (Hold, error) {
	if err := ctx.Err(); err != nil {
		return Hold{}, err
	}
	if amount <= 0 || ttl <= 0 {
		return Hold{}, ErrInvalidReservation
	}
	now := l.clock.Now() // outside the lock: the clock may take longer than the work
	idx := xxhash.Sum64String(account) & l.mask
	s := &l.shards[idx]
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[account]
	if a == nil {
		return Hold{}, ErrUnknownAccount
	}
	nanos := now.UnixNano()
	s.expire(nanos)
	a.turn(now, nanos)
	if amount > a.budget-a.committed-a.reserved {
		return Hold{}, ErrBudgetExhausted
	}
	slot, ok := s.alloc(l.maxSlots)
	if !ok {
		return Hold{}, errTooManyHolds
	}
	r := &s.holds[slot]
	r.acct, r.amount = a, amount
	if nanos > 0 { // the expiry must fit in UnixNano
		ttl = min(ttl, time.Duration(math.MaxInt64-nanos))
	}
	s.push(heapEntry{expiry: nanos + int64(ttl), slot: slot})
	a.reserved += amount
	id := uint64(r.gen)<<32 | uint64(slot)<<l.shardBits | idx
	return Hold{Account: account, ID: id, Amount: amount, Expires: now.Add(ttl)}, nil
}

// NonBlocking marks the ledger as NonBlocking: Run reserves on it directly,
// without a deadline context of its own.
func (l *MemoryLedger) NonBlocking() {}

// Commit implements Ledger. A commit after a daily period turned over
// counts in the new period.
func (l *MemoryLedger) Commit(ctx context.Context, h Hold, actual int64) error {
	return l.end(ctx, h, actual, true)
}

// Release implements Ledger.
func (l *MemoryLedger) Release(ctx context.Context, h Hold) error {
	return l.end(ctx, h, 0, false)
}

// end ends the hold h, billing actual if commit is set.
func (l *MemoryLedger) end(ctx context.Context, h Hold, actual int64, commit bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := l.clock.Now()
	s := &l.shards[h.ID&l.mask]
	slot := uint32(h.ID) >> l.shardBits
	s.mu.Lock()
	defer s.mu.Unlock()
	nanos := now.UnixNano()
	s.expire(nanos)
	if int(slot) >= len(s.holds) {
		return ErrHoldNotFound
	}
	r := &s.holds[slot]
	if r.acct == nil || r.gen != uint32(h.ID>>32) || r.amount != h.Amount || r.acct.name != h.Account {
		return ErrHoldNotFound
	}
	if commit && (actual < 0 || actual > r.amount) {
		return ErrCommitExceedsHold
	}
	a := r.acct
	a.turn(now, nanos)
	a.reserved -= r.amount
	a.committed += actual
	s.remove(int(r.heapPos))
	s.free(slot)
	return nil
}

// Balance implements BalanceReader.
func (l *MemoryLedger) Balance(ctx context.Context, account string) (Balance, error) {
	if err := ctx.Err(); err != nil {
		return Balance{}, err
	}
	now := l.clock.Now()
	s := l.shard(account)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[account]
	if a == nil {
		return Balance{}, ErrUnknownAccount
	}
	nanos := now.UnixNano()
	s.expire(nanos)
	a.turn(now, nanos)
	return Balance{Budget: a.budget, Committed: a.committed, Reserved: a.reserved, PeriodStart: a.start}, nil
}

// Outstanding returns the number of holds outstanding in the ledger, with
// every hold that expired by now returned. It locks the shards one after
// another, so holds reserved or ended meanwhile may or may not count: it
// is meant for stats, not for the hot path.
func (l *MemoryLedger) Outstanding() int {
	nanos := l.clock.Now().UnixNano()
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		s.expire(nanos)
		n += len(s.heap)
		s.mu.Unlock()
	}
	return n
}

func (l *MemoryLedger) shard(account string) *shard {
	return &l.shards[xxhash.Sum64String(account)&l.mask]
}

// ledgerAccount is one account's budget, guarded by its shard's lock.
type ledgerAccount struct {
	name      string
	budget    int64
	committed int64 // in the current period
	reserved  int64 // sum of the amounts of the account's live holds
	period    Period
	start     time.Time // start of the current period; zero for a total budget
	next      int64     // start of the next period, Unix nanoseconds; daily only
}

// turn moves a daily account into the period that holds now, if that
// period has started. A clock that goes back never reopens a period.
func (a *ledgerAccount) turn(now time.Time, nanos int64) {
	if a.period.Daily && nanos >= a.next {
		start, next := a.period.bounds(now)
		a.start, a.next = start, next.UnixNano()
		a.committed = 0
	}
}

// shard is a set of accounts and their holds under one lock.
//
// Holds live in a slice of records, reused through a free list, so that a
// new hold costs no allocation. A hold's ID is gen<<32 | slot<<shardBits |
// shard: the generation (31 bits, so that the ID's top bit stays clear)
// counts the reuses of the record, so the ID of an ended hold no longer
// matches. A min-heap of (expiry, slot), in which each
// live record knows its position, finds the holds that expire; a hold that
// ends early leaves the heap at once, so the heap is never larger than the
// number of live holds.
type shard struct {
	mu       sync.Mutex
	accounts map[string]*ledgerAccount
	holds    []holdRecord
	freeList uint32 // first free record, or noSlot
	heap     []heapEntry

	_ [64]byte // keeps the locks of neighbouring shards off one cache line
}

const (
	noSlot = math.MaxUint32
	maxGen = 1<<31 - 1 // generations wrap after it, to 1
)

// errTooManyHolds is returned by Reserve when the account's shard keeps as
// many holds as hold IDs can number (about 67 million with the default
// shards).
var errTooManyHolds = fmt.Errorf("%w: too many outstanding holds in the ledger", ErrBudgetExhausted)

type holdRecord struct {
	acct     *ledgerAccount // nil while the record is free
	amount   int64
	gen      uint32 // in [1, maxGen]: never 0, so the zero Hold matches nothing
	heapPos  uint32 // index of the hold in the heap while it lives
	nextFree uint32 // next free record while free, or noSlot
}

type heapEntry struct {
	expiry int64 // Unix nanoseconds
	slot   uint32
}

// alloc takes a free record, or appends one if fewer than maxSlots exist.
func (s *shard) alloc(maxSlots uint32) (uint32, bool) {
	if s.freeList != noSlot {
		slot := s.freeList
		s.freeList = s.holds[slot].nextFree
		return slot, true
	}
	if len(s.holds) >= int(maxSlots) {
		return 0, false
	}
	s.holds = append(s.holds, holdRecord{gen: 1})
	return uint32(len(s.holds) - 1), true
}

// free puts a record on the free list, after a new generation.
func (s *shard) free(slot uint32) {
	r := &s.holds[slot]
	r.acct = nil
	r.gen = r.gen%maxGen + 1
	r.nextFree = s.freeList
	s.freeList = slot
}

// expire returns every hold that expired by now to its account.
func (s *shard) expire(now int64) {
	for len(s.heap) > 0 && s.heap[0].expiry <= now {
		slot := s.heap[0].slot
		s.remove(0)
		r := &s.holds[slot]
		r.acct.reserved -= r.amount
		s.free(slot)
	}
}

func (s *shard) push(e heapEntry) {
	s.heap = append(s.heap, e)
	i := len(s.heap) - 1
	s.holds[e.slot].heapPos = uint32(i)
	s.up(i)
}

// remove takes entry i out of the heap.
func (s *shard) remove(i int) {
	last := len(s.heap) - 1
	if i != last {
		s.swap(i, last)
	}
	s.heap = s.heap[:last]
	if i != last {
		s.down(i)
		s.up(i)
	}
}

func (s *shard) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if s.heap[parent].expiry <= s.heap[i].expiry {
			return
		}
		s.swap(i, parent)
		i = parent
	}
}

func (s *shard) down(i int) {
	n := len(s.heap)
	for {
		child := 2*i + 1
		if child >= n {
			return
		}
		if right := child + 1; right < n && s.heap[right].expiry < s.heap[child].expiry {
			child = right
		}
		if s.heap[i].expiry <= s.heap[child].expiry {
			return
		}
		s.swap(i, child)
		i = child
	}
}

func (s *shard) swap(i, j int) {
	h := s.heap
	h[i], h[j] = h[j], h[i]
	s.holds[h[i].slot].heapPos = uint32(i)
	s.holds[h[j].slot].heapPos = uint32(j)
}
