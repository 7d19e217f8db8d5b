package benchmarks

import (
	"context"
	"fmt"
	"math"

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
		resp, err := b.Bid(ctx, req)
		if err != nil || resp == nil {
			continue
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
