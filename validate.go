package gavel

import (
	"errors"
	"fmt"
	"math"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// impInfo is what validation and clearing need of one request imp, in the
// auction currency.
type impInfo struct {
	floor     int64 // micros of CPM
	dealStart int   // deal k of the imp has its floor at round.dealFloors[dealStart+k]
}

// prepare validates the request and converts its floors to micros of the
// auction currency. It returns the auction currency: the first of req.cur,
// or USD.
func (r *round) prepare(req *openrtb2.BidRequest) (string, error) {
	if req == nil {
		return "", invalidRequest("nil request")
	}
	if req.ID == "" {
		return "", invalidRequest("missing id")
	}
	if len(req.Imp) == 0 {
		return "", invalidRequest("no imps")
	}
	if req.TMax < 0 {
		return "", invalidRequest("negative tmax %d", req.TMax)
	}
	if req.AT < 0 || req.AT > 2 {
		return "", invalidRequest("unsupported auction type at=%d", req.AT)
	}
	cur := "USD"
	if len(req.Cur) > 0 {
		if cur = req.Cur[0]; cur == "" {
			return "", invalidRequest("empty currency in cur")
		}
	}
	r.imps, r.dealFloors = r.imps[:0], r.dealFloors[:0]
	for i := range req.Imp {
		imp := &req.Imp[i]
		if imp.ID == "" {
			return "", invalidRequest("imp[%d]: missing id", i)
		}
		for j := range i {
			if req.Imp[j].ID == imp.ID {
				return "", invalidRequest("imp[%d]: duplicate id %q", i, imp.ID)
			}
		}
		floor, err := r.floorMicros(imp.BidFloor, imp.BidFloorCur, cur)
		if err != nil {
			return "", invalidRequest("imp[%d]: bidfloor: %v", i, err)
		}
		r.imps = append(r.imps, impInfo{floor: floor, dealStart: len(r.dealFloors)})
		if imp.PMP == nil {
			continue
		}
		for k := range imp.PMP.Deals {
			d := &imp.PMP.Deals[k]
			if err := r.checkDeal(imp, k, cur); err != nil {
				return "", invalidRequest("imp[%d]: deal[%d]: %v", i, k, err)
			}
			floor, _ := r.floorMicros(d.BidFloor, d.BidFloorCur, cur) // checked by checkDeal
			r.dealFloors = append(r.dealFloors, floor)
		}
	}
	return cur, nil
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
