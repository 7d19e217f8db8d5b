package campaign

import (
	"sync"
	"time"
)

// dedupeShards is the number of shards of a dedupe set; a key's first
// byte picks its shard.
const dedupeShards = 16

// dedupe is a bounded set of keys that expire: add reports whether a key
// is new. Each shard forgets its keys in the order they were added, once
// expired or, past its share of the memory, early. It is safe for
// concurrent use.
type dedupe struct {
	shards [dedupeShards]dedupeShard
}

type dedupeShard struct {
	mu    sync.Mutex
	max   int
	seen  map[[16]byte]int64 // key -> expiry, Unix ns
	order []dedupeEntry      // in the order added, from head
	head  int
}

type dedupeEntry struct {
	key     [16]byte
	expires int64
}

// newDedupe returns a set that holds about memory keys at most (at least
// one per shard).
func newDedupe(memory int) *dedupe {
	d := &dedupe{}
	per := max(1, memory/dedupeShards)
	for i := range d.shards {
		d.shards[i].max = per
		d.shards[i].seen = make(map[[16]byte]int64)
	}
	return d
}

// add records key until expires and returns true, or returns false if key
// is held and not expired at now.
func (d *dedupe) add(key [16]byte, now, expires time.Time) bool {
	s := &d.shards[key[0]%dedupeShards]
	n := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if x, ok := s.seen[key]; ok && n < x {
		return false
	}
	s.evict(n)
	x := expires.UnixNano()
	s.seen[key] = x
	s.order = append(s.order, dedupeEntry{key: key, expires: x})
	return true
}

// evict forgets, from the oldest, the keys expired at n and those past
// the shard's memory, leaving room for one more.
func (s *dedupeShard) evict(n int64) {
	for s.head < len(s.order) {
		e := s.order[s.head]
		x, held := s.seen[e.key]
		current := held && x == e.expires // not re-added since
		full := len(s.seen) >= s.max || len(s.order)-s.head >= 2*s.max
		if current && n < x && !full {
			break
		}
		if current {
			delete(s.seen, e.key)
		}
		s.order[s.head] = dedupeEntry{}
		s.head++
	}
	if s.head > 0 && s.head >= len(s.order)/2 {
		s.order = append(s.order[:0], s.order[s.head:]...)
		s.head = 0
	}
}

// len returns the number of keys held, expired or not.
func (d *dedupe) len() int {
	n := 0
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		n += len(s.seen)
		s.mu.Unlock()
	}
	return n
}
