package gavel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
)

// lossPending marks a valid bid that clearing has not ranked yet.
const lossPending openrtb3.LossReason = -1

// collect turns the calls into bidder results and copies the outcomes of
// the bids that their goroutines checked (checkResponse) into res.Bids:
// each valid bid with lossPending, each invalid one with its loss reason.
func (r *round) collect(ctx context.Context, req *openrtb2.BidRequest, res *Result) {
	a := r.a
	now := r.clockNow(res.Start)
	total := 0
	for i := range r.calls {
		if c := &r.calls[i]; c.received { // a call not checked has no bids
			total += len(c.bids)
		}
	}
	if total > 0 {
		res.Bids = resultBids(res.Bids, total)
	}
	r.ties = slices.Grow(r.ties[:0], total)
	for i := range r.calls {
		c, br := &r.calls[i], &res.Bidders[i]
		if br.Status != 0 { // not called
			for _, h := range a.hooks.bidder {
				h.OnBidderResponse(ctx, req.ID, br)
			}
			continue
		}
		if r.callStatus(c, br) {
			br.Latency = c.end.Sub(c.start)
			br.Status, br.Err, br.Bids = c.status, c.respErr, len(c.bids)
			res.Bids = append(res.Bids, c.bids...)
			r.ties = append(r.ties, c.ties...)
			if n := seatRefused(c.bids); n > 0 {
				a.stats.seatRefusals.Add(int64(n))
			}
		}
		c.slot.health.record(now, br.Status, br.Latency)
		for _, h := range a.hooks.bidder {
			h.OnBidderResponse(ctx, req.ID, br)
		}
	}
}

// seatRefused counts the outcomes refused for a seat the bidder may not
// bid for.
func seatRefused(bids []BidOutcome) int {
	n := 0
	for i := range bids {
		if bids[i].Loss == LossSeatNotAllowed {
			n++
		}
	}
	return n
}

// callStatus sets the status, error and latency of a call that failed or
// timed out and reports false, or reports true for a call that answered in
// time, whose goroutine checked its response.
func (r *round) callStatus(c *call, br *BidderResult) bool {
	switch {
	case !c.received:
		// A call started after the fan-out ended (Run's goroutine was
		// held up during launch) waited for nothing, not a negative time.
		br.Status, br.Err, br.Latency = StatusTimeout, ErrBidderTimeout, max(r.fanout.Sub(c.start), 0)
	case c.end.After(c.deadline):
		br.Status, br.Err, br.Latency = StatusTimeout, ErrBidderTimeout, c.end.Sub(c.start)
	case c.err != nil:
		br.Status, br.Err, br.Latency = StatusError, c.err, c.end.Sub(c.start)
		switch {
		case errors.Is(c.err, context.DeadlineExceeded):
			// The bidder gave up at its deadline: a timeout like any other,
			// also when its answer came at the deadline's very instant.
			br.Status, br.Err = StatusTimeout, ErrBidderTimeout
		case errors.Is(c.err, ErrInvalidResponse):
			br.Status = StatusInvalidResponse
		}
		var pe *PanicError
		if errors.As(c.err, &pe) {
			r.a.logger.Error("gavel: bidder panicked", "bidder", pe.Bidder, "panic", pe.Value, "stack", string(pe.Stack))
		}
	default:
		return true
	}
	return false
}

// checkResponse checks the bids of the call's response into c.bids and
// c.ties, and sets c.status and c.respErr. It runs on the call's goroutine
// as soon as the bidder returned in time, while Run still waits for the
// fan-out (see call), and reads nothing that Run writes until then: the
// request, the imps' floors and the auction's currency were set before the
// call started.
func (r *round) checkResponse(c *call) {
	// The call's fields are written once, at the end: the calls of a round
	// share cache lines, and other bidders' goroutines write theirs.
	req, resp, s := c.req, c.resp, c.slot
	bids, ties := c.bids, c.ties
	status, respErr := StatusNoBid, error(nil)
	defer func() {
		c.bids, c.ties, c.status, c.respErr = bids, ties, status, respErr
	}()
	if resp == nil || !hasBids(resp) {
		// OpenRTB 2.6 §7.1: {}, an empty seatbid, or a response without
		// bids (whatever its id or nbr) is a no-bid, as it is over HTTP.
		return
	}
	respLoss := lossPending
	if resp.ID != req.ID {
		status, respErr = StatusInvalidResponse, errInvalidResponseID
		respLoss = openrtb3.LossInvalidAuctionID
	}
	cur := resp.Cur
	if cur == "" {
		cur = "USD"
	}
	for j := range resp.SeatBid {
		sb := &resp.SeatBid[j]
		seat := sb.Seat
		if seat == "" {
			seat = s.name
		}
		// The tie key of the seat's bids (clearing.go), from the hash of a
		// seat the bidder may bid for, made once in New.
		seatLoss := respLoss
		seatHash, ok := s.seatHash(seat)
		if !ok {
			seatHash = hashString(seat)
			if seatLoss == lossPending {
				seatLoss = LossSeatNotAllowed
			}
		}
		tie := mix64(r.idHash ^ seatHash)
		for k := range sb.Bid {
			// bids is zeroed (call.reset): the outcome is written where it
			// stays, field by field.
			if len(bids) < cap(bids) {
				bids = bids[:len(bids)+1]
			} else {
				bids = append(bids, BidOutcome{})
			}
			b := &bids[len(bids)-1]
			b.Bidder, b.Seat, b.Bid, b.Imp, b.BidCurrency = s.name, seat, &sb.Bid[k], -1, cur
			b.ResponseBidID, b.MinToWinMicros, b.Loss = resp.BidID, -1, seatLoss
			ties = append(ties, tie)
			if seatLoss == lossPending {
				b.Loss = r.checkBid(req, b, cur, bids[:len(bids)-1])
			}
		}
	}
	if len(bids) > 0 && status == StatusNoBid {
		status = StatusBid
	}
}

// hasBids reports whether resp carries at least one bid.
func hasBids(resp *openrtb2.BidResponse) bool {
	for i := range resp.SeatBid {
		if len(resp.SeatBid[i].Bid) > 0 {
			return true
		}
	}
	return false
}

// seatHash returns the xxhash of seat and true when the bidder may bid for
// it: its own name, or a seat WithBidderSeats gave it.
func (s *bidderSlot) seatHash(seat string) (uint64, bool) {
	if seat == s.name {
		return s.hash, true
	}
	for k, other := range s.seats {
		if other == seat {
			return s.hashes[k], true
		}
	}
	return 0, false
}

var errInvalidResponseID = fmt.Errorf("%w: id does not match the request", ErrInvalidResponse)

// checkBid validates one bid against the request and returns lossPending
// when it may take part in clearing, or the reason it loses. It fills in
// the bid's imp, deal and price. The checks run in this order and the first
// failure decides the reason: bid id (3), duplicate bid id (503), imp id (3),
// price (9), currency (501), price of 0 micros after rounding and
// conversion (9), maximum price (502), markup (7), creative format (204),
// wseat/bseat (104), deal id (4), deal currency (509), deal wseat (104),
// deal wadomain (213), private auction (500), badv (205), bapp (206),
// category taxonomy (510), bcat/acat (209), battr (210), banner size (203),
// secure (207), floor (100) or deal floor (101).
func (r *round) checkBid(req *openrtb2.BidRequest, b *BidOutcome, cur string, before []BidOutcome) openrtb3.LossReason {
	bid := b.Bid
	if loss := checkBidID(b, before); loss != lossPending {
		return loss
	}
	if b.Imp = impIndex(req, bid.ImpID); b.Imp < 0 {
		return openrtb3.LossInvalidResponse
	}
	if loss := r.checkPrice(req, b, cur); loss != lossPending {
		return loss
	}
	if bid.AdM == "" && bid.NURL == "" {
		return openrtb3.LossMissingMarkup
	}
	imp := &req.Imp[b.Imp]
	kinds := bidKinds(imp, bid)
	if kinds == 0 {
		return openrtb3.LossIncorrectFormat
	}
	if seatExcluded(req.WSeat, req.BSeat, b.Seat) {
		return openrtb3.LossSeatBlocked
	}
	if loss := r.checkDealBid(imp, b); loss != lossPending {
		return loss
	}
	if loss := checkCreative(req, imp, bid, kinds); loss != lossPending {
		return loss
	}
	return r.checkFloor(imp, b)
}

// checkBidID requires a bid id, unique within the seat's bids for one imp
// in one response (before are that response's bids so far). The
// id is the bidder's, for logging (OpenRTB 2.6 §4.2.3): two bids for
// different imps may share it, so a duplicate is the same seat, imp id and
// bid id.
func checkBidID(b *BidOutcome, before []BidOutcome) openrtb3.LossReason {
	if b.Bid.ID == "" {
		return openrtb3.LossInvalidResponse
	}
	for i := range before {
		if o := &before[i]; o.Bid.ID == b.Bid.ID && o.Seat == b.Seat && o.Bid.ImpID == b.Bid.ImpID {
			return LossDuplicateBid
		}
	}
	return lossPending
}

// checkPrice converts the bid's price, in the response currency cur, to
// micros of the auction currency in b.PriceMicros, and checks it is
// positive and at most the maximum price.
func (r *round) checkPrice(req *openrtb2.BidRequest, b *BidOutcome, cur string) openrtb3.LossReason {
	if !(b.Bid.Price > 0) || b.Bid.Price > 1e12 {
		return openrtb3.LossMissingBidPrice
	}
	price := toMicros(b.Bid.Price)
	b.BidPriceMicros = price
	if cur != r.cur {
		if !currencyAllowed(req.Cur, cur) {
			return LossCurrency
		}
		var err error
		if price, err = convertMicros(r.a.cfg.converter, price, cur, r.cur); err != nil {
			return LossCurrency
		}
	}
	if price <= 0 { // rounded to 0 micros: a free impression is no bid
		return openrtb3.LossMissingBidPrice
	}
	b.PriceMicros = price
	if price > r.a.cfg.maxPrice {
		return LossPriceAboveMax
	}
	return lossPending
}

// checkFloor holds a deal bid to its deal's floor and an open bid to the
// imp's. A bid below its floor keeps that floor as its MinToWinMicros:
// price decided its loss (OpenRTB 2.6 §4.4.1).
func (r *round) checkFloor(imp *openrtb2.Imp, b *BidOutcome) openrtb3.LossReason {
	floor, loss := r.imps[b.Imp].floor, openrtb3.LossBelowAuctionFloor
	if b.Deal != nil {
		floor, loss = r.dealFloor(imp, b), openrtb3.LossBelowDealFloor
	}
	if b.PriceMicros < floor {
		b.MinToWinMicros = floor
		return loss
	}
	return lossPending
}

// dealFloor returns the floor of b's deal in micros of the auction
// currency, or dealUnusable.
func (r *round) dealFloor(imp *openrtb2.Imp, b *BidOutcome) int64 {
	return r.dealFloors[r.imps[b.Imp].dealStart+dealIndex(imp, b.Deal)]
}

// checkDealBid applies the imp's private marketplace to a bid and sets its Deal.
func (r *round) checkDealBid(imp *openrtb2.Imp, b *BidOutcome) openrtb3.LossReason {
	bid := b.Bid
	if bid.DealID == "" {
		if imp.PMP != nil && imp.PMP.PrivateAuction == 1 {
			return LossOpenBidInPrivateAuction
		}
		return lossPending
	}
	if imp.PMP == nil {
		return openrtb3.LossInvalidDealID
	}
	for k := range imp.PMP.Deals {
		if imp.PMP.Deals[k].ID == bid.DealID {
			b.Deal = &imp.PMP.Deals[k]
			break
		}
	}
	switch d := b.Deal; {
	case d == nil:
		return openrtb3.LossInvalidDealID
	case r.dealFloor(imp, b) == dealUnusable:
		return LossDealCurrency
	case len(d.WSeat) > 0 && !contains(d.WSeat, b.Seat):
		return openrtb3.LossSeatBlocked
	case len(d.WADomain) > 0 && !anyDomainIn(bid.ADomain, d.WADomain):
		return openrtb3.LossNotAllowedInDeal
	}
	return lossPending
}

// checkCreative applies the request's and the imp's creative filters to a
// bid that may be for the imp's media types kinds.
func checkCreative(req *openrtb2.BidRequest, imp *openrtb2.Imp, bid *openrtb2.Bid, kinds mediaKinds) openrtb3.LossReason {
	switch {
	case len(req.BAdv) > 0 && anyDomainIn(bid.ADomain, req.BAdv):
		return openrtb3.LossAdvertiserExclusions
	case bid.Bundle != "" && contains(req.BApp, bid.Bundle):
		return openrtb3.LossAppStoreIDExclusions
	}
	if loss := checkCategories(req, bid); loss != lossPending {
		return loss
	}
	switch {
	case attrBlocked(imp, bid, kinds):
		return openrtb3.LossAttributeExclusions
	case kinds == kindBanner && !sizeAllowed(imp.Banner, bid):
		return openrtb3.LossSizeNotAllowed
	case notSecure(imp, bid):
		return openrtb3.LossNotSecure
	}
	return lossPending
}

func impIndex(req *openrtb2.BidRequest, id string) int {
	for i := range req.Imp {
		if req.Imp[i].ID == id {
			return i
		}
	}
	return -1
}

func dealIndex(imp *openrtb2.Imp, d *openrtb2.Deal) int {
	for k := range imp.PMP.Deals {
		if &imp.PMP.Deals[k] == d {
			return k
		}
	}
	return -1
}

func currencyAllowed(allowed []string, cur string) bool {
	if len(allowed) == 0 {
		return cur == "USD"
	}
	return contains(allowed, cur)
}

// anyDomainIn reports whether any of domains is one of list or a subdomain
// of one, ignoring case: "ads.brand.example" is in ["brand.example"].
func anyDomainIn(domains, list []string) bool {
	for _, d := range domains {
		for _, l := range list {
			if l == "" {
				continue
			}
			if strings.EqualFold(d, l) ||
				len(d) > len(l) && d[len(d)-len(l)-1] == '.' && strings.EqualFold(d[len(d)-len(l):], l) {
				return true
			}
		}
	}
	return false
}

// checkCategories applies bcat and acat (OpenRTB 2.6 §3.2.1) to the bid's
// categories. Both lists are in the request's taxonomy (cattax, 1 when
// absent) and the bid's categories in its own (its cattax, 1 when absent,
// §4.2.3): a bid in another taxonomy than the request's cannot be judged
// and loses with LossCategoryTaxonomy. acat is an allow-list: a bid that
// declares no category, or one outside it, loses with 209; so does a bid
// with a category in bcat. In IAB Content Taxonomy 1.0, a category also
// matches its subcategories: "IAB25" matches "IAB25-3".
func checkCategories(req *openrtb2.BidRequest, bid *openrtb2.Bid) openrtb3.LossReason {
	if len(req.BCat) == 0 && len(req.ACat) == 0 {
		return lossPending
	}
	if len(bid.Cat) == 0 {
		if len(req.ACat) > 0 {
			return openrtb3.LossCategoryExclusions
		}
		return lossPending
	}
	tax := taxonomy(req.CatTax)
	if taxonomy(bid.CatTax) != tax {
		return LossCategoryTaxonomy
	}
	for _, c := range bid.Cat {
		if anyCategoryMatch(c, req.BCat, tax) || len(req.ACat) > 0 && !anyCategoryMatch(c, req.ACat, tax) {
			return openrtb3.LossCategoryExclusions
		}
	}
	return lossPending
}

// taxonomy returns a cattax with its default: IAB Content Taxonomy 1.0.
func taxonomy(t adcom1.CategoryTaxonomy) adcom1.CategoryTaxonomy {
	if t == 0 {
		return adcom1.CatTaxIABContent10
	}
	return t
}

func anyCategoryMatch(cat string, list []string, tax adcom1.CategoryTaxonomy) bool {
	for _, p := range list {
		if cat == p || tax == adcom1.CatTaxIABContent10 && subcategoryOf(cat, p) {
			return true
		}
	}
	return false
}

// subcategoryOf reports whether cat is a subcategory of parent in IAB
// Content Taxonomy 1.0: "IAB25-3" of "IAB25".
func subcategoryOf(cat, parent string) bool {
	return len(cat) > len(parent) && cat[len(parent)] == '-' && cat[:len(parent)] == parent
}

// sizeAllowed checks a banner bid's w and h against the banner's formats,
// its w and h, and its flexible-size ranges: a bid passes when it fits any
// of them, or when the banner constrains no size. A bid without a size
// passes.
func sizeAllowed(bn *openrtb2.Banner, bid *openrtb2.Bid) bool {
	if bid.W <= 0 || bid.H <= 0 {
		return true
	}
	w, h, hasSize := bannerSize(bn)
	hasRange := bn.WMax > 0 || bn.HMax > 0
	switch {
	case len(bn.Format) == 0 && !hasSize && !hasRange: // no size constrained
		return true
	case fitsAnyFormat(bn.Format, bid):
		return true
	case hasSize && w == bid.W && h == bid.H:
		return true
	}
	return hasRange && fitsRange(bn, bid)
}

// bannerSize returns the banner's own w and h, when it has both.
func bannerSize(bn *openrtb2.Banner) (w, h int64, ok bool) {
	if bn.W == nil || bn.H == nil || *bn.W <= 0 || *bn.H <= 0 {
		return 0, 0, false
	}
	return *bn.W, *bn.H, true
}

func fitsAnyFormat(formats []openrtb2.Format, bid *openrtb2.Bid) bool {
	for _, f := range formats {
		if fitsFormat(f, bid) {
			return true
		}
	}
	return false
}

// fitsFormat reports whether the bid's size is the format's exact size, or
// has its aspect ratio and at least its minimum width (a flexible format).
func fitsFormat(f openrtb2.Format, bid *openrtb2.Bid) bool {
	switch {
	case f.W > 0 && f.H > 0:
		return f.W == bid.W && f.H == bid.H
	case f.WRatio > 0 && f.HRatio > 0:
		return bid.W*f.HRatio == bid.H*f.WRatio && bid.W >= f.WMin
	}
	return false
}

// fitsRange reports whether the bid's size is within the banner's
// wmin..wmax and hmin..hmax (a max of 0: no upper bound).
func fitsRange(bn *openrtb2.Banner, bid *openrtb2.Bid) bool {
	return bid.W >= bn.WMin && bid.H >= bn.HMin && (bn.WMax == 0 || bid.W <= bn.WMax) && (bn.HMax == 0 || bid.H <= bn.HMax)
}
