package redis

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gavelrtb/gavel"
)

// The ID of a lease-mode hold is
//
//	1<<63 | tag<<48 | shard<<43 | slot<<20 | gen
//
// The top bit tells it from a strict-mode hold (a sequence number in Redis,
// below 2^53); the tag (15 bits of the ledger's random owner name) tells
// the holds of different processes apart, so that a hold committed in the
// wrong process is not found there (but for a chance of 1 in 2^15 that the
// tags match, and then the slot, generation, amount and account must match
// too); the generation counts the reuses of the record, so that the ID of
// an ended hold no longer matches. With 32 shards of up to 2^23 records a
// process keeps up to 268 million lease-mode holds at once.
const (
	localFlag   = 1 << 63
	tagMask     = 1<<15 - 1
	localShards = 1 << 5
	maxSlots    = 1 << 23
	genMask     = 1<<20 - 1
	noSlot      = math.MaxUint32
)

// localHolds keeps the lease-mode holds of a ledger, spread over shards
// that each have a lock, a slice of records reused through a free list,
// and a min-heap of expiries in which each live record knows its place.
// A hold goes to a random shard, so that reservations on one account
// rarely wait for each other.
type localHolds struct {
	tag    uint64
	shards [localShards]holdShard
}

type holdShard struct {
	mu    sync.Mutex
	recs  []localHold
	free  uint32 // first free record, or noSlot
	heap  []holdExpiry
	stats [3]int64 // reserves, commits, releases

	_ [64]byte // keeps the locks of neighbouring shards off one cache line
}

type localHold struct {
	lease    *lease // nil while the record is free
	amount   int64
	expires  int64  // Unix ns, by the ledger's clock
	gen      uint32 // in the ID; never 0
	leaseGen uint32 // the lease's generation when the hold took its money
	heapPos  uint32 // while live
	next     uint32 // next free record, while free
}

type holdExpiry struct {
	at   int64
	slot uint32
}

func newLocalHolds(seed uint64) *localHolds {
	h := &localHolds{tag: seed & tagMask}
	for i := range h.shards {
		h.shards[i].free = noSlot
	}
	return h
}

// add keeps a hold of amount taken from generation gen of ls, expiring ttl
// after now (Unix ns), and returns its ID; false if the shard is full.
func (h *localHolds) add(ls *lease, gen uint32, amount, now int64, ttl time.Duration) (uint64, bool) {
	i := rand.Uint32() & (localShards - 1)
	s := &h.shards[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	slot, ok := s.alloc()
	if !ok {
		return 0, false
	}
	r := &s.recs[slot]
	r.lease, r.amount, r.leaseGen = ls, amount, gen
	r.expires = now + min(int64(ttl), math.MaxInt64-now)
	s.push(holdExpiry{at: r.expires, slot: slot})
	s.stats[0]++
	ls.holds.Add(1)
	return localFlag | h.tag<<48 | uint64(i)<<43 | uint64(slot)<<20 | uint64(r.gen), true
}

// end ends the hold hd, billing actual if commit is set, as Ledger.Commit
// and Ledger.Release do; now is Unix ns by the ledger's clock.
func (h *localHolds) end(hd gavel.Hold, actual int64, commit bool, now int64) error {
	if hd.ID>>48&tagMask != h.tag {
		return gavel.ErrHoldNotFound
	}
	s := &h.shards[hd.ID>>43&(localShards-1)]
	slot, gen := uint32(hd.ID>>20)&(maxSlots-1), uint32(hd.ID)&genMask
	s.mu.Lock()
	s.expire(now)
	if int(slot) >= len(s.recs) {
		s.mu.Unlock()
		return gavel.ErrHoldNotFound
	}
	r := &s.recs[slot]
	if r.lease == nil || r.gen != gen || r.amount != hd.Amount || r.lease.account != hd.Account {
		s.mu.Unlock()
		return gavel.ErrHoldNotFound
	}
	if commit && (actual < 0 || actual > r.amount) {
		s.mu.Unlock()
		return gavel.ErrCommitExceedsHold
	}
	ls, amount, leaseGen := r.lease, r.amount, r.leaseGen
	s.remove(int(r.heapPos))
	s.release(slot)
	if commit {
		s.stats[1]++
	} else {
		actual = 0
		s.stats[2]++
	}
	s.mu.Unlock()
	ls.settle(amount, actual, leaseGen)
	return nil
}

// sweep returns the holds that expired by now to their leases.
func (h *localHolds) sweep(now int64) {
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.Lock()
		s.expire(now)
		s.mu.Unlock()
	}
}

// clear ends every hold as if it had expired.
func (h *localHolds) clear() {
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.Lock()
		for _, e := range s.heap {
			r := &s.recs[e.slot]
			r.lease.settle(r.amount, 0, r.leaseGen)
		}
		s.recs, s.heap, s.free = nil, nil, noSlot
		s.mu.Unlock()
	}
}

func (h *localHolds) addStats(st *LedgerStats) {
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.Lock()
		st.Reserves += s.stats[0]
		st.Commits += s.stats[1]
		st.Releases += s.stats[2]
		st.LocalHolds += int64(len(s.heap))
		s.mu.Unlock()
	}
}

// expire ends every hold of the shard that expired by now.
func (s *holdShard) expire(now int64) {
	for len(s.heap) > 0 && s.heap[0].at <= now {
		slot := s.heap[0].slot
		s.remove(0)
		r := &s.recs[slot]
		r.lease.settle(r.amount, 0, r.leaseGen)
		s.release(slot)
	}
}

// alloc takes a free record, or appends one.
func (s *holdShard) alloc() (uint32, bool) {
	if s.free != noSlot {
		slot := s.free
		s.free = s.recs[slot].next
		return slot, true
	}
	if len(s.recs) >= maxSlots {
		return 0, false
	}
	s.recs = append(s.recs, localHold{gen: 1})
	return uint32(len(s.recs) - 1), true
}

// release frees a record, in a new generation.
func (s *holdShard) release(slot uint32) {
	r := &s.recs[slot]
	r.lease = nil
	r.gen = (r.gen + 1) & genMask
	if r.gen == 0 {
		r.gen = 1
	}
	r.next, s.free = s.free, slot
}

func (s *holdShard) push(e holdExpiry) {
	s.heap = append(s.heap, e)
	i := len(s.heap) - 1
	s.recs[e.slot].heapPos = uint32(i)
	s.up(i)
}

// remove takes entry i out of the heap.
func (s *holdShard) remove(i int) {
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

func (s *holdShard) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if s.heap[p].at <= s.heap[i].at {
			return
		}
		s.swap(i, p)
		i = p
	}
}

func (s *holdShard) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(s.heap) {
			return
		}
		if r := c + 1; r < len(s.heap) && s.heap[r].at < s.heap[c].at {
			c = r
		}
		if s.heap[i].at <= s.heap[c].at {
			return
		}
		s.swap(i, c)
		i = c
	}
}

func (s *holdShard) swap(i, j int) {
	s.heap[i], s.heap[j] = s.heap[j], s.heap[i]
	s.recs[s.heap[i].slot].heapPos = uint32(i)
	s.recs[s.heap[j].slot].heapPos = uint32(j)
}
