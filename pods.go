package gavel

import (
	"context"
	"math"
	"slices"
	"strings"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
)

// Ad pods (OpenRTB 2.6 §7.6): the ad breaks of CTV, video and audio streams.
// The pod fields are read from imp.video, or from imp.audio when the video
// object has none of podid and poddur.
//
// A structured pod is a set of imps that share a podid, one per slot, each
// without poddur (an imp whose podid no other imp shares has nothing to be
// separated from and clears as any imp). Each slot clears as any imp does,
// with competitive separation (WithPodSeparation): two winners of one pod
// never share an advertiser domain or an IAB category. Within each round of
// clearing the slots of a pod are filled best bid first: the slot whose best
// remaining bid ranks highest (by the ranking rules of clearing.go, across
// the pod's imps) is priced first, then the next, so that no bid of a
// structured pod loses to separation against a lower one. A hybrid pod (a podid shared by slots and a
// dynamic imp) is served the same way, its dynamic imp counting as a part
// whose best bid is its best eligible bid: when that part's turn comes, it
// selects all its winners. A bid that shares a domain or a category with a
// winner of the pod loses with LossCompetitiveSeparation and the slot's next
// bid is tried. A bid that clashes with a bid whose reservation is still
// pending waits for the next round (a dynamic imp leaves it out of the
// round's selection): if the Ledger refuses the pending bid, its domain and
// categories are free again, and the bid that waited never lost to it. A bid
// that lost to separation never reaches the Ledger. A bid's slotinpod means
// nothing for a slot: the slot is its impid (§7.6).
//
// A dynamic pod is one imp with poddur > 0. Several of its bids win: at
// most maxseq ads (no limit when 0) of at most poddur seconds together,
// each counted for its bid.dur. The winners are the set of eligible bids of
// greatest total price, among the sets that fit and keep competitive
// separation, both inside the pod and against the other imps of its podid
// (a hybrid pod), see pod_select.go. Before ranking, a bid of a dynamic pod
// loses with
//
//   - LossPodDuration when its dur is missing, longer than poddur, not one
//     of rqddurs (when given), or outside minduration..maxduration (when
//     given);
//   - LossPodPosition when its slotinpod asks for a position (first, last,
//     first or last) that the imp's slotinpod does not offer, or is not a
//     value of AdCOM's Slot Position in Pod list;
//   - LossBelowAuctionFloor when it is an open-market bid priced below
//     mincpmpersec × dur (its MinToWinMicros is then that floor); the imp's
//     bidfloor applies too, to every ad. mincpmpersec is in the imp's
//     bidfloorcur; when it cannot be converted to the auction currency, the
//     open-market bids of the pod lose with LossCurrency. Deal bids are held
//     to their deal's floor instead.
//
// A bid that asks for the first (last) position is placed first (last) in
// the pod; at most one bid takes each, a bid that takes either counting for
// one of them. ImpResult.Pod lists the winners in play order: the
// first-position bid, the bids that asked for no position by rank, the
// last-position bid.
//
// Prices of a dynamic pod's winners follow the auction type like any
// winner's (clearing.go, price): at first price a winner pays its bid; at
// second price it pays the larger of its floor (the imp's, and mincpmpersec
// × its dur; a deal's floor for a deal bid) and the best bid of the pod that
// was not selected (refused bids excluded), plus the increment, and never
// more than its bid; with WithPreferDeals a deal winner is priced against
// the deal bids not selected only. Its MinToWinMicros is that larger
// amount. A bid of the pod that was not selected loses with
// LossCompetitiveSeparation when it shares a domain or a category with a
// winner of the pod (its MinToWinMicros is then -1: no price would have
// won), else with LossLostToHigherBid (LossLostToDealBid when every winner
// is a deal bid and it is not), its MinToWinMicros the lowest price among
// the pod's winners (its ${AUCTION_MIN_TO_WIN} the lowest clearing price
// among them, see Result.Macros).
//
// With the Ledger, every winner of a pod reserves its own cost, all in the
// same batch as the other imps' winners. The winners it admits keep their
// places; when it refuses some, the selection runs again, in the next
// round, for what is left of the pod (its seconds, ads and first and last
// positions) among the bids not yet refused, so the refused bid's place
// goes to the next best feasible set.

// PodSeparation says what two winners of one ad pod may not share; see
// WithPodSeparation. The zero value separates nothing.
type PodSeparation uint8

const (
	// SeparateAdvertisers keeps two bids that share an advertiser domain
	// (adomain, ignoring case; a subdomain counts as its domain) out of one
	// pod.
	SeparateAdvertisers PodSeparation = 1 << iota
	// SeparateCategories keeps two bids that share a content category (cat,
	// in the same cattax; in IAB Content Taxonomy 1.0, the default, a
	// category matches its subcategories: "IAB2" and "IAB2-3") out of one
	// pod.
	SeparateCategories

	// DefaultPodSeparation is the default of WithPodSeparation: advertisers
	// and categories.
	DefaultPodSeparation = SeparateAdvertisers | SeparateCategories
)

type podKind uint8

const (
	podNone    podKind = iota
	podSlot            // one slot of a structured pod: a podid, no poddur
	podDynamic         // a dynamic pod: poddur > 0
)

// podPos is the position a bid of a dynamic pod asks for, narrowed to what
// the imp offers.
type podPos uint8

const (
	posAny podPos = iota
	posFirst
	posLast
	posEither // first or last, whichever is free
)

// podSpec holds the pod fields of one imp's video or audio object.
type podSpec struct {
	id             string
	dur, maxSeq    int64
	minDur, maxDur int64
	minCPMPerSec   float64
	rqdDurs        []int64
	slot           adcom1.SlotPositionInPod
}

// podSpecOf returns the pod fields of imp, from its video object or else
// its audio object, and whether it has any.
func podSpecOf(imp *openrtb2.Imp) (podSpec, bool) {
	if v := imp.Video; v != nil && (v.PodID != "" || v.PodDur > 0) {
		return podSpec{id: v.PodID, dur: v.PodDur, maxSeq: v.MaxSeq, minDur: v.MinDuration, maxDur: v.MaxDuration,
			minCPMPerSec: v.MinCPMPerSec, rqdDurs: v.RqdDurs, slot: v.SlotInPod}, true
	}
	if a := imp.Audio; a != nil && (a.PodID != "" || a.PodDur > 0) {
		return podSpec{id: a.PodID, dur: a.PodDur, maxSeq: a.MaxSeq, minDur: a.MinDuration, maxDur: a.MaxDuration,
			minCPMPerSec: a.MinCPMPerSec, rqdDurs: a.RqdDurs, slot: a.SlotInPod}, true
	}
	return podSpec{}, false
}

// podImp is what clearing knows of one imp of a request with pods.
type podImp struct {
	kind  podKind
	group int // the first imp of its podid; its own index for a dynamic pod without one
	spec  podSpec

	minPerSec    int64 // mincpmpersec in micros of CPM per second of the auction currency
	minPerSecErr bool  // mincpmpersec could not be converted

	done    bool // dynamic: selected, and nothing of its group refused since
	handled bool // slot: proposed or waiting in this round of clearing
}

// podState is a round's scratch for pods; it is empty (imps has length 0)
// when the request has none, and clearing then takes its usual path.
type podState struct {
	imps   []podImp
	pos    []podPos // per bid of res.Bids: the position it asks for
	chosen []int    // the bids of the running selection of a dynamic pod
	others []int    // the eligible bids of a dynamic pod not chosen
	places []int    // the places of a dynamic pod's winners, see orderPod
	k      podKnapsack
}

// hasPods reports whether the request has an imp that clearing treats as
// part of a pod: a dynamic pod, or, when separation is on, a slot of a
// structured pod of several imps. A pod of one slot clears as any imp: it
// has nothing to separate.
func hasPods(req *openrtb2.BidRequest, sep PodSeparation) bool {
	for i := range req.Imp {
		if spec, ok := podSpecOf(&req.Imp[i]); ok && (spec.dur > 0 || sep != 0 && sharedPod(req, i, spec.id)) {
			return true
		}
	}
	return false
}

// sharedPod reports whether an imp of req other than imp i is in pod id.
func sharedPod(req *openrtb2.BidRequest, i int, id string) bool {
	if id == "" {
		return false
	}
	for j := range req.Imp {
		if spec, ok := podSpecOf(&req.Imp[j]); ok && j != i && spec.id == id {
			return true
		}
	}
	return false
}

// preparePods sets up r.pods for the request and makes the bids of dynamic
// pods that break the pod's rules lose, before ranking.
func (r *round) preparePods(req *openrtb2.BidRequest, res *Result) {
	p := &r.pods
	p.imps = p.imps[:0]
	sep := r.a.cfg.podSeparation
	if !hasPods(req, sep) {
		return
	}
	for i := range req.Imp {
		p.imps = append(p.imps, r.podImpOf(req, i, res.Currency))
	}
	p.k.work = podMaxWork
	p.pos = grow(p.pos, len(res.Bids))
	for j := range res.Bids {
		b := &res.Bids[j]
		p.pos[j] = posAny
		if b.Imp >= 0 && b.Loss == lossPending && p.imps[b.Imp].kind == podDynamic {
			b.Loss = p.checkBid(&p.imps[b.Imp], b, &p.pos[j])
		}
	}
}

// done drops what the pods of the auction refer to (the request's
// rqddurs, the Result), so that a pooled round keeps neither alive.
func (p *podState) done() {
	clear(p.imps)
	p.imps = p.imps[:0]
	p.k.res = nil
}

// podImpOf describes imp i of req for clearing. An imp with a podid is in
// the group of the first imp with that podid, also when separation is off
// and it clears as any imp does (podNone).
func (r *round) podImpOf(req *openrtb2.BidRequest, i int, cur string) podImp {
	imp := &req.Imp[i]
	spec, ok := podSpecOf(imp)
	if !ok {
		return podImp{kind: podNone, group: -1}
	}
	pi := podImp{kind: podNone, group: i, spec: spec}
	if spec.id != "" {
		pi.group = podGroup(req, i, spec.id)
	}
	switch {
	case spec.dur > 0:
		pi.kind = podDynamic
		if spec.minCPMPerSec > 0 {
			m, err := r.floorMicros(spec.minCPMPerSec, imp.BidFloorCur, cur)
			pi.minPerSec, pi.minPerSecErr = m, err != nil
		}
	case r.a.cfg.podSeparation != 0 && sharedPod(req, i, spec.id):
		pi.kind = podSlot
	}
	return pi
}

// podGroup returns the first imp of req, up to i, whose pod is id.
func podGroup(req *openrtb2.BidRequest, i int, id string) int {
	for g := range i {
		if spec, ok := podSpecOf(&req.Imp[g]); ok && spec.id == id {
			return g
		}
	}
	return i
}

// checkBid applies a dynamic pod's rules to one of its bids and sets the
// position it asks for: lossPending when it may take part.
func (p *podState) checkBid(pi *podImp, b *BidOutcome, pos *podPos) openrtb3.LossReason {
	s, dur := &pi.spec, b.Bid.Dur
	if !s.fits(dur) {
		return LossPodDuration
	}
	var ok bool
	if *pos, ok = podPosOf(b.Bid.SlotInPod, s.slot); !ok {
		return LossPodPosition
	}
	if b.Deal != nil || s.minCPMPerSec <= 0 {
		return lossPending
	}
	if pi.minPerSecErr {
		return LossCurrency
	}
	if floor := podFloor(pi.minPerSec, dur); b.PriceMicros < floor {
		b.MinToWinMicros = floor
		return openrtb3.LossBelowAuctionFloor
	}
	return lossPending
}

// fits reports whether an ad of dur seconds may play in the pod: at most
// poddur, one of rqddurs when given, else within minduration..maxduration
// when given.
func (s *podSpec) fits(dur int64) bool {
	switch {
	case dur <= 0 || dur > s.dur:
		return false
	case len(s.rqdDurs) > 0:
		return slices.Contains(s.rqdDurs, dur)
	}
	return (s.minDur <= 0 || dur >= s.minDur) && (s.maxDur <= 0 || dur <= s.maxDur)
}

// podFloor is mincpmpersec (micros per second) times dur, saturating.
func podFloor(perSec, dur int64) int64 {
	if perSec <= 0 {
		return 0
	}
	if dur > math.MaxInt64/perSec {
		return math.MaxInt64
	}
	return perSec * dur
}

// minFloor is the floor that mincpmpersec sets for open-market bid b of
// imp i, 0 when it sets none.
func (p *podState) minFloor(i int, b *BidOutcome) int64 {
	if len(p.imps) == 0 || p.imps[i].kind != podDynamic {
		return 0
	}
	return podFloor(p.imps[i].minPerSec, b.Bid.Dur)
}

// podPosOf narrows the position a bid asks for (bid) to those the imp
// offers (offer): 1 first, -1 last, 2 first or last, 0 none guaranteed.
// It reports false when the bid asks for a position the imp cannot give.
func podPosOf(bid, offer adcom1.SlotPositionInPod) (podPos, bool) {
	first := offer == adcom1.SlotPosFirst || offer == adcom1.SlotPosFirstOrLast
	last := offer == adcom1.SlotPosLast || offer == adcom1.SlotPosFirstOrLast
	switch bid {
	case adcom1.SlotPosAny:
		return posAny, true
	case adcom1.SlotPosFirst:
		return posFirst, first
	case adcom1.SlotPosLast:
		return posLast, last
	case adcom1.SlotPosFirstOrLast:
		switch {
		case first && last:
			return posEither, true
		case first:
			return posFirst, true
		case last:
			return posLast, true
		}
	}
	return posAny, false
}

// isPod reports whether imp i is part of a pod, and dynamic whether it is
// a dynamic pod.
func (p *podState) isPod(i int) bool     { return len(p.imps) > 0 && p.imps[i].kind != podNone }
func (p *podState) isDynamic(i int) bool { return len(p.imps) > 0 && p.imps[i].kind == podDynamic }

// reopen makes the dynamic pods of imp i's group select again in the next
// round: a bid of the group was refused, so its place, its domain and its
// categories are free.
func (p *podState) reopen(i int) {
	g := p.imps[i].group
	for k := g; k < len(p.imps); k++ {
		if p.imps[k].group == g && p.imps[k].kind == podDynamic {
			p.imps[k].done = false
		}
	}
}

// proposePods is propose for the imps of pods, pod by pod.
func (r *round) proposePods(ctx context.Context, req *openrtb2.BidRequest, res *Result) {
	p := &r.pods
	for i := range p.imps {
		p.imps[i].handled = false
	}
	for g := range p.imps {
		if p.imps[g].group == g { // the first imp of its pod
			r.proposePod(ctx, req, res, g)
		}
	}
}

// proposePod serves the parts of pod g, best bid first: of its slots
// without a winner and its dynamic imps with room to select, the part whose
// best bid ranks highest is served first: a slot proposes its best bid, a
// dynamic imp selects its winners. A slot whose best bid clashes with a
// pending one waits for the next round.
func (r *round) proposePod(ctx context.Context, req *openrtb2.BidRequest, res *Result, g int) {
	p := &r.pods
	for {
		best, bestBid := -1, -1
		for i := g; i < len(p.imps); i++ {
			if j := r.bestOfPart(res, g, i); j >= 0 && (best < 0 || r.compare(res, j, bestBid) < 0) {
				best, bestBid = i, j
			}
		}
		if best < 0 {
			return
		}
		p.imps[best].handled = true
		switch {
		case p.imps[best].kind == podDynamic:
			r.proposeDynamic(ctx, req, res, best)
		case !r.separated(res, g, bestBid, true):
			r.proposeBest(ctx, req, res, best)
		}
	}
}

// bestOfPart returns the best bid of imp i, a part of pod g that is still
// to be served in this round, or -1. The best bids of a slot that clash
// with a winner of the pod lose on the way; a dynamic imp's best bid is the
// first of its eligible bids that clashes with no winner and no pending bid
// of the pod.
func (r *round) bestOfPart(res *Result, g, i int) int {
	pi, info := &r.pods.imps[i], &r.imps[i]
	switch {
	case pi.group != g || pi.handled:
		return -1
	case pi.kind == podSlot && res.Imps[i].Winner < 0:
		r.skipSeparated(res, g, info)
		if info.next < info.rankHi {
			return r.rank[info.next]
		}
	case pi.kind == podDynamic && !pi.done:
		for _, j := range r.rank[info.rankLo:info.rankHi] {
			if b := &res.Bids[j]; !b.Won && b.Loss == lossPending && !r.separated(res, g, j, true) {
				return j
			}
		}
		pi.done = true // nothing to select until a bid of the pod is refused
	}
	pi.handled = true
	return -1
}

// skipSeparated makes the best bids of a slot of group g lose while they
// share a domain or a category with a winner of the pod.
func (r *round) skipSeparated(res *Result, g int, info *impInfo) {
	for info.next < info.rankHi {
		j := r.rank[info.next]
		if !r.separated(res, g, j, false) {
			return
		}
		b := &res.Bids[j]
		b.Loss, b.ClearMicros, b.MinToWinMicros = LossCompetitiveSeparation, 0, -1
		info.next++
	}
}

// separated reports whether bid j shares a domain or a category with a
// winner of pod group g, or, with pending, with a bid of the group whose
// reservation is pending or one chosen by the running selection.
func (r *round) separated(res *Result, g, j int, pending bool) bool {
	p := &r.pods
	for i := g; i < len(p.imps); i++ {
		if p.imps[i].group != g {
			continue
		}
		ir := &res.Imps[i]
		if ir.Winner >= 0 && ir.Winner != j && r.mustSeparate(res, j, ir.Winner) {
			return true
		}
		for _, w := range podWinners(ir) {
			if w != j && r.mustSeparate(res, j, w) {
				return true
			}
		}
	}
	return pending && r.separatedPending(res, g, j)
}

// podWinners returns the winners of a dynamic pod so far.
func podWinners(ir *ImpResult) []int {
	if ir.Pod == nil {
		return nil
	}
	return ir.Pod.Winners
}

// separatedPending reports whether bid j shares a domain or a category
// with a bid of pod group g whose reservation is pending, or with one
// chosen by the running selection.
func (r *round) separatedPending(res *Result, g, j int) bool {
	p := &r.pods
	for _, k := range r.reserving {
		if p.imps[res.Bids[k].Imp].group == g && r.mustSeparate(res, j, k) {
			return true
		}
	}
	for _, k := range p.chosen {
		if r.mustSeparate(res, j, k) {
			return true
		}
	}
	return false
}

// mustSeparate reports whether bids x and y may not both win one pod.
func (r *round) mustSeparate(res *Result, x, y int) bool {
	return mustSeparate(r.a.cfg.podSeparation, res.Bids[x].Bid, res.Bids[y].Bid)
}

func mustSeparate(sep PodSeparation, x, y *openrtb2.Bid) bool {
	if sep&SeparateAdvertisers != 0 && sameAdvertiser(x.ADomain, y.ADomain) {
		return true
	}
	return sep&SeparateCategories != 0 && sameCategory(x, y)
}

// sameAdvertiser reports whether two adomain lists share a domain,
// ignoring case; a subdomain counts as its domain.
func sameAdvertiser(xs, ys []string) bool {
	for _, x := range xs {
		for _, y := range ys {
			if x != "" && y != "" && (strings.EqualFold(x, y) || subdomainOf(x, y) || subdomainOf(y, x)) {
				return true
			}
		}
	}
	return false
}

// subdomainOf reports whether d is a subdomain of parent, ignoring case.
func subdomainOf(d, parent string) bool {
	return len(d) > len(parent) && d[len(d)-len(parent)-1] == '.' && strings.EqualFold(d[len(d)-len(parent):], parent)
}

// sameCategory reports whether two bids declare a common category in the
// same taxonomy (none given: IAB Content Taxonomy 1.0); in IAB 1.0 a
// category matches its subcategories ("IAB2" and "IAB2-3").
func sameCategory(x, y *openrtb2.Bid) bool {
	tax := taxonomy(x.CatTax)
	if len(x.Cat) == 0 || len(y.Cat) == 0 || tax != taxonomy(y.CatTax) {
		return false
	}
	for _, a := range x.Cat {
		for _, b := range y.Cat {
			if a == "" || b == "" {
				continue
			}
			if a == b || tax == adcom1.CatTaxIABContent10 && (subcategoryOf(a, b) || subcategoryOf(b, a)) {
				return true
			}
		}
	}
	return false
}

// proposeDynamic selects the winners of dynamic pod i for what is left of
// it, prices them and makes them win or wait for the Ledger.
func (r *round) proposeDynamic(ctx context.Context, req *openrtb2.BidRequest, res *Result, i int) {
	p := &r.pods
	p.imps[i].done = true
	chosen := r.selectPod(res, i)
	p.others = p.others[:0]
	info := &r.imps[i]
	for _, j := range r.rank[info.rankLo:info.rankHi] {
		if b := &res.Bids[j]; !b.Won && b.Loss == lossPending && !slices.Contains(chosen, j) {
			p.others = append(p.others, j)
		}
	}
	if ir := &res.Imps[i]; ir.Pod == nil && len(chosen) > 0 {
		ir.Pod = &PodResult{Winners: make([]int, 0, len(chosen)), Holds: make([]Hold, 0, len(chosen))}
	}
	for _, j := range chosen {
		r.price(req, res, i, &res.Bids[j], p.others)
		r.claim(ctx, res, j)
	}
	p.chosen = p.chosen[:0]
}

// selectPod chooses the bids that fill what is left of dynamic pod i, in
// r.pods.chosen (rank order). With WithPreferDeals the deal bids fill it
// first and the open-market bids fill what they leave.
func (r *round) selectPod(res *Result, i int) []int {
	p := &r.pods
	p.chosen = p.chosen[:0]
	if r.a.cfg.preferDeals {
		r.fillPod(res, i, dealBids)
		r.fillPod(res, i, openBids)
	} else {
		r.fillPod(res, i, allBids)
	}
	return p.chosen
}

type bidFilter uint8

const (
	allBids bidFilter = iota
	dealBids
	openBids
)

func (f bidFilter) admits(b *BidOutcome) bool {
	return f == allBids || (f == dealBids) == (b.Deal != nil)
}

// fillPod adds to r.pods.chosen the best set of the bids that filter admits
// for what the winners of dynamic pod i and the bids chosen so far leave.
func (r *round) fillPod(res *Result, i int, filter bidFilter) {
	p := &r.pods
	pi, k := &p.imps[i], &p.k
	k.reset(res, r.a.cfg.podSeparation)
	ads, secs, taken := r.podUse(res, i)
	info := &r.imps[i]
	for _, j := range r.rank[info.rankLo:info.rankHi] {
		b := &res.Bids[j]
		if b.Won || b.Loss != lossPending || !filter.admits(b) || b.Bid.Dur > pi.spec.dur-secs ||
			!taken.add(p.pos[j]).valid() || slices.Contains(p.chosen, j) || r.separated(res, pi.group, j, true) {
			continue
		}
		k.add(j, b.Bid.Dur, p.pos[j])
	}
	left := int64(-1)
	if pi.spec.maxSeq > 0 {
		left = pi.spec.maxSeq - ads
	}
	p.chosen = k.choose(left, pi.spec.dur-secs, taken, p.chosen)
}

// podUse sums up the winners of dynamic pod i and the bids chosen so far:
// their ads, seconds and positions.
func (r *round) podUse(res *Result, i int) (ads, secs int64, taken posCount) {
	p := &r.pods
	for _, set := range [2][]int{podWinners(&res.Imps[i]), p.chosen} {
		for _, j := range set {
			ads, secs = ads+1, secs+res.Bids[j].Bid.Dur
			taken = taken.add(p.pos[j])
		}
	}
	return ads, secs, taken
}

// settlePod puts the winners of dynamic pod i in play order, makes the
// first of them the imp's Winner, and sets the outcome of every eligible
// bid that did not win.
func (r *round) settlePod(res *Result, i int) {
	ir, info := &res.Imps[i], &r.imps[i]
	if ir.Pod == nil {
		ir.Pod = &PodResult{}
	}
	pod := ir.Pod
	r.orderPod(res, pod)
	lowest, deals := int64(-1), len(pod.Winners) > 0
	if len(pod.Winners) > 0 {
		ir.Winner, ir.Hold = pod.Winners[0], pod.Holds[0]
	}
	for _, w := range pod.Winners {
		b := &res.Bids[w]
		if lowest < 0 || b.PriceMicros < lowest {
			lowest = b.PriceMicros
		}
		deals = deals && b.Deal != nil
		pod.Seconds += b.Bid.Dur
	}
	g := r.pods.imps[i].group
	for _, j := range r.rank[info.rankLo:info.rankHi] {
		b := &res.Bids[j]
		if b.Won || b.Loss != lossPending {
			continue
		}
		b.Loss, b.MinToWinMicros = openrtb3.LossLostToHigherBid, lowest
		switch {
		case r.separated(res, g, j, false):
			b.Loss, b.MinToWinMicros = LossCompetitiveSeparation, -1
		case deals && b.Deal == nil:
			b.Loss = openrtb3.LossLostToDealBid
		}
	}
}

// orderPod sorts the winners of a dynamic pod into play order: the bid
// that takes the first position, the bids that asked for none by rank, the
// bid that takes the last position. A bid that asked for first or last
// takes the first position when no bid asked for it alone, and the better
// ranked of two such bids takes it.
func (r *round) orderPod(res *Result, pod *PodResult) {
	byRank := func(x, y int) bool { return r.compare(res, pod.Winners[x], pod.Winners[y]) < 0 }
	sortPod(pod, byRank)
	first := false
	for _, w := range pod.Winners {
		first = first || r.pods.pos[w] == posFirst
	}
	place := func(x int) int {
		switch r.pods.pos[pod.Winners[x]] {
		case posFirst:
			return 0
		case posLast:
			return 2
		case posEither:
			if !first {
				first = true // the better ranked either-bid takes the first position
				return 0
			}
			return 2
		}
		return 1
	}
	places := grow(r.pods.places, len(pod.Winners))
	r.pods.places = places
	for x := range places {
		places[x] = place(x)
	}
	sortPod(pod, func(x, y int) bool { return places[x] < places[y] }, places)
}

// sortPod sorts pod.Winners and pod.Holds together, stably, by less on
// their indexes, carrying along the extra slices; pods are short enough
// for an insertion sort.
func sortPod(pod *PodResult, less func(x, y int) bool, extra ...[]int) {
	for x := 1; x < len(pod.Winners); x++ {
		for y := x; y > 0 && less(y, y-1); y-- {
			pod.Winners[y], pod.Winners[y-1] = pod.Winners[y-1], pod.Winners[y]
			pod.Holds[y], pod.Holds[y-1] = pod.Holds[y-1], pod.Holds[y]
			for _, e := range extra {
				e[y], e[y-1] = e[y-1], e[y]
			}
		}
	}
}
