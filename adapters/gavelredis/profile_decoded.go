package gavelredis

import (
	"hash/maphash"
	"sync"

	"github.com/gavelrtb/gavel"
)

// decodedProfiles keeps profiles decoded from the bytes Redis returned for
// their keys, so that a cache hit, which returns the same bytes, is not
// decoded again. An entry is used only while the bytes are equal, so a
// changed profile is never served from it; a string comparison of the very
// same bytes stops at their pointer. It is bounded: past the capacity the
// oldest entries are dropped first. Safe for concurrent use.
type decodedProfiles struct {
	seed   maphash.Seed
	shards []decodedShard
}

type decodedShard struct {
	mu      sync.RWMutex
	entries map[string]decodedProfile
	order   []string // keys in the order they came in, a ring of the shard's capacity
	pos     int      // next slot of order to fill
	_       [40]byte // keeps neighbouring shards' locks off one cache line
}

type decodedProfile struct {
	raw string
	p   *gavel.Profile
}

const decodedShards = 32

func newDecodedProfiles(capacity int) *decodedProfiles {
	n := min(decodedShards, capacity)
	d := &decodedProfiles{seed: maphash.MakeSeed(), shards: make([]decodedShard, n)}
	for i := range d.shards {
		c := capacity / n
		if i < capacity%n {
			c++
		}
		d.shards[i].entries = make(map[string]decodedProfile)
		d.shards[i].order = make([]string, c)
	}
	return d
}

func (d *decodedProfiles) shard(key string) *decodedShard {
	return &d.shards[maphash.String(d.seed, key)%uint64(len(d.shards))]
}

// get returns the profile decoded from raw for key, or nil.
func (d *decodedProfiles) get(key, raw string) *gavel.Profile {
	sh := d.shard(key)
	sh.mu.RLock()
	e, ok := sh.entries[key]
	sh.mu.RUnlock()
	if ok && e.raw == raw {
		return e.p
	}
	return nil
}

// put keeps p, decoded from raw, for key.
func (d *decodedProfiles) put(key, raw string, p *gavel.Profile) {
	sh := d.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.entries[key]; !ok {
		// A key enters the ring once per stay in the map; the entry it
		// overwrites leaves the map, so the map never outgrows the ring.
		if old := sh.order[sh.pos]; old != "" {
			delete(sh.entries, old)
		}
		sh.order[sh.pos] = key
		sh.pos = (sh.pos + 1) % len(sh.order)
	}
	sh.entries[key] = decodedProfile{raw: raw, p: p}
}

// drop forgets key.
func (d *decodedProfiles) drop(key string) {
	sh := d.shard(key)
	sh.mu.RLock()
	_, ok := sh.entries[key]
	sh.mu.RUnlock()
	if ok {
		sh.mu.Lock()
		delete(sh.entries, key)
		sh.mu.Unlock()
	}
}
