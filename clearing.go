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
//
// The budget is asked for all imps at once: each round of clearing
// proposes the best bid not yet refused of every imp that has no winner,
// and reserves the costs of all of them together (budget.go), so that a
// remote Ledger costs one round trip for the winners of every imp, and one
// more for the imps whose best bid it refused.

// clear ranks and clears every imp.
func (r *round) clear(ctx context.Context, req *openrtb2.BidRequest, res *Result) {
	res.Imps = resultImps(res.Imps, len(req.Imp))
	// r.ties[i], the tie key of res.Bids[i], was set by collect.
	r.preparePods(req, res)
	r.rank = r.rank[:0]
	for i := range req.Imp {
		ir, info := &res.Imps[i], &r.imps[i]
		ir.ImpID, ir.FloorMicros, ir.Winner = req.Imp[i].ID, info.floor, -1
		info.rankLo = len(r.rank)
		for j := range res.Bids {
			if res.Bids[j].Imp == i && res.Bids[j].Loss == lossPending {
				r.rank = append(r.rank, j)
			}
		}
		info.rankHi, info.next = len(r.rank), info.rankLo
		slices.SortFunc(r.rank[info.rankLo:], func(x, y int) int { return r.compare(res, x, y) })
	}
	for r.propose(ctx, req, res) {
		r.reserve(ctx, res)
	}
	for i := range req.Imp {
		if r.pods.isDynamic(i) {
			r.settlePod(res, i)
		} else {
			r.settle(res, i)
		}
	}
	r.pods.done()
}

// propose prices the best bid not yet refused of every imp without a
// winner. A bid whose cost needs no reservation wins at once; the others
// go to r.reserving for reserve. It reports whether any bid is pending.
// The imps of ad pods take part in the same rounds, see pods.go.
func (r *round) propose(ctx context.Context, req *openrtb2.BidRequest, res *Result) bool {
	r.reserving, r.rs = r.reserving[:0], r.rs[:0]
	for i := range res.Imps {
		info := &r.imps[i]
		if res.Imps[i].Winner >= 0 || info.next == info.rankHi || r.pods.isPod(i) {
			continue
		}
		r.proposeBest(ctx, req, res, i)
	}
	if len(r.pods.imps) > 0 {
		r.proposePods(ctx, req, res)
	}
	return len(r.reserving) > 0
}

// proposeBest prices the best bid not yet refused of imp i against the
// bids ranked below it, and claims it.
func (r *round) proposeBest(ctx context.Context, req *openrtb2.BidRequest, res *Result, i int) {
	info := &r.imps[i]
	j := r.rank[info.next]
	r.price(req, res, i, &res.Bids[j], r.rank[info.next+1:info.rankHi])
	r.claim(ctx, res, j)
}

// claim makes the priced bid j win at once when its cost needs no
// reservation, or puts it in r.reserving, and its reservation in r.rs,
// for reserve.
func (r *round) claim(ctx context.Context, res *Result, j int) {
	if account, cost := r.costOf(&res.Bids[j]); account == "" || cost == 0 || r.a.cfg.ledger == nil {
		r.win(ctx, res, j, Hold{}, account, cost)
	} else {
		r.reserving = append(r.reserving, j)
		r.rs = append(r.rs, Reservation{Account: account, Amount: cost, TTL: r.a.cfg.holdTTL})
	}
}

// win makes bid j a winner of its imp, with the hold that pays for it: the
// imp's Winner, or one of the winners of a dynamic pod.
func (r *round) win(ctx context.Context, res *Result, j int, h Hold, account string, cost int64) {
	b := &res.Bids[j]
	b.Won, b.Loss = true, openrtb3.LossWon
	ir := &res.Imps[b.Imp]
	if r.pods.isDynamic(b.Imp) {
		if ir.Pod == nil {
			ir.Pod = &PodResult{}
		}
		ir.Pod.Winners, ir.Pod.Holds = append(ir.Pod.Winners, j), append(ir.Pod.Holds, h)
	} else {
		ir.Winner, ir.Hold = j, h
	}
	if account != "" {
		r.spend(ctx, account, cost)
	}
}

// refuse makes bid j, which the budget refused, lose with loss, and moves
// its imp on to the next bid; in a pod, its place, domains and categories
// are free again.
func (r *round) refuse(res *Result, j int, loss openrtb3.LossReason) {
	b := &res.Bids[j]
	b.Loss, b.ClearMicros, b.MinToWinMicros = loss, 0, -1
	r.imps[b.Imp].next++
	if r.pods.isPod(b.Imp) {
		r.pods.reopen(b.Imp)
	}
}

// settle sets the outcome of every ranked bid of imp i that neither won
// nor was refused: it lost to the winner.
func (r *round) settle(res *Result, i int) {
	info := &r.imps[i]
	winner := res.Imps[i].Winner
	if winner < 0 {
		return
	}
	w := &res.Bids[winner]
	for _, j := range r.rank[info.next:info.rankHi] {
		if j == winner {
			continue
		}
		b := &res.Bids[j]
		b.Loss = openrtb3.LossLostToHigherBid
		if w.Deal != nil && b.Deal == nil {
			b.Loss = openrtb3.LossLostToDealBid
		}
		b.MinToWinMicros = w.PriceMicros
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
// is second price, as OpenRTB says. A bid of a dynamic pod is priced the
// same way against the pod's bids that were not selected (below), and its
// open-market floor includes mincpmpersec × its dur (pods.go).
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
	} else {
		floor = max(floor, r.pods.minFloor(i, b))
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
