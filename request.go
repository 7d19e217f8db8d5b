package gavel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
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

// dealUnusable is the floor in round.dealFloors of a deal whose floor
// cannot be converted to the auction currency: its bids lose with
// LossDealCurrency.
const dealUnusable = -1

// usdOnly is the currencies of a request without cur: USD (§3.2.1).
var usdOnly = []string{"USD"}

// prepare validates the request, chooses the auction currency and converts
// the floors to micros of it. It returns the auction currency, or a
// *RequestError for an invalid request, or a *CurrencyError for a valid
// one that no allowed currency can hold.
func (r *round) prepare(req *openrtb2.BidRequest) (string, error) {
	if req == nil {
		r.a.stats.invalid.Add(1)
		return "", invalidRequest("nil request")
	}
	var problems requestProblems
	checkRequestFields(req, &problems)
	for i := range req.Imp {
		checkImp(req, i, &problems)
	}
	if err := problems.err(); err != nil {
		r.a.stats.invalid.Add(1)
		return "", err
	}
	cur, err := r.chooseCurrency(req)
	if err != nil {
		r.a.stats.noCurrency.Add(1)
		return "", err
	}
	r.minCost = r.lowestCost()
	return cur, nil
}

// lowestCost is what one impression costs at the lowest floor of the
// request, imp or usable deal, at least 1 micro: an account that cannot
// pay it cannot win anything.
func (r *round) lowestCost() int64 {
	lowest := int64(-1)
	for i := range r.imps {
		if f := r.imps[i].floor; lowest < 0 || f < lowest {
			lowest = f
		}
	}
	for _, f := range r.dealFloors {
		if f >= 0 {
			lowest = min(lowest, f)
		}
	}
	return max((lowest+500)/1000, 1)
}

// checkRequestFields checks the request's own fields: id, imps, tmax,
// auction type, currencies, and at most one of site, app and dooh
// (OpenRTB 2.6 §3.2.13, §3.2.14).
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
	for i, c := range req.Cur {
		if c == "" {
			problems.add("cur[%d]: empty currency", i)
		}
	}
	if (req.Site != nil) && (req.App != nil || req.DOOH != nil) || req.App != nil && req.DOOH != nil {
		problems.add("more than one of site, app and dooh: %s", distributionChannels(req))
	}
}

// distributionChannels names which of site, app and dooh req has.
func distributionChannels(req *openrtb2.BidRequest) string {
	var has []string
	for _, c := range []struct {
		name string
		set  bool
	}{{"site", req.Site != nil}, {"app", req.App != nil}, {"dooh", req.DOOH != nil}} {
		if c.set {
			has = append(has, c.name)
		}
	}
	return strings.Join(has, ", ")
}

// checkImp checks imp i: its id, its floor, its media objects and its deals.
func checkImp(req *openrtb2.BidRequest, i int, problems *requestProblems) {
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
	if err := checkFloor(imp.BidFloor); err != nil {
		problems.add("imp[%d]: bidfloor: %v", i, err)
	}
	checkMedia(imp, i, problems)
	if imp.PMP == nil {
		return
	}
	for k := range imp.PMP.Deals {
		if err := checkDeal(imp, k); err != nil {
			problems.add("imp[%d]: deal[%d]: %v", i, k, err)
		}
	}
}

// checkMedia checks the media objects of imp i. An imp offers at least one
// of banner, video, audio and native (OpenRTB 2.6 §3.2.4: their presence is
// what offers the impression); video and audio name their mimes (§3.2.7,
// §3.2.8: required) and native carries its request (§3.2.9: required).
func checkMedia(imp *openrtb2.Imp, i int, problems *requestProblems) {
	if impKinds(imp) == 0 {
		problems.add("imp[%d]: none of banner, video, audio and native", i)
	}
	if imp.Video != nil && len(imp.Video.MIMEs) == 0 {
		problems.add("imp[%d]: video.mimes: missing", i)
	}
	if imp.Audio != nil && len(imp.Audio.MIMEs) == 0 {
		problems.add("imp[%d]: audio.mimes: missing", i)
	}
	if imp.Native != nil && imp.Native.Request == "" {
		problems.add("imp[%d]: native.request: missing", i)
	}
}

func checkDeal(imp *openrtb2.Imp, k int) error {
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
	if err := checkFloor(d.BidFloor); err != nil {
		return fmt.Errorf("bidfloor: %w", err)
	}
	return nil
}

// checkFloor checks that a floor is a price: a finite number, 0 or more.
func checkFloor(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return fmt.Errorf("%v is not a price", v)
	}
	return nil
}

// chooseCurrency chooses the auction currency among the request's cur (USD
// when it has none) and converts the floors to it. cur is a set of allowed
// currencies (OpenRTB 2.6 §3.2.1), so gavel takes, in its order, the first
// currency that every floor converts to, imp and deal; failing that, the
// first that every imp floor converts to, leaving unusable the deals whose
// floor does not (LossDealCurrency; a deal's bidfloorcur is USD when absent
// and does not inherit the imp's, §3.2.12). With cur = [EUR, USD], floors
// in USD and no converter, the auction runs in USD. When no currency can
// hold the imp floors, it returns a *CurrencyError naming the missing rates.
func (r *round) chooseCurrency(req *openrtb2.BidRequest) (string, error) {
	tried := req.Cur
	if len(tried) == 0 {
		tried = usdOnly
	}
	impsOnly := -1
	var errs []error // allocated only when a currency fails
	for i, cur := range tried {
		impErr, dealsOK := r.convertFloors(req, cur)
		switch {
		case impErr != nil:
			errs = append(errs, impErr)
		case dealsOK:
			return cur, nil
		case impsOnly < 0:
			impsOnly = i
		}
	}
	if impsOnly < 0 {
		return "", &CurrencyError{Reason: openrtb3.NoBidTechnicalError, Tried: slices.Clone(tried), Errs: errs}
	}
	cur := tried[impsOnly]
	r.convertFloors(req, cur)
	return cur, nil
}

// convertFloors converts the floors of every imp and deal to micros of cur,
// into r.imps and r.dealFloors. It returns the error of the first imp
// floor that does not convert, and stops there; and it reports whether
// every deal floor converted, marking those that did not with dealUnusable.
func (r *round) convertFloors(req *openrtb2.BidRequest, cur string) (impErr error, dealsOK bool) {
	r.imps, r.dealFloors = r.imps[:0], r.dealFloors[:0]
	dealsOK = true
	for i := range req.Imp {
		imp := &req.Imp[i]
		floor, err := r.floorMicros(imp.BidFloor, imp.BidFloorCur, cur)
		if err != nil {
			return withContext(err, "imp[%d]: bidfloor in %s", i, cmp.Or(imp.BidFloorCur, "USD")), false
		}
		r.imps = append(r.imps, impInfo{floor: floor, dealStart: len(r.dealFloors)})
		if imp.PMP == nil {
			continue
		}
		for k := range imp.PMP.Deals {
			d := &imp.PMP.Deals[k]
			f, err := r.floorMicros(d.BidFloor, d.BidFloorCur, cur)
			if err != nil {
				f, dealsOK = dealUnusable, false
			}
			r.dealFloors = append(r.dealFloors, f)
		}
	}
	return nil, dealsOK
}

// floorMicros converts a valid floor in CPM and its currency (empty: USD)
// to micros of CPM in the auction currency.
func (r *round) floorMicros(v float64, fcur, cur string) (int64, error) {
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
	sb := r.bodyOf(req)
	if sb == nil {
		return r.a.Codec().AppendJSON(nil, req)
	}
	sb.encode(r.a.Codec(), req)
	return sb.body, sb.err
}

// bodyOf returns the shared body of a request that this round handed to
// its bidders, nil for any other request.
func (r *round) bodyOf(req *openrtb2.BidRequest) *sharedBody {
	for i := range r.reqs {
		if &r.reqs[i] == req {
			return &r.bodies[i]
		}
	}
	return nil
}

// encodeRequest returns the JSON of req: when ctx comes from Run, the
// auction's, encoded with its codec and shared with the auction's other
// bidders; otherwise encoded with outside (nil: StdCodec).
func encodeRequest(ctx context.Context, req *openrtb2.BidRequest, outside Codec) ([]byte, error) {
	if r, ok := ctx.Value(roundKey{}).(*round); ok {
		return r.requestBody(req)
	}
	if outside == nil {
		outside = StdCodec()
	}
	return outside.AppendJSON(nil, req)
}

type sharedBody struct {
	once sync.Once
	body []byte
	err  error
}

// encode encodes req with c, unless it was already, and reports whether
// it did.
func (sb *sharedBody) encode(c Codec, req *openrtb2.BidRequest) (did bool) {
	sb.once.Do(func() {
		sb.body, sb.err = c.AppendJSON(nil, req)
		did = true
	})
	return did
}
