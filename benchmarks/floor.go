package benchmarks

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
)

// Best is the best bid of one imp that Floor found.
type Best struct {
	Bidder      int   // index into the bidders; -1 when no bid passed the floor
	PriceMicros int64 // micros of CPM
}

// Floor is the reference auction that no engine can beat: it calls the
// bidders one after another on the caller's goroutine, with no deadline and
// no validation beyond the imp id, and keeps the best bid of each imp in a
// single pass, comparing prices and checking the imp floor (the deal floor
// for a deal bid). It writes the outcome of imp j into best[j]; best must
// have one element per imp. It allocates nothing of its own.
func Floor(ctx context.Context, req *openrtb2.BidRequest, bidders []gavel.Bidder, best []Best) {
	for j := range best {
		best[j] = Best{Bidder: -1}
	}
	for i, b := range bidders {
		if resp, err := b.Bid(ctx, req); err == nil {
			pick(req, i, resp, best)
		}
	}
}

// FloorGoroutines is the reference floor of an engine that returns on time
// whatever its bidders do, and so must call each bidder on a goroutine of
// its own: it calls every bidder on its own goroutine under a context that
// ends after timeout, waits until all have answered or the context ends,
// then keeps the best bid of each imp as Floor does. The gap between Floor
// and FloorGoroutines is the price of the deadline guarantee; the gap
// between FloorGoroutines and Run is the engine's own.
//
// A bidder that answers after the deadline is ignored; its goroutine ends
// when the bidder returns.
func FloorGoroutines(ctx context.Context, req *openrtb2.BidRequest, bidders []gavel.Bidder, timeout time.Duration, best []Best) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resps := make([]atomic.Pointer[openrtb2.BidResponse], len(bidders))
	var pending atomic.Int32
	pending.Store(int32(len(bidders)))
	done := make(chan struct{})
	for i, b := range bidders {
		go func() {
			if resp, err := b.Bid(ctx, req); err == nil {
				resps[i].Store(resp)
			}
			if pending.Add(-1) == 0 {
				close(done)
			}
		}()
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	for j := range best {
		best[j] = Best{Bidder: -1}
	}
	for i := range resps {
		pick(req, i, resps[i].Load(), best)
	}
}

// pick keeps in best the bids of resp, from bidder i, that pass their
// floor and beat the best so far.
func pick(req *openrtb2.BidRequest, i int, resp *openrtb2.BidResponse, best []Best) {
	if resp == nil {
		return
	}
	for _, sb := range resp.SeatBid {
		for k := range sb.Bid {
			bid := &sb.Bid[k]
			j := impIndex(req, bid.ImpID)
			if j < 0 {
				continue
			}
			price := micros(bid.Price)
			if price >= floorMicros(&req.Imp[j], bid.DealID) && price > best[j].PriceMicros {
				best[j] = Best{Bidder: i, PriceMicros: price}
			}
		}
	}
}

func impIndex(req *openrtb2.BidRequest, id string) int {
	for j := range req.Imp {
		if req.Imp[j].ID == id {
			return j
		}
	}
	return -1
}

// floorMicros is the floor a bid for imp with the given deal id must reach;
// an unknown deal gets an unreachable floor.
func floorMicros(imp *openrtb2.Imp, dealID string) int64 {
	if dealID == "" {
		return micros(imp.BidFloor)
	}
	if imp.PMP != nil {
		for k := range imp.PMP.Deals {
			if imp.PMP.Deals[k].ID == dealID {
				return micros(imp.PMP.Deals[k].BidFloor)
			}
		}
	}
	return math.MaxInt64
}

func micros(cpm float64) int64 { return int64(math.Round(cpm * 1e6)) }

// CheckFloor returns an error unless best holds the fixture's expected
// winners and their prices.
func (f *Fixture) CheckFloor(best []Best) error {
	if len(best) != len(f.Want) {
		return fmt.Errorf("benchmarks: %d imps, want %d", len(best), len(f.Want))
	}
	for j, w := range f.Want {
		if best[j].Bidder < 0 {
			return fmt.Errorf("benchmarks: floor: imp %s: no winner", w.ImpID)
		}
		if name := f.Names[best[j].Bidder]; name != w.Bidder || best[j].PriceMicros != w.PriceMicros {
			return fmt.Errorf("benchmarks: floor: imp %s: won by %s at %d, want %s at %d",
				w.ImpID, name, best[j].PriceMicros, w.Bidder, w.PriceMicros)
		}
	}
	return nil
}
