package gavel

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
)

// MemoryLedger is a Ledger kept in the memory of one process, with budgets
// set by SetBudget (a Budget, see WithBudgets). It is strict: at every
// instant, for every account, Committed + Reserved <= Budget (unless
// SetBudget lowered the budget below that, see there). It also implements
// BalanceReader.
//
// Accounts are spread over shards by a hash of their name, each with its
// own lock, so that calls on different accounts rarely wait for each
// other. Reserve, Commit and Release on an existing account allocate
// nothing once the shard has grown to the number of holds it keeps; a
// shard keeps the memory of the most holds it ever kept at once (56 bytes
// per hold). Accounts are never removed: a budget of 0 closes one.
//
// Commit and Release are idempotent: an ended hold leaves a tombstone (its
// outcome and what it billed) until its expiry, or WithHoldTombstones after
// it ended if that is later, so a repeat returns the first call's outcome
// (see Ledger). A shard keeps the records of live holds and of tombstones.
//
// Expired holds and tombstones are returned lazily, by the next call on the
// account's shard; every call sees the state as if each hold had returned
// exactly at its expiry, by the ledger's clock.
//
// A MemoryLedger is safe for concurrent use. The zero value is not usable;
// create one with NewMemoryLedger.
type MemoryLedger struct {
	clock     Clock
	mask      uint64 // len(shards) - 1
	shardBits int    // log2(len(shards))
	maxSlots  uint32 // holds a shard can keep at once
	tombstone int64  // nanoseconds an ended hold is remembered at least
	shards    []shard
}

var (
	_ Ledger        = (*MemoryLedger)(nil)
	_ BatchLedger   = (*MemoryLedger)(nil)
	_ BalanceReader = (*MemoryLedger)(nil)
	_ BalanceCache  = (*MemoryLedger)(nil)
	_ BudgetSetter  = (*MemoryLedger)(nil)
	_ HoldEnder     = (*MemoryLedger)(nil)
)

// A LedgerOption configures a MemoryLedger.
type LedgerOption interface {
	applyLedger(*ledgerConfig)
}

type ledgerConfig struct {
	clock     Clock
	shards    int
	tombstone time.Duration
	optionErrors
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

// WithHoldTombstones sets how long at least the ledger remembers the
// outcome of an ended hold, from the moment it ended: its tombstone lives
// until the hold's expiry or until d after it ended, whichever is later. A
// Commit or Release retried within that time returns the first call's
// outcome (see Ledger); later it returns ErrHoldNotFound. Longer keeps more
// records in memory (56 bytes each, until they are swept). d must not be
// negative. Default 0: until the hold's expiry.
func WithHoldTombstones(d time.Duration) LedgerOption {
	return ledgerOptionFunc(func(cfg *ledgerConfig) {
		if d < 0 {
			cfg.fail("hold tombstones must not be negative, got %v", d)
			return
		}
		cfg.tombstone = d
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
	if err := cfg.err(); err != nil {
		return nil, err
	}
	shardBits := bits.Len(uint(cfg.shards - 1))
	l := &MemoryLedger{
		clock:     cfg.clock,
		mask:      1<<shardBits - 1,
		shardBits: shardBits,
		maxSlots:  uint32(1<<(32-shardBits) - 1), // slot numbers leave room for the shard in the ID
		tombstone: int64(cfg.tombstone),
		shards:    make([]shard, 1<<shardBits),
	}
	for i := range l.shards {
		l.shards[i].accounts = make(map[string]*ledgerAccount)
		l.shards[i].freeList = noSlot
	}
	return l, nil
}

// SetBudget implements BudgetSetter: it creates b.Account with b.Amount
// per period, or changes the amount and period of an existing account. A
// flight is a total budget here: the ledger does not look at its dates,
// and b.Pacing is the Pacer's business. A change keeps what is committed
// and reserved, also in the current period when the period changes; an
// amount lowered below them stops new reservations until enough returns,
// and takes nothing back.
//
// In a daily period, Committed starts again from 0 when a new period
// starts; see Period.
//
// It returns an error wrapping ErrInvalidBudget, changing nothing, for a
// Budget that Validate refuses, and ctx.Err() if ctx is done.
func (l *MemoryLedger) SetBudget(ctx context.Context, b Budget) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.Validate(); err != nil {
		return err
	}
	account, budget, period := b.Account, b.Amount, b.Period
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
	s.live++
	a.reserved += amount
	id := uint64(r.gen)<<32 | uint64(slot)<<l.shardBits | idx
	return Hold{Account: account, ID: id, Amount: amount, Expires: now.Add(ttl)}, nil
}

// ReserveBatch implements BatchLedger: it makes each reservation in turn,
// as Reserve does.
func (l *MemoryLedger) ReserveBatch(ctx context.Context, rs []Reservation, holds []Hold, errs []error) {
	for i := range rs {
		holds[i], errs[i] = l.Reserve(ctx, rs[i].Account, rs[i].Amount, rs[i].TTL)
	}
}

// NonBlocking marks the ledger as NonBlocking: Run reserves on it directly,
// without a deadline context of its own.
func (l *MemoryLedger) NonBlocking() {}

// Commit implements Ledger. A commit after a daily period turned over
// counts in the new period.
func (l *MemoryLedger) Commit(ctx context.Context, h Hold, actual int64) error {
	_, err := l.EndHold(ctx, h, actual, true)
	return err
}

// Release implements Ledger.
func (l *MemoryLedger) Release(ctx context.Context, h Hold) error {
	_, err := l.EndHold(ctx, h, 0, false)
	return err
}

// EndHold implements HoldEnder.
func (l *MemoryLedger) EndHold(ctx context.Context, h Hold, actual int64, commit bool) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := l.clock.Now()
	s := &l.shards[h.ID&l.mask]
	s.mu.Lock()
	ended, err := s.end(now, h, uint32(h.ID)>>l.shardBits, actual, commit, l.tombstone)
	s.mu.Unlock()
	if err == ErrHoldNotFound && !l.known(h.Account) {
		return false, ErrUnknownAccount
	}
	return ended, err
}

// known says whether account has a budget.
func (l *MemoryLedger) known(account string) bool {
	s := l.shard(account)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accounts[account] != nil
}

// end ends the hold h, in record slot, billing actual if commit is set,
// and leaves its tombstone for at least keep nanoseconds. It returns true
// if it ended the hold, false (and nil) for a repeat of its first end.
func (s *shard) end(now time.Time, h Hold, slot uint32, actual int64, commit bool, keep int64) (bool, error) {
	nanos := now.UnixNano()
	s.expire(nanos)
	if int(slot) >= len(s.holds) {
		return false, ErrHoldNotFound
	}
	r := &s.holds[slot]
	if r.acct == nil || r.gen != uint32(h.ID>>32) || r.amount != h.Amount || r.acct.name != h.Account {
		return false, ErrHoldNotFound
	}
	if r.ended != endLive {
		return false, r.ended.repeat(commit)
	}
	if commit && (actual < 0 || actual > r.amount) {
		return false, ErrCommitExceedsHold
	}
	a := r.acct
	a.turn(now, nanos)
	a.reserved -= r.amount
	a.committed += actual
	s.live--
	r.ended, r.billed = endReleased, 0
	if commit {
		r.ended, r.billed = endCommitted, actual
	}
	// The tombstone lives until the hold's expiry, or keep from now if later.
	if e := &s.heap[r.heapPos]; keep > 0 && nanos <= math.MaxInt64-keep && nanos+keep > e.expiry {
		e.expiry = nanos + keep
		s.down(int(r.heapPos))
	}
	return true, nil
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

// CachedBalance implements BalanceCache: a MemoryLedger always knows the
// balance, so it is Balance without a ctx.
func (l *MemoryLedger) CachedBalance(account string) (Balance, bool) {
	b, err := l.Balance(context.Background(), account)
	return b, err == nil
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
		n += s.live
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
// used record knows its position, finds the holds that expire. A hold that
// ends early stays in the heap as a tombstone (its record says how it
// ended) until its expiry, or later (WithHoldTombstones), and then its
// record is freed.
type shard struct {
	mu       sync.Mutex
	accounts map[string]*ledgerAccount
	holds    []holdRecord
	freeList uint32 // first free record, or noSlot
	heap     []heapEntry
	live     int // holds in the heap not yet ended; the rest are tombstones

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
	billed   int64  // what Commit billed, once ended
	gen      uint32 // in [1, maxGen]: never 0, so the zero Hold matches nothing
	heapPos  uint32 // index of the record in the heap while it is used
	nextFree uint32 // next free record while free, or noSlot
	ended    holdEnd
}

// holdEnd is how a hold ended, in its record.
type holdEnd uint8

const (
	endLive holdEnd = iota // the hold lives
	endCommitted
	endReleased
)

// repeat returns what ending a hold that ended so returns: nil for the
// same end, else the error that says how it ended.
func (e holdEnd) repeat(commit bool) error {
	switch {
	case (e == endCommitted) == commit:
		return nil
	case e == endCommitted:
		return ErrHoldCommitted
	}
	return ErrHoldReleased
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
	r.acct, r.ended, r.billed = nil, endLive, 0
	r.gen = r.gen%maxGen + 1
	r.nextFree = s.freeList
	s.freeList = slot
}

// expire returns every hold that expired by now to its account, and
// frees the tombstones that expired.
func (s *shard) expire(now int64) {
	for len(s.heap) > 0 && s.heap[0].expiry <= now {
		slot := s.heap[0].slot
		s.remove(0)
		r := &s.holds[slot]
		if r.ended == endLive {
			r.acct.reserved -= r.amount
			s.live--
		}
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
