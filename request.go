package gavel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// impInfo is what validation and clearing need of one request imp, in the
// auction currency.
type impInfo struct {
	floor     int64 // micros of CPM
	dealStart int   // deal k of the imp has its floor at round.dealFloors[dealStart+k]

	// The imp's valid bids in rank order are round.rank[rankLo:rankHi];
	// next is the first of them not yet refused by the budget.
	rankLo, rankHi, next int
}

// prepare validates the request and converts its floors to micros of the
// auction currency. It returns the auction currency: the first of req.cur,
// or USD.
func (r *round) prepare(req *openrtb2.BidRequest) (string, error) {
	if req == nil {
		return "", invalidRequest("nil request")
	}
	var problems requestProblems
	checkRequestFields(req, &problems)
	cur := "USD"
	if len(req.Cur) > 0 && req.Cur[0] != "" {
		cur = req.Cur[0]
	}
	r.imps, r.dealFloors = r.imps[:0], r.dealFloors[:0]
	for i := range req.Imp {
		r.prepareImp(req, i, cur, &problems)
	}
	r.minCost = r.lowestCost()
	return cur, problems.err()
}

// lowestCost is what one impression costs at the lowest floor of the
// request, imp or deal, at least 1 micro: an account that cannot pay it
// cannot win anything.
func (r *round) lowestCost() int64 {
	lowest := int64(-1)
	for i := range r.imps {
		if f := r.imps[i].floor; lowest < 0 || f < lowest {
			lowest = f
		}
	}
	for _, f := range r.dealFloors {
		lowest = min(lowest, f)
	}
	return max((lowest+500)/1000, 1)
}

// checkRequestFields checks the request's own fields: id, imps, tmax,
// auction type and currency.
func checkRequestFields(req *openrtb2.BidRequest, problems *requestProblems) {
	if req.ID == "" {
		problems.add("missing id")
	}
	if len(req.Imp) == 0 {
		problems.add("no imps")
	}
	if req.TMax < 0 {
		problems.add("negative tmax %d", req.TMax)
	}
	if req.AT < 0 || req.AT > 2 {
		problems.add("unsupported auction type at=%d", req.AT)
	}
	if len(req.Cur) > 0 && req.Cur[0] == "" {
		problems.add("empty currency in cur")
	}
}

// prepareImp checks imp i (id, floor, deals) and appends its floors in
// micros of cur to r.imps and r.dealFloors.
func (r *round) prepareImp(req *openrtb2.BidRequest, i int, cur string, problems *requestProblems) {
	imp := &req.Imp[i]
	if imp.ID == "" {
		problems.add("imp[%d]: missing id", i)
	}
	for j := range i {
		if imp.ID != "" && req.Imp[j].ID == imp.ID {
			problems.add("imp[%d]: duplicate id %q", i, imp.ID)
			break
		}
	}
	floor, err := r.floorMicros(imp.BidFloor, imp.BidFloorCur, cur)
	if err != nil {
		problems.add("imp[%d]: bidfloor: %v", i, err)
	}
	r.imps = append(r.imps, impInfo{floor: floor, dealStart: len(r.dealFloors)})
	if imp.PMP == nil {
		return
	}
	for k := range imp.PMP.Deals {
		d := &imp.PMP.Deals[k]
		if err := r.checkDeal(imp, k, cur); err != nil {
			problems.add("imp[%d]: deal[%d]: %v", i, k, err)
		}
		floor, _ := r.floorMicros(d.BidFloor, d.BidFloorCur, cur) // an error is reported by checkDeal
		r.dealFloors = append(r.dealFloors, floor)
	}
}

func (r *round) checkDeal(imp *openrtb2.Imp, k int, cur string) error {
	d := &imp.PMP.Deals[k]
	if d.ID == "" {
		return errors.New("missing id")
	}
	for j := range k {
		if imp.PMP.Deals[j].ID == d.ID {
			return fmt.Errorf("duplicate id %q", d.ID)
		}
	}
	if d.AT < 0 || d.AT > 3 {
		return fmt.Errorf("unsupported auction type at=%d", d.AT)
	}
	if d.AT == 3 && !(d.BidFloor > 0) {
		return errors.New("a fixed-price deal (at=3) needs its price in bidfloor")
	}
	_, err := r.floorMicros(d.BidFloor, d.BidFloorCur, cur)
	return err
}

// floorMicros converts a floor in CPM and its currency (empty: USD) to
// micros of CPM in the auction currency.
func (r *round) floorMicros(v float64, fcur, cur string) (int64, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("%v is not a price", v)
	}
	if v == 0 {
		return 0, nil
	}
	if fcur == "" {
		fcur = "USD"
	}
	m := toMicros(v)
	if fcur == cur {
		return m, nil
	}
	return convertMicros(r.a.cfg.converter, m, fcur, cur)
}

// toMicros converts a CPM to micros, rounding half away from zero. Prices
// above 1e9 CPM saturate; the maximum price check rejects them.
func toMicros(cpm float64) int64 {
	if cpm >= 1e12 {
		return math.MaxInt64 / 2
	}
	return int64(math.Round(cpm * 1e6))
}

// auctionTime is the time the request may use: its tmax, or the default for
// a missing tmax, capped by the maximum.
func (a *Auction) auctionTime(req *openrtb2.BidRequest) time.Duration {
	d := a.cfg.defaultTMax
	if req.TMax > 0 {
		d = time.Duration(req.TMax) * time.Millisecond
	}
	return min(d, a.cfg.maxTMax)
}

// deadline is when Run returns: the earliest of the ctx deadline and start +
// tmax, less the reserve kept for the caller. The fan-out ends the clearing
// time (WithClearingTime) before it.
func (a *Auction) deadline(ctx context.Context, req *openrtb2.BidRequest, start time.Time) time.Time {
	d := start.Add(a.auctionTime(req))
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return d.Add(-a.cfg.reserve)
}

// requestFor returns the bidders' copy of req with the given tmax, making it
// on first use.
func (r *round) requestFor(req *openrtb2.BidRequest, tmax int64) *openrtb2.BidRequest {
	for i := range r.reqs[:r.nreqs] {
		if r.reqs[i].TMax == tmax {
			return &r.reqs[i]
		}
	}
	c := &r.reqs[r.nreqs]
	*c = *req
	c.TMax = tmax
	if r.profile.merged {
		c.User = &r.profile.user
	}
	r.nreqs++
	return c
}

// requestBody returns the JSON encoding of a request that this round handed
// to its bidders, encoding it once however many bidders ask. Bidders must
// not modify the bytes. It runs in bidder goroutines, concurrently with
// launch: it compares addresses only and never reads r.nreqs.
func (r *round) requestBody(req *openrtb2.BidRequest) ([]byte, error) {
	for i := range r.reqs {
		if &r.reqs[i] == req {
			sb := &r.bodies[i]
			sb.once.Do(func() { sb.body, sb.err = json.Marshal(req) })
			return sb.body, sb.err
		}
	}
	return json.Marshal(req)
}

// encodeRequest returns the JSON of req, shared with the other bidders of
// the auction when ctx comes from Run.
func encodeRequest(ctx context.Context, req *openrtb2.BidRequest) ([]byte, error) {
	if r, ok := ctx.Value(roundKey{}).(*round); ok {
		return r.requestBody(req)
	}
	return json.Marshal(req)
}

type sharedBody struct {
	once sync.Once
	body []byte
	err  error
}
