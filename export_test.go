package gavel

import (
	"context"
	"fmt"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// WatchHTTPBodies makes b call watch with every request body it encodes,
// before sending it: the bytes that encodeRequest returned, which the
// auction's HTTP bidders share.
func WatchHTTPBodies(b *HTTPBidder, watch func(body []byte)) {
	enc := b.encode
	b.encode = func(ctx context.Context, req *openrtb2.BidRequest) ([]byte, error) {
		body, err := enc(ctx, req)
		watch(body)
		return body, err
	}
}

// CheckLedger verifies a MemoryLedger's internal invariants, shard by shard
// under the shard's lock: the heap is a min-heap whose entries and records
// point at each other, every record is either live (in the heap) or on the
// free list, each account's Reserved is the sum of its live holds, and no
// account has more committed and reserved than its budget. It exists for
// tests only and costs the ledger nothing.
func CheckLedger(l *MemoryLedger) error {
	for i := range l.shards {
		if err := l.shards[i].check(); err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
	}
	return nil
}

// SetMaxHolds sets how many holds each shard of l can keep at once, so that
// tests reach the limit without millions of holds.
func SetMaxHolds(l *MemoryLedger, n uint32) { l.maxSlots = n }

// AgeHolds sets the generation of every free hold record in the shard of
// account to gen, as if each had been reused that often, so that tests
// reach the wrap of generations without billions of holds.
func AgeHolds(l *MemoryLedger, account string, gen uint32) {
	s := l.shard(account)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.holds {
		if s.holds[i].acct == nil {
			s.holds[i].gen = gen
		}
	}
}

func (s *shard) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.accounts) == 0 && len(s.holds) == 0 {
		return nil
	}
	reserved, err := s.checkHeap()
	if err != nil {
		return err
	}
	free := 0
	for slot := s.freeList; slot != noSlot; slot = s.holds[slot].nextFree {
		if s.holds[slot].acct != nil {
			return fmt.Errorf("free record %d is live", slot)
		}
		if free++; free > len(s.holds) {
			return fmt.Errorf("free list has a cycle")
		}
	}
	if free+len(s.heap) != len(s.holds) {
		return fmt.Errorf("%d free + %d live != %d records", free, len(s.heap), len(s.holds))
	}
	for name, a := range s.accounts {
		if a.reserved != reserved[a] {
			return fmt.Errorf("account %q: reserved %d, live holds sum to %d", name, a.reserved, reserved[a])
		}
		if a.committed < 0 || a.committed+a.reserved > a.budget {
			return fmt.Errorf("account %q: committed %d + reserved %d, budget %d", name, a.committed, a.reserved, a.budget)
		}
	}
	return nil
}

// checkHeap checks the heap against the records and returns the sum of
// each account's live holds.
func (s *shard) checkHeap() (map[*ledgerAccount]int64, error) {
	reserved := make(map[*ledgerAccount]int64, len(s.accounts))
	live := 0
	for i, e := range s.heap {
		if i > 0 && s.heap[(i-1)/2].expiry > e.expiry {
			return nil, fmt.Errorf("heap order broken at %d", i)
		}
		if int(e.slot) >= len(s.holds) {
			return nil, fmt.Errorf("heap entry %d: slot %d out of range", i, e.slot)
		}
		r := &s.holds[e.slot]
		if r.acct == nil || int(r.heapPos) != i || r.gen == 0 || r.gen > maxGen {
			return nil, fmt.Errorf("heap entry %d: record %+v does not point back", i, *r)
		}
		if r.ended == endLive {
			reserved[r.acct] += r.amount
			live++
		}
	}
	if live != s.live {
		return nil, fmt.Errorf("%d live holds in the heap, counted %d", live, s.live)
	}
	return reserved, nil
}
