package gavel

import (
	"context"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
)

// Ranking. Within an imp the valid bids rank by, in order:
//
//  1. deal before open market, only with WithPreferDeals;
//  2. price, highest first (in micros of the auction currency);
//  3. a tie key: the xxhash of the seat mixed with the xxhash of the auction
//     id, lowest first. The same request always gives the same order, while
//     over many auctions no seat is favoured;
//  4. the bid id, then the order of arrival in the Result (the bidders'
//     order), so that even two bids of one seat never tie.
//
// The first bid in rank order that the budget admits wins; the others lose
// with LossLostToHigherBid, or LossLostToDealBid when the winner is a deal
// bid and they are not.

// clear ranks and clears every imp.
func (r *round) clear(ctx context.Context, req *openrtb2.BidRequest, res *Result) {
	res.Imps = make([]ImpResult, len(req.Imp))
	auctionHash := r.idHash
	r.ties = slices.Grow(r.ties[:0], len(res.Bids))[:len(res.Bids)]
	for i := range res.Bids {
		r.ties[i] = mix64(auctionHash ^ hashString(res.Bids[i].Seat))
	}
	for i := range req.Imp {
		ir := &res.Imps[i]
		ir.ImpID, ir.FloorMicros, ir.Winner = req.Imp[i].ID, r.imps[i].floor, -1
		r.rank = r.rank[:0]
		for j := range res.Bids {
			if res.Bids[j].Imp == i && res.Bids[j].Loss == lossPending {
				r.rank = append(r.rank, j)
			}
		}
		if len(r.rank) == 0 {
			continue
		}
		slices.SortFunc(r.rank, func(x, y int) int { return r.compare(res, x, y) })
		ir.Winner = r.clearImp(ctx, req, res, i)
	}
}

// compare orders two bids of one imp, best first.
func (r *round) compare(res *Result, x, y int) int {
	bx, by := &res.Bids[x], &res.Bids[y]
	if r.a.cfg.preferDeals && (bx.Deal == nil) != (by.Deal == nil) {
		if bx.Deal != nil {
			return -1
		}
		return 1
	}
	switch {
	case bx.PriceMicros != by.PriceMicros:
		if bx.PriceMicros > by.PriceMicros {
			return -1
		}
		return 1
	case r.ties[x] != r.ties[y]:
		if r.ties[x] < r.ties[y] {
			return -1
		}
		return 1
	}
	if c := strings.Compare(bx.Bid.ID, by.Bid.ID); c != 0 {
		return c
	}
	return x - y
}

// clearImp walks the ranked bids of imp i until the budget admits one, sets
// the outcome of every ranked bid and returns the winner's index, or -1.
func (r *round) clearImp(ctx context.Context, req *openrtb2.BidRequest, res *Result, i int) int {
	winner := -1
	for k, j := range r.rank {
		b := &res.Bids[j]
		if winner >= 0 {
			b.Loss = openrtb3.LossLostToHigherBid
			if w := &res.Bids[winner]; w.Deal != nil && b.Deal == nil {
				b.Loss = openrtb3.LossLostToDealBid
			}
			b.MinToWinMicros = res.Bids[winner].PriceMicros
			continue
		}
		r.price(req, res, i, b, r.rank[k+1:])
		if !r.admit(ctx, res, b) {
			b.Loss, b.ClearMicros, b.MinToWinMicros = LossBudget, 0, -1
			continue
		}
		b.Won, b.Loss, winner = true, openrtb3.LossWon, j
	}
	return winner
}

// price sets the clearing price and the minimum to win of bid b, the best
// remaining bid of imp i, against the bids ranked below it.
//
//   - at=1, first price: the bid pays its price.
//   - at=2, second price: the bid pays the larger of the best bid below it
//     and its floor (the deal floor for a deal bid), plus the increment
//     (WithPriceIncrement), and never more than its own price. With
//     WithPreferDeals a deal bid is priced against the deal bids below it
//     only, since no open bid could have beaten it.
//   - at=3, only for deals: the bid pays the deal's fixed price, its floor.
//
// The deal's at, when set, overrides the request's; a request without at
// is second price, as OpenRTB says.
func (r *round) price(req *openrtb2.BidRequest, res *Result, i int, b *BidOutcome, below []int) {
	at := req.AT
	if at == 0 {
		at = 2
	}
	floor := r.imps[i].floor
	if b.Deal != nil {
		floor = r.dealFloors[r.imps[i].dealStart+dealIndex(&req.Imp[i], b.Deal)]
		if b.Deal.AT != 0 {
			at = b.Deal.AT
		}
	}
	var second int64
	for _, j := range below {
		if r.a.cfg.preferDeals && b.Deal != nil && res.Bids[j].Deal == nil {
			break // open bids rank below every deal bid: they did not compete
		}
		second = max(second, res.Bids[j].PriceMicros)
	}
	b.MinToWinMicros = max(second, floor)
	switch at {
	case 1:
		b.ClearMicros = b.PriceMicros
	case 3:
		b.ClearMicros = floor
	default:
		b.ClearMicros = min(max(second, floor)+r.a.cfg.increment, b.PriceMicros)
	}
}

func hashString(s string) uint64 { return xxhash.Sum64String(s) }

// mix64 is the SplitMix64 finalizer: it spreads the bits of x so that
// combined hashes order uniformly.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
