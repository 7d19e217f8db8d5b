package gavel

import (
	"context"
	"sync"
	"time"
)

// MemoryProfileStore is an in-memory ProfileStore bounded in size and age:
// profiles expire after their TTL and, past the capacity, the least recently
// used are evicted. It is sharded by key so that lookups on many goroutines
// seldom contend. Lookups do not allocate. Create one with
// NewMemoryProfileStore; the zero value is not usable.
type MemoryProfileStore struct {
	shards []profileShard
	ttl    time.Duration
	clock  Clock
}

type profileShard struct {
	mu       sync.Mutex
	entries  map[string]*profileEntry
	head     profileEntry // sentinel of the LRU list: head.next is the most recent
	capacity int
}

type profileEntry struct {
	key        string
	p          *Profile
	expires    time.Time
	prev, next *profileEntry
}

// A ProfileStoreOption configures a MemoryProfileStore.
type ProfileStoreOption interface {
	applyProfileStore(*profileStoreConfig)
}

type profileStoreConfig struct {
	ttl      time.Duration
	capacity int
	clock    Clock
	optionErrors
}

type profileStoreOption func(*profileStoreConfig)

func (f profileStoreOption) applyProfileStore(c *profileStoreConfig) { f(c) }

// Defaults of the MemoryProfileStore options.
const (
	DefaultProfileTTL      = time.Hour
	DefaultProfileCapacity = 100_000
)

// WithProfileTTL sets how long a stored profile lives; it must be
// positive. Default DefaultProfileTTL (1 hour).
func WithProfileTTL(d time.Duration) ProfileStoreOption {
	return profileStoreOption(func(c *profileStoreConfig) {
		if d <= 0 {
			c.fail("profile ttl must be positive, got %v", d)
			return
		}
		c.ttl = d
	})
}

// WithProfileCapacity bounds the number of stored profiles; past it the
// least recently used are evicted (per shard, so the bound is met
// approximately, never exceeded). It must be positive. Default
// DefaultProfileCapacity (100,000).
func WithProfileCapacity(n int) ProfileStoreOption {
	return profileStoreOption(func(c *profileStoreConfig) {
		if n <= 0 {
			c.fail("profile capacity must be positive, got %d", n)
			return
		}
		c.capacity = n
	})
}

// WithProfileClock sets the clock that ages profiles; it must not be nil.
// Default: the system clock.
func WithProfileClock(clk Clock) ProfileStoreOption {
	return profileStoreOption(func(c *profileStoreConfig) {
		if clk == nil {
			c.fail("profile clock must not be nil")
			return
		}
		c.clock = clk
	})
}

const profileShards = 32

// NewMemoryProfileStore returns an empty store configured by opts, applied
// in order. It returns an error wrapping ErrInvalidOption when an option is
// out of range; all such problems are reported at once.
func NewMemoryProfileStore(opts ...ProfileStoreOption) (*MemoryProfileStore, error) {
	cfg := profileStoreConfig{ttl: DefaultProfileTTL, capacity: DefaultProfileCapacity, clock: systemClock{}}
	for _, o := range opts {
		o.applyProfileStore(&cfg)
	}
	if err := cfg.err(); err != nil {
		return nil, err
	}
	s := &MemoryProfileStore{ttl: cfg.ttl, clock: cfg.clock}
	capacity := cfg.capacity
	n := min(profileShards, capacity)
	s.shards = make([]profileShard, n)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.entries = make(map[string]*profileEntry)
		sh.head.prev, sh.head.next = &sh.head, &sh.head
		sh.capacity = capacity / n
		if i < capacity%n {
			sh.capacity++
		}
	}
	return s, nil
}

func (s *MemoryProfileStore) shard(key string) *profileShard {
	return &s.shards[hashString(key)%uint64(len(s.shards))]
}

// Put stores p under key, replacing what was there, for the store's TTL.
// The store keeps p: do not modify it afterwards.
func (s *MemoryProfileStore) Put(key string, p *Profile) {
	sh := s.shard(key)
	expires := s.clock.Now().Add(s.ttl)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.entries[key]; ok {
		e.p, e.expires = p, expires
		sh.touch(e)
		return
	}
	if len(sh.entries) >= sh.capacity {
		sh.remove(sh.head.prev) // the least recently used
	}
	e := &profileEntry{key: key, p: p, expires: expires}
	sh.entries[key] = e
	sh.link(e)
}

// Delete removes the profile stored under key, if any.
func (s *MemoryProfileStore) Delete(key string) {
	sh := s.shard(key)
	sh.mu.Lock()
	if e, ok := sh.entries[key]; ok {
		sh.remove(e)
	}
	sh.mu.Unlock()
}

// NonBlocking marks the store as NonBlocking: Run looks profiles up in it
// directly.
func (s *MemoryProfileStore) NonBlocking() {}

// Len returns the number of stored profiles, expired ones not yet evicted
// included.
func (s *MemoryProfileStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
}

// Profile returns the profile stored under key, or ErrNoProfile when there
// is none or it expired. It returns ctx.Err() if ctx is done.
func (s *MemoryProfileStore) Profile(ctx context.Context, key string) (*Profile, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sh := s.shard(key)
	now := s.clock.Now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.entries[key]
	if !ok {
		return nil, ErrNoProfile
	}
	if !now.Before(e.expires) {
		sh.remove(e)
		return nil, ErrNoProfile
	}
	sh.touch(e)
	return e.p, nil
}

func (sh *profileShard) link(e *profileEntry) {
	e.prev, e.next = &sh.head, sh.head.next
	sh.head.next.prev = e
	sh.head.next = e
}

func (sh *profileShard) unlink(e *profileEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
}

func (sh *profileShard) touch(e *profileEntry) {
	sh.unlink(e)
	sh.link(e)
}

func (sh *profileShard) remove(e *profileEntry) {
	sh.unlink(e)
	delete(sh.entries, e.key)
}
