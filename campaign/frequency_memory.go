package campaign

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/gavelrtb/gavel"
)

// MemoryFrequencyStore is an in-memory FrequencyStore for one process. It
// is sharded by user, so that calls for different users seldom contend,
// and bounded: past its maximum number of users it evicts the least
// recently used (counted in Stats). An evicted user's counts start again
// from 0, so eviction can let a capped user see more impressions; size the
// store for the users billed within the longest capped period.
//
// Counts end with their period (see Period). Expiry is lazy: a call
// ignores the counts of other periods; Record drops those that ended
// more than a margin (5 minutes) before its now, which it keeps so that
// a Record whose now lags (a clock behind, a late billing) counts in its
// own period; and each Record removes up to two of the least recently
// used users of its shard, as long as their counts have all ended more
// than the margin before. The store starts no goroutine
// and needs no Close.
//
// Counts allocates only its result; AppendCounts, once the user's shard is
// warm, does not allocate. Create one with NewMemoryFrequencyStore; the
// zero value is not usable.
type MemoryFrequencyStore struct {
	shards   []freqShard
	loc      *time.Location
	lifetime time.Duration
}

type freqShard struct {
	mu       sync.Mutex
	users    map[string]*freqUser
	head     freqUser // sentinel of the LRU list: head.next is the most recent
	capacity int
	evicted  int64
	expired  int64
	_        [64]byte // keeps shards' locks off each other's cache lines
}

type freqUser struct {
	user       string
	counters   []freqCounter
	prev, next *freqUser
}

// A freqCounter counts key's impressions in the period [start, end), in
// Unix nanoseconds; a lifetime counter has start 0.
type freqCounter struct {
	key        CapKey
	start, end int64
	n          int64
}

// A MemoryOption configures a MemoryFrequencyStore.
type MemoryOption interface {
	applyMemory(*memoryConfig)
}

type memoryConfig struct {
	maxUsers int
	loc      *time.Location
	lifetime time.Duration
	errs     []error
}

type memoryOption func(*memoryConfig)

func (f memoryOption) applyMemory(c *memoryConfig) { f(c) }

func (c *memoryConfig) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%w: memory frequency store: %s", gavel.ErrInvalidOption, fmt.Sprintf(format, args...)))
}

// Defaults of the MemoryFrequencyStore options.
const (
	DefaultFrequencyMaxUsers = 1_000_000
	DefaultLifetimeTTL       = 30 * 24 * time.Hour
)

// WithFrequencyMaxUsers bounds the number of users the store keeps counts
// for; past it the least recently used are evicted (per shard, so the bound
// is met approximately, never exceeded). It must be positive. Default
// DefaultFrequencyMaxUsers (1,000,000).
func WithFrequencyMaxUsers(n int) MemoryOption {
	return memoryOption(func(c *memoryConfig) {
		if n <= 0 {
			c.fail("max users must be positive, got %d", n)
			return
		}
		c.maxUsers = n
	})
}

// WithFrequencyLocation sets the time zone whose wall clock starts hours
// and days (see Period.Bounds); it must not be nil. Default UTC.
func WithFrequencyLocation(loc *time.Location) MemoryOption {
	return memoryOption(func(c *memoryConfig) {
		if loc == nil {
			c.fail("location must not be nil")
			return
		}
		c.loc = loc
	})
}

// WithFrequencyLifetime sets how long a lifetime count lives after the
// first impression it counts; then it starts again from 0. It must be
// positive. Default DefaultLifetimeTTL (30 days).
func WithFrequencyLifetime(d time.Duration) MemoryOption {
	return memoryOption(func(c *memoryConfig) {
		if d <= 0 {
			c.fail("lifetime ttl must be positive, got %v", d)
			return
		}
		c.lifetime = d
	})
}

const freqShards = 64

// freqMargin is how long Record keeps a count past the end of its period.
const freqMargin = int64(5 * time.Minute)

// NewMemoryFrequencyStore returns an empty store configured by opts,
// applied in order. It returns an error wrapping gavel.ErrInvalidOption
// when an option is out of range; all such problems are reported at once.
func NewMemoryFrequencyStore(opts ...MemoryOption) (*MemoryFrequencyStore, error) {
	cfg := memoryConfig{maxUsers: DefaultFrequencyMaxUsers, loc: time.UTC, lifetime: DefaultLifetimeTTL}
	for _, o := range opts {
		o.applyMemory(&cfg)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	s := &MemoryFrequencyStore{loc: cfg.loc, lifetime: cfg.lifetime}
	n := min(freqShards, cfg.maxUsers)
	s.shards = make([]freqShard, n)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.users = make(map[string]*freqUser)
		sh.head.prev, sh.head.next = &sh.head, &sh.head
		sh.capacity = cfg.maxUsers / n
		if i < cfg.maxUsers%n {
			sh.capacity++
		}
	}
	return s, nil
}

// MemoryFrequencyStats describes a MemoryFrequencyStore.
type MemoryFrequencyStats struct {
	Users   int   // users with counts, ended ones not yet removed included
	Evicted int64 // users removed to stay within the maximum, since creation
	Expired int64 // users removed because all their counts had ended, since creation
}

// Stats returns the store's size and what it removed.
func (s *MemoryFrequencyStore) Stats() MemoryFrequencyStats {
	var st MemoryFrequencyStats
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		st.Users += len(sh.users)
		st.Evicted += sh.evicted
		st.Expired += sh.expired
		sh.mu.Unlock()
	}
	return st
}

func (s *MemoryFrequencyStore) shard(user string) *freqShard {
	return &s.shards[xxhash.Sum64String(user)%uint64(len(s.shards))]
}

// periods caches the bounds of the hour and the day that hold one instant.
type periods struct {
	s                 *MemoryFrequencyStore
	now               time.Time
	nowNanos          int64
	hour, day         [2]int64
	haveHour, haveDay bool
}

func (s *MemoryFrequencyStore) periods(now time.Time) periods {
	return periods{s: s, now: now, nowNanos: now.UnixNano()}
}

// bounds returns the period of p that holds the instant: start and end in
// Unix nanoseconds; start 0 for lifetime, whose end is now + lifetime.
func (ps *periods) bounds(p Period) (start, end int64) {
	switch p {
	case PeriodHour:
		if !ps.haveHour {
			st, en := p.Bounds(ps.now, ps.s.loc)
			ps.hour, ps.haveHour = [2]int64{st.UnixNano(), en.UnixNano()}, true
		}
		return ps.hour[0], ps.hour[1]
	case PeriodDay:
		if !ps.haveDay {
			st, en := p.Bounds(ps.now, ps.s.loc)
			ps.day, ps.haveDay = [2]int64{st.UnixNano(), en.UnixNano()}, true
		}
		return ps.day[0], ps.day[1]
	}
	return 0, ps.nowNanos + int64(ps.s.lifetime)
}

// Counts returns user's count under each key in the period that holds now.
// It returns ctx.Err() if ctx is done, and an error wrapping ErrInvalidCap
// if a key is invalid.
func (s *MemoryFrequencyStore) Counts(ctx context.Context, user string, keys []CapKey, now time.Time) ([]int64, error) {
	counts, err := s.AppendCounts(ctx, make([]int64, 0, len(keys)), user, keys, now)
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// AppendCounts is Counts appending the counts to dst: with a dst of enough
// capacity it does not allocate. On an error it returns dst unchanged.
func (s *MemoryFrequencyStore) AppendCounts(ctx context.Context, dst []int64, user string, keys []CapKey, now time.Time) ([]int64, error) {
	if err := ctx.Err(); err != nil {
		return dst, err
	}
	if err := CheckKeys(keys); err != nil {
		return dst, err
	}
	ps := s.periods(now)
	sh := s.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.users[user]
	if u != nil {
		sh.touch(u)
	}
	next := 0
	for _, k := range keys {
		n, i := u.count(k, &ps, next)
		dst = append(dst, n)
		next = i + 1
	}
	return dst, nil
}

// count returns the count of k in the period of ps, and the index of its
// counter or -1; u may be nil. The search starts at from (see find).
func (u *freqUser) count(k CapKey, ps *periods, from int) (int64, int) {
	if u == nil {
		return 0, -1
	}
	start, _ := ps.bounds(k.Period)
	i := u.find(k, start, ps.nowNanos, from)
	if i < 0 {
		return 0, -1
	}
	return u.counters[i].n, i
}

// find returns the index of the counter of k in the period that starts at
// start and holds now, or -1. It looks from index from on, then wraps
// around: callers pass the index after the last counter found, so that
// keys asked for in the order their counters were made are found at once.
func (u *freqUser) find(k CapKey, start, now int64, from int) int {
	n := len(u.counters)
	if from >= n {
		from = 0
	}
	for j := range n {
		i := from + j
		if i >= n {
			i -= n
		}
		c := &u.counters[i]
		if c.start == start && c.key == k && now < c.end {
			return i
		}
	}
	return -1
}

// Record counts one impression for user under each key at now. It returns
// ctx.Err() if ctx is done, and an error wrapping ErrInvalidCap if a key is
// invalid; then it counts nothing.
func (s *MemoryFrequencyStore) Record(ctx context.Context, user string, keys []CapKey, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckKeys(keys); err != nil || len(keys) == 0 {
		return err
	}
	ps := s.periods(now)
	sh := s.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.users[user]
	if u == nil {
		if len(sh.users) >= sh.capacity {
			sh.remove(sh.head.prev) // the least recently used
			sh.evicted++
		}
		u = &freqUser{user: user}
		sh.users[user] = u
		sh.link(u)
	} else {
		sh.touch(u)
		u.prune(ps.nowNanos - freqMargin)
	}
	next := 0
	for _, k := range keys {
		next = u.add(k, &ps, next) + 1
	}
	sh.sweep(ps.nowNanos-freqMargin, 2)
	return nil
}

// add counts one impression of k in the period of ps and returns the
// index of its counter. The search starts at from (see find).
func (u *freqUser) add(k CapKey, ps *periods, from int) int {
	start, end := ps.bounds(k.Period)
	if i := u.find(k, start, ps.nowNanos, from); i >= 0 {
		u.counters[i].n++
		return i
	}
	u.counters = append(u.counters, freqCounter{key: k, start: start, end: end, n: 1})
	return len(u.counters) - 1
}

// prune drops the counters that ended by t.
func (u *freqUser) prune(t int64) {
	kept := u.counters[:0]
	for _, c := range u.counters {
		if t < c.end {
			kept = append(kept, c)
		}
	}
	clear(u.counters[len(kept):])
	u.counters = kept
}

// ended reports whether all of u's counters ended by t.
func (u *freqUser) ended(t int64) bool {
	for i := range u.counters {
		if t < u.counters[i].end {
			return false
		}
	}
	return true
}

// sweep removes up to n least recently used users whose counters all
// ended by t.
func (sh *freqShard) sweep(t int64, n int) {
	for ; n > 0; n-- {
		u := sh.head.prev
		if u == &sh.head || !u.ended(t) {
			return
		}
		sh.remove(u)
		sh.expired++
	}
}

func (sh *freqShard) link(u *freqUser) {
	u.prev, u.next = &sh.head, sh.head.next
	sh.head.next.prev = u
	sh.head.next = u
}

func (sh *freqShard) unlink(u *freqUser) {
	u.prev.next, u.next.prev = u.next, u.prev
}

func (sh *freqShard) touch(u *freqUser) {
	sh.unlink(u)
	sh.link(u)
}

func (sh *freqShard) remove(u *freqUser) {
	sh.unlink(u)
	delete(sh.users, u.user)
}
