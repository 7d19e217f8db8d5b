package gavel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// The tests of ad pods, OpenRTB 2.6 §7.6 (Pod Bidding for Video and
// Audio): structured pods (§7.6 "Structured" Ad Pod, one imp per slot
// sharing video.podid, §3.2.7), dynamic pods (§7.6 "Dynamic" Ad Pod:
// video.poddur, maxseq, mincpmpersec, rqddurs, §3.2.7; bid.dur and
// bid.slotinpod, §4.2.3), hybrid pods (§7.6 "Hybrid" Ad Pod), and the
// competitive separation that an exchange applies inside a pod. The CTV
// fixtures of the corpus (testdata/corpus/ctv-pods, ctv-dynamic-pod,
// ctv-structured-pod, run by TestCorpus) show them end to end.

// vastMarkup is a minimal VAST document, the markup of the pods' bids.
const vastMarkup = `<VAST version="4.0"><Ad id="1"><InLine><AdSystem>t</AdSystem><AdTitle>t</AdTitle>` +
	`<Impression><![CDATA[https://t.example/i]]></Impression><Creatives></Creatives></InLine></Ad></VAST>`

// podBid is an offer of bidder id[:1]: a video bid on imp at price (CPM)
// lasting dur seconds, for advertiser domain (none when empty) in cats.
func podBid(id, imp string, price float64, dur int64, domain string, cats ...string) offer {
	b := openrtb2.Bid{ID: id, ImpID: imp, Price: price, AdM: vastMarkup, CrID: "cr-" + id,
		Dur: dur, MType: openrtb2.MarkupVideo, Cat: cats}
	if domain != "" {
		b.ADomain = []string{domain}
	}
	return offer{bidder: id[:1], bid: b}
}

// at returns o asking for position pos of a dynamic pod (bid.slotinpod).
func (o offer) at(pos adcom1.SlotPositionInPod) offer { o.bid.SlotInPod = pos; return o }

// forDeal returns o for deal id.
func (o offer) forDeal(id string) offer { o.bid.DealID = id; return o }

// slotImp is one slot of structured pod podID: a video imp with a floor of
// 1.00 USD.
func slotImp(id, podID string) openrtb2.Imp {
	imp := auctiontest.VideoImp(id, 1)
	imp.Video.PodID = podID
	imp.Video.MaxDuration = 60
	return imp
}

// dynamicImp is a dynamic pod of poddur seconds and at most maxseq ads: a
// video imp with a floor of 1.00 USD, changed by set.
func dynamicImp(id string, poddur, maxseq int64, set ...func(*openrtb2.Video)) openrtb2.Imp {
	imp := auctiontest.VideoImp(id, 1)
	imp.Video.PodDur, imp.Video.MaxSeq = poddur, maxseq
	for _, f := range set {
		f(imp.Video)
	}
	return imp
}

// winnersOf returns the ids of the winning bids of imp impID, in play order.
func winnersOf(res *gavel.Result, impID string) []string {
	var ids []string
	for _, ir := range res.Imps {
		if ir.ImpID != impID {
			continue
		}
		if ir.Pod == nil && ir.Winner >= 0 {
			return []string{res.Bids[ir.Winner].Bid.ID}
		}
		if ir.Pod != nil {
			for _, w := range ir.Pod.Winners {
				ids = append(ids, res.Bids[w].Bid.ID)
			}
		}
	}
	return ids
}

// outcomeOf returns the outcome of the bid with id, or fails the test.
func outcomeOf(t testing.TB, res *gavel.Result, id string) *gavel.BidOutcome {
	t.Helper()
	for i := range res.Bids {
		if res.Bids[i].Bid.ID == id {
			return &res.Bids[i]
		}
	}
	require.Failf(t, "no such bid", "%q", id)
	return nil
}

// lossesOf maps the id of every bid that did not win to its loss reason.
func lossesOf(res *gavel.Result) map[string]openrtb3.LossReason {
	m := map[string]openrtb3.LossReason{}
	for _, b := range res.Bids {
		if !b.Won {
			m[b.Bid.ID] = b.Loss
		}
	}
	return m
}

// podCase is one auction of the pod tests: the request's imps, the bids,
// the winners of each imp in play order, and every loser's reason.
type podCase struct {
	name    string
	at      int64
	imps    []openrtb2.Imp
	opts    []gavel.Option
	offers  []offer
	winners map[string][]string
	losses  map[string]openrtb3.LossReason
}

func (c *podCase) run(t *testing.T) *gavel.Result {
	t.Helper()
	req := rulesRequest("pod", c.imps...)
	req.AT = c.at
	res := runAuction(t, req, append([]gavel.Option{offerBidders(c.offers)}, c.opts...)...)
	for _, imp := range c.imps {
		assert.Equal(t, c.winners[imp.ID], winnersOf(res, imp.ID), "winners of imp %s", imp.ID)
	}
	if c.losses == nil {
		c.losses = map[string]openrtb3.LossReason{}
	}
	assert.Equal(t, c.losses, lossesOf(res), "losses")
	return res
}

func TestStructuredPodSeparation(t *testing.T) {
	// §7.6 "Structured" Ad Pod: one imp per slot, sharing video.podid.
	// Each slot clears as an imp does, and two winners of one pod never
	// share an advertiser domain or an IAB category (competitive
	// separation): the lower bid loses and the slot's next bid takes it.
	pod := []openrtb2.Imp{slotImp("s1", "p"), slotImp("s2", "p")}
	const sep = gavel.LossCompetitiveSeparation
	withTax := func(o offer, tax adcom1.CategoryTaxonomy) offer { o.bid.CatTax = tax; return o }
	tests := []podCase{
		{name: "a domain shared with a higher winner of the pod loses, the next bid takes the slot", imps: pod,
			offers:  []offer{podBid("a1", "s1", 10, 30, "x.com"), podBid("b1", "s2", 8, 30, "x.com"), podBid("c1", "s2", 5, 30, "y.com")},
			winners: map[string][]string{"s1": {"a1"}, "s2": {"c1"}},
			losses:  map[string]openrtb3.LossReason{"b1": sep}},
		{name: "the slot with the best bid of the pod is filled first", imps: pod,
			offers:  []offer{podBid("b1", "s1", 8, 30, "x.com"), podBid("c1", "s1", 5, 30, "y.com"), podBid("a1", "s2", 10, 30, "x.com")},
			winners: map[string][]string{"s1": {"c1"}, "s2": {"a1"}},
			losses:  map[string]openrtb3.LossReason{"b1": sep}},
		{name: "several bids of one advertiser are skipped", imps: pod,
			offers: []offer{podBid("a1", "s1", 10, 30, "x.com"), podBid("b1", "s2", 9, 30, "x.com"),
				podBid("b2", "s2", 8, 30, "X.COM"), podBid("c1", "s2", 5, 30, "y.com"), podBid("d1", "s2", 4, 30, "z.com")},
			winners: map[string][]string{"s1": {"a1"}, "s2": {"c1"}},
			losses:  map[string]openrtb3.LossReason{"b1": sep, "b2": sep, "d1": openrtb3.LossLostToHigherBid}},
		{name: "a subdomain is its advertiser", imps: pod,
			offers:  []offer{podBid("a1", "s1", 10, 30, "x.com"), podBid("b1", "s2", 8, 30, "ads.x.com"), podBid("c1", "s2", 5, 30, "y.com")},
			winners: map[string][]string{"s1": {"a1"}, "s2": {"c1"}},
			losses:  map[string]openrtb3.LossReason{"b1": sep}},
		{name: "a shared category loses, a subcategory included", imps: pod,
			offers: []offer{podBid("a1", "s1", 10, 30, "x.com", "IAB2"), podBid("b1", "s2", 8, 30, "y.com", "IAB2-3"),
				podBid("c1", "s2", 5, 30, "z.com", "IAB3")},
			winners: map[string][]string{"s1": {"a1"}, "s2": {"c1"}},
			losses:  map[string]openrtb3.LossReason{"b1": sep}},
		{name: "sibling subcategories and other taxonomies do not clash", imps: append(pod, slotImp("s3", "p")),
			offers: []offer{podBid("a1", "s1", 10, 30, "x.com", "IAB2-1"), podBid("b1", "s2", 8, 30, "y.com", "IAB2-3"),
				withTax(podBid("c1", "s3", 5, 30, "z.com", "IAB2-1"), adcom1.CatTaxIABContent22)},
			winners: map[string][]string{"s1": {"a1"}, "s2": {"b1"}, "s3": {"c1"}}},
		{name: "subcategories match in IAB Content Taxonomy 1.0 only", imps: pod,
			offers: []offer{withTax(podBid("a1", "s1", 10, 30, "x.com", "IAB2"), adcom1.CatTaxIABContent22),
				withTax(podBid("b1", "s2", 8, 30, "y.com", "IAB2-3"), adcom1.CatTaxIABContent22)},
			winners: map[string][]string{"s1": {"a1"}, "s2": {"b1"}}},
		{name: "bids without adomain or cat never clash", imps: pod,
			offers:  []offer{podBid("a1", "s1", 10, 30, ""), podBid("b1", "s2", 8, 30, "")},
			winners: map[string][]string{"s1": {"a1"}, "s2": {"b1"}}},
		{name: "separation off: one advertiser may win every slot", imps: pod,
			opts:    []gavel.Option{gavel.WithPodSeparation(0)},
			offers:  []offer{podBid("a1", "s1", 10, 30, "x.com"), podBid("b1", "s2", 8, 30, "x.com"), podBid("c1", "s2", 5, 30, "y.com")},
			winners: map[string][]string{"s1": {"a1"}, "s2": {"b1"}},
			losses:  map[string]openrtb3.LossReason{"c1": openrtb3.LossLostToHigherBid}},
		{name: "advertisers only: categories may repeat", imps: pod,
			opts: []gavel.Option{gavel.WithPodSeparation(gavel.SeparateAdvertisers)},
			offers: []offer{podBid("a1", "s1", 10, 30, "x.com", "IAB2"), podBid("b1", "s2", 8, 30, "y.com", "IAB2"),
				podBid("c1", "s2", 7, 30, "x.com", "IAB3")},
			winners: map[string][]string{"s1": {"a1"}, "s2": {"b1"}},
			losses:  map[string]openrtb3.LossReason{"c1": openrtb3.LossLostToHigherBid}},
		{name: "categories only: advertisers may repeat", imps: pod,
			opts: []gavel.Option{gavel.WithPodSeparation(gavel.SeparateCategories)},
			offers: []offer{podBid("a1", "s1", 10, 30, "x.com", "IAB2"), podBid("b1", "s2", 8, 30, "y.com", "IAB2"),
				podBid("c1", "s2", 7, 30, "x.com", "IAB3")},
			winners: map[string][]string{"s1": {"a1"}, "s2": {"c1"}},
			losses:  map[string]openrtb3.LossReason{"b1": sep}},
		{name: "other pods and imps outside pods do not separate",
			imps: []openrtb2.Imp{slotImp("s1", "p"), slotImp("t1", "q"), auctiontest.VideoImp("v", 1)},
			offers: []offer{podBid("a1", "s1", 10, 30, "x.com"), podBid("b1", "t1", 8, 30, "x.com"),
				podBid("c1", "v", 8, 30, "x.com")},
			winners: map[string][]string{"s1": {"a1"}, "t1": {"b1"}, "v": {"c1"}}},
		{name: "a slot whose bids all clash has no winner", imps: pod,
			offers:  []offer{podBid("a1", "s1", 10, 30, "x.com"), podBid("b1", "s2", 8, 30, "x.com")},
			winners: map[string][]string{"s1": {"a1"}},
			losses:  map[string]openrtb3.LossReason{"b1": sep}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t) })
	}
}

func TestStructuredPodSeparationComposesWithTheLedger(t *testing.T) {
	// §7.6 with the budget: a bid that loses to separation never reaches
	// the Ledger, and a winner that the Ledger refuses frees its domain for
	// the other slots of the pod.
	tests := []struct {
		name     string
		poorA    bool // account a cannot pay
		winners  map[string][]string
		losses   map[string]openrtb3.LossReason
		reserved []string // bids whose cost the Ledger was asked for, in order
	}{
		{name: "a separated bid never reaches the ledger",
			winners:  map[string][]string{"s1": {"a1"}, "s2": {"c1"}},
			losses:   map[string]openrtb3.LossReason{"b1": gavel.LossCompetitiveSeparation, "d1": openrtb3.LossLostToHigherBid},
			reserved: []string{"a", "c"}},
		{name: "a refused winner frees its domain",
			poorA:    true,
			winners:  map[string][]string{"s1": {"d1"}, "s2": {"b1"}},
			losses:   map[string]openrtb3.LossReason{"a1": gavel.LossBudget, "c1": openrtb3.LossLostToHigherBid},
			reserved: []string{"a", "b", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ledger := must(gavel.NewMemoryLedger())
				for _, acc := range []string{"a", "b", "c", "d"} {
					amount := int64(1_000_000)
					if acc == "a" && tt.poorA {
						amount = 2_000 // pays the floor (1.00 CPM) but not 4.01
					}
					require.NoError(t, ledger.SetBudget(t.Context(), gavel.Budget{Account: acc, Amount: amount}))
				}
				rec := &accountRecorder{}
				a := mustAuction(t, gavel.WithLedger(ledger), gavel.WithHooks(rec), offerBidders([]offer{
					podBid("a1", "s1", 10, 30, "x.com"), podBid("d1", "s1", 4, 30, "z.com"),
					podBid("b1", "s2", 8, 30, "x.com"), podBid("c1", "s2", 5, 30, "y.com"),
				}))
				res, _ := timedRun(t, context.Background(), a, rulesRequest("pod", slotImp("s1", "p"), slotImp("s2", "p")))
				assert.Equal(t, tt.winners["s1"], winnersOf(res, "s1"))
				assert.Equal(t, tt.winners["s2"], winnersOf(res, "s2"))
				assert.Equal(t, tt.losses, lossesOf(res))
				assert.Equal(t, tt.reserved, rec.accounts)
			})
		})
	}
}

func TestHybridPodComposesWithTheLedger(t *testing.T) {
	// §7.6 hybrid pod with the budget: the dynamic part (best bid b1) is
	// served first and its winners wait for the Ledger; the slot's a1
	// clashes with the pending b1 and waits a round; the Ledger refuses b1,
	// so a1 takes the slot and the dynamic part keeps c1.
	synctest.Test(t, func(t *testing.T) {
		ledger := must(gavel.NewMemoryLedger())
		for _, acc := range []string{"a", "b", "c", "e"} {
			amount := int64(1_000_000)
			if acc == "b" {
				amount = 2_000 // pays the floor (1.00 CPM) but not b1's 9.00
			}
			require.NoError(t, ledger.SetBudget(t.Context(), gavel.Budget{Account: acc, Amount: amount}))
		}
		rec := &accountRecorder{}
		a := mustAuction(t, gavel.WithLedger(ledger), gavel.WithHooks(rec), offerBidders([]offer{
			podBid("a1", "s", 5, 15, "x.com"), podBid("e1", "s", 4, 15, "z.com"),
			podBid("b1", "d", 9, 30, "x.com"), podBid("c1", "d", 8, 30, "y.com"),
		}))
		req := rulesRequest("pod", slotImp("s", "p"), dynamicImp("d", 60, 0, func(v *openrtb2.Video) { v.PodID = "p" }))
		req.AT = 1
		res, _ := timedRun(t, context.Background(), a, req)
		assert.Equal(t, []string{"b", "c", "a"}, rec.accounts)
		assert.Equal(t, []string{"a1"}, winnersOf(res, "s"))
		assert.Equal(t, []string{"c1"}, winnersOf(res, "d"))
		assert.Equal(t, map[string]openrtb3.LossReason{"b1": gavel.LossBudget, "e1": openrtb3.LossLostToHigherBid}, lossesOf(res))
	})
}

// accountRecorder records the account of every reservation.
type accountRecorder struct{ accounts []string }

func (h *accountRecorder) OnReserve(_ context.Context, _ string, hold gavel.Hold, _ error) {
	h.accounts = append(h.accounts, hold.Account)
}

func TestDynamicPod(t *testing.T) {
	// §7.6 "Dynamic" Ad Pod and §3.2.7: one imp with poddur; several bids
	// win it, at most maxseq ads and poddur seconds together, the set of
	// greatest value.
	const (
		higher = openrtb3.LossLostToHigherBid
		sep    = gavel.LossCompetitiveSeparation
		dur    = gavel.LossPodDuration
		pos    = gavel.LossPodPosition
	)
	offers := []offer{podBid("a1", "d", 10, 30, "a.com"), podBid("b1", "d", 9, 30, "b.com"),
		podBid("c1", "d", 6, 15, "c.com"), podBid("d1", "d", 5.5, 15, "d.com"), podBid("e1", "d", 20, 60, "e.com")}
	slot := func(s adcom1.SlotPositionInPod) func(*openrtb2.Video) {
		return func(v *openrtb2.Video) { v.SlotInPod = s }
	}
	audio := func(o offer) offer { o.bid.MType = openrtb2.MarkupAudio; return o }
	withDeal := func(imp openrtb2.Imp) openrtb2.Imp {
		imp.PMP = &openrtb2.PMP{Deals: []openrtb2.Deal{{ID: "deal", BidFloor: 1, BidFloorCur: "USD"}}}
		return imp
	}
	tests := []podCase{
		{name: "§7.6: the set of greatest value fills poddur", imps: []openrtb2.Imp{dynamicImp("d", 60, 0)}, offers: offers,
			winners: map[string][]string{"d": {"a1", "c1", "d1"}}, // 21.50, against 20.00 for e1 and 19.00 for a1+b1
			losses:  map[string]openrtb3.LossReason{"b1": higher, "e1": higher}},
		{name: "§3.2.7 maxseq: at most maxseq ads", imps: []openrtb2.Imp{dynamicImp("d", 60, 2)}, offers: offers,
			winners: map[string][]string{"d": {"e1"}}, // 20.00, against 19.00 for a1+b1
			losses:  map[string]openrtb3.LossReason{"a1": higher, "b1": higher, "c1": higher, "d1": higher}},
		{name: "a pod that all bids fit takes them all", imps: []openrtb2.Imp{dynamicImp("d", 180, 6)}, offers: offers,
			winners: map[string][]string{"d": {"e1", "a1", "b1", "c1", "d1"}}},
		{name: "§3.2.7 rqddurs: a bid of another duration loses",
			imps: []openrtb2.Imp{dynamicImp("d", 60, 0, func(v *openrtb2.Video) { v.RqdDurs = []int64{15, 30} })},
			offers: []offer{podBid("a1", "d", 10, 30, "a.com"), podBid("b1", "d", 12, 20, "b.com"),
				podBid("c1", "d", 6, 15, "c.com")},
			winners: map[string][]string{"d": {"a1", "c1"}},
			losses:  map[string]openrtb3.LossReason{"b1": dur}},
		{name: "§3.2.7 minduration and maxduration bound each ad",
			imps: []openrtb2.Imp{dynamicImp("d", 60, 0, func(v *openrtb2.Video) { v.MinDuration, v.MaxDuration = 10, 30 })},
			offers: []offer{podBid("a1", "d", 10, 5, "a.com"), podBid("b1", "d", 12, 45, "b.com"),
				podBid("c1", "d", 6, 30, "c.com")},
			winners: map[string][]string{"d": {"c1"}},
			losses:  map[string]openrtb3.LossReason{"a1": dur, "b1": dur}},
		{name: "§4.2.3 dur: missing or longer than the pod loses", imps: []openrtb2.Imp{dynamicImp("d", 60, 0)},
			offers: []offer{podBid("a1", "d", 10, 0, "a.com"), podBid("b1", "d", 12, 61, "b.com"),
				podBid("c1", "d", 6, 60, "c.com")},
			winners: map[string][]string{"d": {"c1"}},
			losses:  map[string]openrtb3.LossReason{"a1": dur, "b1": dur}},
		{name: "§3.2.7 mincpmpersec: a price per second below it loses",
			imps: []openrtb2.Imp{dynamicImp("d", 60, 0, func(v *openrtb2.Video) { v.MinCPMPerSec = 0.2 })},
			offers: []offer{podBid("a1", "d", 5.99, 30, "a.com"), podBid("b1", "d", 6, 30, "b.com"),
				podBid("c1", "d", 3.1, 15, "c.com")},
			winners: map[string][]string{"d": {"b1", "c1"}},
			losses:  map[string]openrtb3.LossReason{"a1": openrtb3.LossBelowAuctionFloor}},
		{name: "§7.6 slotinpod: one bid first, one last, in play order",
			imps: []openrtb2.Imp{dynamicImp("d", 60, 0, slot(adcom1.SlotPosFirstOrLast))},
			offers: []offer{podBid("a1", "d", 10, 15, "a.com").at(adcom1.SlotPosFirst),
				podBid("b1", "d", 9, 15, "b.com").at(adcom1.SlotPosFirst), podBid("c1", "d", 8, 15, "c.com").at(adcom1.SlotPosLast),
				podBid("d1", "d", 7, 15, "d.com"), podBid("e1", "d", 6, 15, "e.com")},
			winners: map[string][]string{"d": {"a1", "d1", "e1", "c1"}},
			losses:  map[string]openrtb3.LossReason{"b1": higher}},
		{name: "§7.6 slotinpod: first-or-last bids take the free ends",
			imps: []openrtb2.Imp{dynamicImp("d", 60, 0, slot(adcom1.SlotPosFirstOrLast))},
			offers: []offer{podBid("a1", "d", 10, 15, "a.com").at(adcom1.SlotPosFirstOrLast),
				podBid("b1", "d", 9, 15, "b.com"), podBid("c1", "d", 8, 15, "c.com").at(adcom1.SlotPosFirstOrLast),
				podBid("d1", "d", 7, 15, "d.com").at(adcom1.SlotPosFirstOrLast)},
			winners: map[string][]string{"d": {"a1", "b1", "c1"}},
			losses:  map[string]openrtb3.LossReason{"d1": higher}},
		{name: "§7.6 slotinpod: a first-or-last bid goes last when a bid asked for first",
			imps: []openrtb2.Imp{dynamicImp("d", 60, 0, slot(adcom1.SlotPosFirstOrLast))},
			offers: []offer{podBid("a1", "d", 10, 15, "a.com").at(adcom1.SlotPosFirstOrLast),
				podBid("b1", "d", 9, 15, "b.com"), podBid("c1", "d", 8, 15, "c.com").at(adcom1.SlotPosFirst)},
			winners: map[string][]string{"d": {"c1", "b1", "a1"}}},
		{name: "§7.6 slotinpod: a position the imp does not offer loses",
			imps: []openrtb2.Imp{dynamicImp("d", 60, 0), dynamicImp("f", 60, 0, slot(adcom1.SlotPosFirst))},
			offers: []offer{podBid("a1", "d", 10, 15, "a.com").at(adcom1.SlotPosFirst),
				podBid("b1", "d", 9, 15, "b.com").at(adcom1.SlotPosFirstOrLast), podBid("c1", "d", 8, 15, "c.com"),
				podBid("d1", "f", 10, 15, "d.com").at(adcom1.SlotPosLast), podBid("e1", "f", 7, 15, "e.com"),
				podBid("f1", "f", 9, 15, "f.com").at(adcom1.SlotPosFirstOrLast), podBid("g1", "f", 8, 15, "g.com").at(3)},
			winners: map[string][]string{"d": {"c1"}, "f": {"f1", "e1"}},
			losses:  map[string]openrtb3.LossReason{"a1": pos, "b1": pos, "d1": pos, "g1": pos}},
		{name: "§7.6 separation inside a dynamic pod", imps: []openrtb2.Imp{dynamicImp("d", 60, 0)},
			offers: []offer{podBid("a1", "d", 10, 30, "x.com"), podBid("b1", "d", 9, 30, "x.com"),
				podBid("c1", "d", 5, 30, "y.com", "IAB2"), podBid("d1", "d", 4, 15, "z.com", "IAB2-1")},
			winners: map[string][]string{"d": {"a1", "c1"}},
			losses:  map[string]openrtb3.LossReason{"b1": sep, "d1": sep}},
		{name: "separation takes the best separated set, not the greedy fill", imps: []openrtb2.Imp{dynamicImp("d", 60, 0)},
			offers: []offer{podBid("a1", "d", 15, 30, "x.com"), podBid("b1", "d", 14, 30, "x.com"),
				podBid("c1", "d", 25, 60, "y.com"), podBid("d1", "d", 9, 30, "z.com")},
			winners: map[string][]string{"d": {"c1"}}, // 25.00; greedy a1+d1 is 24.00, a1+b1 (29.00) clash
			losses:  map[string]openrtb3.LossReason{"a1": higher, "b1": higher, "d1": higher}},
		{name: "separation off: one advertiser may fill the pod", imps: []openrtb2.Imp{dynamicImp("d", 60, 0)},
			opts: []gavel.Option{gavel.WithPodSeparation(0)},
			offers: []offer{podBid("a1", "d", 15, 30, "x.com"), podBid("b1", "d", 14, 30, "x.com"),
				podBid("c1", "d", 25, 60, "y.com")},
			winners: map[string][]string{"d": {"a1", "b1"}},
			losses:  map[string]openrtb3.LossReason{"c1": higher}},
		{name: "§7.6 hybrid pod: the structured slot and the dynamic part are separated",
			imps: []openrtb2.Imp{slotImp("s", "p"), dynamicImp("d", 60, 0, func(v *openrtb2.Video) { v.PodID = "p" })},
			offers: []offer{podBid("a1", "s", 10, 15, "x.com"), podBid("b1", "d", 9, 30, "x.com"),
				podBid("c1", "d", 8, 30, "y.com"), podBid("d1", "d", 7, 30, "z.com")},
			winners: map[string][]string{"s": {"a1"}, "d": {"c1", "d1"}},
			losses:  map[string]openrtb3.LossReason{"b1": sep}},
		{name: "§7.6 hybrid pod: the part with the best bid is served first",
			imps: []openrtb2.Imp{slotImp("s", "p"), dynamicImp("d", 60, 0, func(v *openrtb2.Video) { v.PodID = "p" })},
			offers: []offer{podBid("a1", "s", 5, 15, "x.com"), podBid("e1", "s", 4, 15, "z.com"),
				podBid("b1", "d", 9, 30, "x.com"), podBid("c1", "d", 8, 30, "y.com")},
			winners: map[string][]string{"s": {"e1"}, "d": {"b1", "c1"}},
			losses:  map[string]openrtb3.LossReason{"a1": sep}},
		{name: "separation off: a hybrid pod fills its slot and its dynamic part",
			imps: []openrtb2.Imp{slotImp("s", "p"), dynamicImp("d", 60, 0, func(v *openrtb2.Video) { v.PodID = "p" })},
			opts: []gavel.Option{gavel.WithPodSeparation(0)},
			offers: []offer{podBid("a1", "s", 10, 15, "x.com"), podBid("b1", "d", 9, 30, "x.com"),
				podBid("c1", "d", 8, 30, "y.com"), podBid("d1", "d", 7, 30, "z.com")},
			winners: map[string][]string{"s": {"a1"}, "d": {"b1", "c1"}},
			losses:  map[string]openrtb3.LossReason{"d1": higher}},
		{name: "with preferred deals, deal bids fill the pod first", imps: []openrtb2.Imp{withDeal(dynamicImp("d", 60, 0))},
			opts: []gavel.Option{gavel.WithPreferDeals(true)},
			offers: []offer{podBid("a1", "d", 5, 30, "a.com").forDeal("deal"), podBid("b1", "d", 10, 30, "b.com"),
				podBid("c1", "d", 9, 30, "c.com")},
			winners: map[string][]string{"d": {"a1", "b1"}},
			losses:  map[string]openrtb3.LossReason{"c1": higher}},
		{name: "an open bid loses to deals when only deals won", imps: []openrtb2.Imp{withDeal(dynamicImp("d", 60, 0))},
			opts: []gavel.Option{gavel.WithPreferDeals(true)},
			offers: []offer{podBid("a1", "d", 5, 30, "a.com").forDeal("deal"), podBid("b1", "d", 4, 30, "b.com").forDeal("deal"),
				podBid("c1", "d", 9, 30, "c.com")},
			winners: map[string][]string{"d": {"a1", "b1"}},
			losses:  map[string]openrtb3.LossReason{"c1": openrtb3.LossLostToDealBid}},
		{name: "without preferred deals, deal bids compete on price", imps: []openrtb2.Imp{withDeal(dynamicImp("d", 60, 0))},
			offers: []offer{podBid("a1", "d", 5, 30, "a.com").forDeal("deal"), podBid("b1", "d", 10, 30, "b.com"),
				podBid("c1", "d", 9, 30, "c.com")},
			winners: map[string][]string{"d": {"b1", "c1"}},
			losses:  map[string]openrtb3.LossReason{"a1": higher}},
		{name: "audio pods follow the same rules",
			imps: []openrtb2.Imp{{ID: "d", BidFloor: 1, BidFloorCur: "USD",
				Audio: &openrtb2.Audio{MIMEs: []string{"audio/mp4"}, PodDur: 60, MaxSeq: 3}}},
			offers: []offer{audio(podBid("a1", "d", 10, 30, "a.com")), audio(podBid("b1", "d", 9, 30, "a.com")),
				audio(podBid("c1", "d", 6, 30, "c.com")), audio(podBid("d1", "d", 7, 0, "d.com"))},
			winners: map[string][]string{"d": {"a1", "c1"}},
			losses:  map[string]openrtb3.LossReason{"b1": sep, "d1": dur}},
	}
	for i := range tests {
		tests[i].at = 1
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t) })
	}
}

func TestDynamicPodMinCPMPerSecIsTheFloor(t *testing.T) {
	// §3.2.7 mincpmpersec is a floor per second of the ad: a 30 s bid below
	// 30 × 0.2 = 6.00 loses with 100, its minimum to win that floor; a bid
	// in a fixed-duration pod is priced against it at second price.
	c := podCase{imps: []openrtb2.Imp{dynamicImp("d", 60, 0, func(v *openrtb2.Video) { v.MinCPMPerSec = 0.2 })},
		offers:  []offer{podBid("a1", "d", 5.99, 30, "a.com"), podBid("b1", "d", 9, 30, "b.com")},
		winners: map[string][]string{"d": {"b1"}},
		losses:  map[string]openrtb3.LossReason{"a1": openrtb3.LossBelowAuctionFloor}}
	c.at = 2
	res := c.run(t)
	assert.Equal(t, int64(6_000_000), outcomeOf(t, res, "a1").MinToWinMicros)
	b1 := outcomeOf(t, res, "b1")
	assert.Equal(t, int64(6_010_000), b1.ClearMicros, "the floor of its 30 s plus the increment")
	assert.Equal(t, int64(6_000_000), b1.MinToWinMicros)
}

func TestDynamicPodPrices(t *testing.T) {
	// §7.6 with §4.4: every winner of a dynamic pod is cleared by the
	// auction type. First price: its bid. Second price: the larger of its
	// floor and the best bid of the pod that was not selected, plus the
	// increment, never above its bid. A loser's minimum to win is the
	// lowest price among the winners.
	offers := []offer{podBid("a1", "d", 10, 30, "a.com"), podBid("b1", "d", 8, 30, "b.com"),
		podBid("c1", "d", 6, 30, "c.com"), podBid("d1", "d", 8.004, 30, "d.com", "IAB1"), podBid("e1", "d", 8.01, 30, "e.com", "IAB1")}
	tests := []struct {
		name          string
		at            int64
		offers        []offer
		clear, minWin map[string]int64
	}{
		{name: "first price pays each bid", at: 1, offers: offers[:3],
			clear:  map[string]int64{"a1": 10_000_000, "b1": 8_000_000},
			minWin: map[string]int64{"a1": 6_000_000, "b1": 6_000_000, "c1": 8_000_000}},
		{name: "second price pays the best bid not selected plus the increment", at: 2, offers: offers[:3],
			clear:  map[string]int64{"a1": 6_010_000, "b1": 6_010_000},
			minWin: map[string]int64{"a1": 6_000_000, "b1": 6_000_000, "c1": 8_000_000}},
		{name: "second price alone in the pod pays the floor plus the increment", at: 2, offers: offers[:2],
			clear:  map[string]int64{"a1": 1_010_000, "b1": 1_010_000},
			minWin: map[string]int64{"a1": 1_000_000, "b1": 1_000_000}},
		{name: "second price never above the own bid; a separated bid still sets the price", at: 2,
			offers: []offer{offers[0], offers[3], offers[4]}, // e1 (8.01) and d1 (8.004) share IAB1: d1 is not selected
			clear:  map[string]int64{"a1": 8_014_000, "e1": 8_010_000},
			minWin: map[string]int64{"a1": 8_004_000, "e1": 8_004_000, "d1": -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := rulesRequest("pod", dynamicImp("d", 60, 0))
			req.AT = tt.at
			res := runAuction(t, req, offerBidders(tt.offers))
			for i := range res.Bids {
				b := &res.Bids[i]
				if want, ok := tt.clear[b.Bid.ID]; ok {
					assert.True(t, b.Won, "%s won", b.Bid.ID)
					assert.Equal(t, want, b.ClearMicros, "clearing price of %s", b.Bid.ID)
				} else {
					assert.False(t, b.Won, "%s lost", b.Bid.ID)
					assert.Zero(t, b.ClearMicros, "a loser of %s pays nothing", b.Bid.ID)
				}
				assert.Equal(t, tt.minWin[b.Bid.ID], b.MinToWinMicros, "minimum to win of %s", b.Bid.ID)
			}
		})
	}
}

func TestDynamicPodWinnersEachReserveTheirCost(t *testing.T) {
	// §7.6 with the budget: each winner of a pod reserves its own cost; a
	// winner the Ledger refuses frees its place (and its domain) for the
	// next best set of what is left, and each winner bills its own hold.
	synctest.Test(t, func(t *testing.T) {
		ledger := must(gavel.NewMemoryLedger())
		for _, acc := range []string{"a", "b", "c", "d"} {
			amount := int64(1_000_000)
			if acc == "a" {
				amount = 2_000 // pays the floor (1.00 CPM) but not a 10.00 CPM impression
			}
			require.NoError(t, ledger.SetBudget(t.Context(), gavel.Budget{Account: acc, Amount: amount}))
		}
		rec := &accountRecorder{}
		a := mustAuction(t, gavel.WithLedger(ledger), gavel.WithHooks(rec), offerBidders([]offer{
			podBid("a1", "d", 10, 30, "x.com"), podBid("b1", "d", 9, 30, "x.com"),
			podBid("c1", "d", 5, 30, "y.com"), podBid("d1", "d", 4, 30, "z.com"),
		}))
		req := rulesRequest("pod", dynamicImp("d", 60, 0))
		req.AT = 1
		ctx := context.Background()
		res, _ := timedRun(t, ctx, a, req)

		// Round 1 selects a1 and c1 (b1 clashes with a1); a1 is refused;
		// round 2 fills the 30 s left with b1, whose domain is free again.
		assert.Equal(t, []string{"a", "c", "b"}, rec.accounts)
		assert.Equal(t, []string{"b1", "c1"}, winnersOf(res, "d"))
		assert.Equal(t, map[string]openrtb3.LossReason{"a1": gavel.LossBudget, "d1": openrtb3.LossLostToHigherBid}, lossesOf(res))
		ir := res.Imps[0]
		require.NotNil(t, ir.Pod)
		require.Len(t, ir.Pod.Holds, 2)
		assert.Equal(t, ir.Pod.Winners[0], ir.Winner, "Winner is the first of the pod's winners")
		assert.Equal(t, ir.Pod.Holds[0], ir.Hold)
		assert.Equal(t, int64(60), ir.Pod.Seconds)
		for k, w := range ir.Pod.Winners {
			bill := must(res.Billing(w))
			assert.Equal(t, ir.Pod.Holds[k], bill.Hold)
			assert.Equal(t, res.Bids[w].Bidder, bill.Hold.Account)
			assert.Equal(t, res.Bids[w].CostMicros(), bill.Hold.Amount)
			require.NoError(t, a.Commit(ctx, bill, bill.Hold.Amount))
		}
		for acc, cost := range map[string]int64{"b": 9_000, "c": 5_000} {
			bal := must(ledger.Balance(ctx, acc))
			assert.Equal(t, gavel.Balance{Budget: 1_000_000, Committed: cost}, bal, "account %s", acc)
		}
	})
}

func TestDynamicPodResponseMacrosAndEvents(t *testing.T) {
	// §7.6 with §4.4: the response carries every winner of the pod, each
	// with its own price in ${AUCTION_PRICE}; each loser's loss notice has
	// its own reason and minimum to win; each win is an event.
	synctest.Test(t, func(t *testing.T) {
		withURLs := func(o offer) offer {
			o.bid.NURL = "https://n.example/win?id=" + o.bid.ID + "&p=${AUCTION_PRICE}&imp=${AUCTION_IMP_ID}"
			o.bid.LURL = "https://n.example/loss?id=" + o.bid.ID + "&r=${AUCTION_LOSS}&m=${AUCTION_MIN_TO_WIN}"
			return o
		}
		rec := &auctiontest.EventRecorder{}
		a := mustAuction(t, gavel.WithEventSink(rec), offerBidders([]offer{
			withURLs(podBid("a1", "d", 10, 30, "a.com")), withURLs(podBid("a2", "d", 7, 15, "a2.com")),
			withURLs(podBid("b1", "d", 8, 15, "b.com")), withURLs(podBid("c1", "d", 6, 30, "c.com")),
		}))
		req := rulesRequest("pod", dynamicImp("d", 60, 3))
		req.AT = 1
		ctx := context.Background()
		res, _ := timedRun(t, ctx, a, req)
		require.Equal(t, []string{"a1", "b1", "a2"}, winnersOf(res, "d"))

		resp := res.BidResponse()
		require.Len(t, resp.SeatBid, 2)
		assert.Equal(t, "a", resp.SeatBid[0].Seat)
		require.Len(t, resp.SeatBid[0].Bid, 2)
		assert.Equal(t, "https://n.example/win?id=a1&p=10&imp=d", resp.SeatBid[0].Bid[0].NURL)
		assert.Equal(t, 10.0, resp.SeatBid[0].Bid[0].Price)
		assert.Equal(t, "https://n.example/win?id=a2&p=7&imp=d", resp.SeatBid[0].Bid[1].NURL)
		assert.Equal(t, "https://n.example/win?id=b1&p=8&imp=d", resp.SeatBid[1].Bid[0].NURL)
		body := must(json.Marshal(resp))
		var back openrtb2.BidResponse
		require.NoError(t, json.Unmarshal(body, &back))
		assert.Equal(t, *resp, back, "the response round-trips through JSON")

		c1 := slices.IndexFunc(res.Bids, func(b gavel.BidOutcome) bool { return b.Bid.ID == "c1" })
		assert.Equal(t, "https://n.example/loss?id=c1&r=102&m=7", res.LossURL(c1), "the lowest winning price")
		for i := range res.Bids {
			if res.Bids[i].Won {
				assert.Empty(t, res.LossURL(i))
			}
		}

		require.NoError(t, a.Close(ctx))
		var wins []string
		for _, e := range rec.Events() {
			switch e.Type {
			case gavel.EventWin:
				wins = append(wins, fmt.Sprintf("%s %s %d", e.BidID, e.ImpID, e.ClearMicros))
			case gavel.EventAuction:
				assert.Equal(t, 1, e.Winners, "one imp won")
			}
		}
		assert.Equal(t, []string{"a1 d 10000000", "a2 d 7000000", "b1 d 8000000"}, wins)
	})
}

func TestPodSeparationOption(t *testing.T) {
	_, err := gavel.New(gavel.WithPodSeparation(4))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, s := range []gavel.PodSeparation{0, gavel.SeparateAdvertisers, gavel.SeparateCategories, gavel.DefaultPodSeparation} {
		_, err := gavel.New(gavel.WithPodSeparation(s))
		assert.NoError(t, err, "separation %d", s)
	}
}

// randomPod is a random dynamic pod auction: its imp and bids, from rng.
func randomPod(rng *rand.Rand, n int) (openrtb2.Imp, []offer) {
	durs := []int64{5, 10, 15, 20, 30, 45, 60}
	domains := []string{"", "a.com", "A.com", "b.com", "c.com", "d.com", "e.com", "f.com"}
	cats := []string{"", "IAB1", "IAB2", "IAB2-1", "IAB3"}
	poses := []adcom1.SlotPositionInPod{0, 0, 0, 0, adcom1.SlotPosFirst, adcom1.SlotPosLast, adcom1.SlotPosFirstOrLast}
	imp := dynamicImp("d", 15*(2+rng.Int64N(9)), rng.Int64N(6), func(v *openrtb2.Video) {
		v.SlotInPod = adcom1.SlotPosFirstOrLast
	})
	imp.BidFloor = 0
	var offers []offer
	for i := range n {
		o := podBid(fmt.Sprintf("%c%d", 'a'+rune(i%5), i), "d", float64(1+rng.IntN(3000))/100,
			durs[rng.IntN(len(durs))], domains[rng.IntN(len(domains))])
		if c := cats[rng.IntN(len(cats))]; c != "" {
			o.bid.Cat = []string{c}
		}
		if rng.IntN(8) == 0 { // a rotating creative: two advertisers
			o.bid.ADomain = append(o.bid.ADomain, domains[1+rng.IntN(len(domains)-1)])
		}
		offers = append(offers, o.at(poses[rng.IntN(len(poses))]))
	}
	return imp, offers
}

// bestPodValue is the greatest total price, in micros, of a set of offers
// that fits the pod and keeps separation: every subset, tried.
func bestPodValue(imp openrtb2.Imp, offers []offer) int64 {
	best := int64(0)
	for set := 0; set < 1<<len(offers); set++ {
		var chosen []*openrtb2.Bid
		for i := range offers {
			if set&(1<<i) != 0 {
				chosen = append(chosen, &offers[i].bid)
			}
		}
		if v, ok := podValue(imp.Video, chosen); ok && v > best {
			best = v
		}
	}
	return best
}

// podValue is the total price of bids in micros, and whether they may
// fill the pod together: seconds, ads, positions and separation.
func podValue(v *openrtb2.Video, bids []*openrtb2.Bid) (int64, bool) {
	var total, secs int64
	var first, last, either int
	for i, b := range bids {
		total += int64(b.Price*1e6 + 0.5)
		secs += b.Dur
		switch b.SlotInPod {
		case adcom1.SlotPosFirst:
			first++
		case adcom1.SlotPosLast:
			last++
		case adcom1.SlotPosFirstOrLast:
			either++
		}
		for _, o := range bids[:i] {
			if clash(b, o) {
				return 0, false
			}
		}
	}
	ok := secs <= v.PodDur && (v.MaxSeq == 0 || int64(len(bids)) <= v.MaxSeq) &&
		first <= 1 && last <= 1 && first+last+either <= 2
	return total, ok
}

// clash is the test's own reading of competitive separation: a shared
// domain ignoring case, or a category that is the other's or its parent.
func clash(x, y *openrtb2.Bid) bool {
	for _, a := range x.ADomain {
		if slices.ContainsFunc(y.ADomain, func(b string) bool { return strings.EqualFold(a, b) }) {
			return true
		}
	}
	for _, a := range x.Cat {
		for _, b := range y.Cat {
			if a == b || strings.HasPrefix(a, b+"-") || strings.HasPrefix(b, a+"-") {
				return true
			}
		}
	}
	return false
}

func TestDynamicPodIsTheBestSet(t *testing.T) {
	// §7.6: the winners of a dynamic pod are the set of greatest value, by
	// every rule at once (seconds, maxseq, first and last positions,
	// separation): checked against every subset of up to 11 bids.
	rng := rand.New(rand.NewPCG(9, 76))
	for trial := range 200 {
		imp, offers := randomPod(rng, 1+rng.IntN(11))
		req := rulesRequest(fmt.Sprintf("pod-%d", trial), imp)
		req.AT = 1
		res := runAuction(t, req, offerBidders(offers))
		var won []*openrtb2.Bid
		var got int64
		for _, b := range res.Bids {
			if b.Won {
				won = append(won, b.Bid)
				got += b.PriceMicros
			}
		}
		_, feasible := podValue(imp.Video, won)
		require.True(t, feasible, "trial %d: the winners break a rule of the pod", trial)
		require.Equal(t, bestPodValue(imp, offers), got, "trial %d: pod %+v, offers %+v", trial, imp.Video, offers)
	}
}

func TestDynamicPodOfRealSizeIsExact(t *testing.T) {
	// §7.6 at the sizes of real pods: 40 bids of 15 to 60 s for a pod of
	// 300 s and 10 ads, each of its own advertiser, checked against the
	// test's own knapsack over (ads, seconds).
	rng := rand.New(rand.NewPCG(3, 7))
	durs := []int64{15, 20, 30, 45, 60}
	for trial := range 20 {
		var offers []offer
		for i := range 40 {
			offers = append(offers, podBid(fmt.Sprintf("%c%d", 'a'+rune(i%8), i), "d",
				float64(100+rng.IntN(2900))/100, durs[rng.IntN(len(durs))], fmt.Sprintf("adv%d.com", i)))
		}
		imp := dynamicImp("d", 300, 10)
		req := rulesRequest(fmt.Sprintf("pod-%d", trial), imp)
		req.AT = 1
		res := runAuction(t, req, offerBidders(offers))
		var got int64
		for _, b := range res.Bids {
			if b.Won {
				got += b.PriceMicros
			}
		}
		// best[c][s]: the greatest value of c ads of s seconds at most.
		var best [11][301]int64
		for _, o := range offers {
			p, d := int64(o.bid.Price*1e6+0.5), int(o.bid.Dur)
			for c := 10; c >= 1; c-- {
				for s := 300; s >= d; s-- {
					best[c][s] = max(best[c][s], best[c-1][s-d]+p)
				}
			}
		}
		require.Equal(t, best[10][300], got, "trial %d", trial)
	}
}

func TestDynamicPodPastTheWorkBound(t *testing.T) {
	// A pod whose knapsack would be too large (poddur in steps of 1 s past
	// a million) takes the better greedy fill: in rank order (a1, then
	// d1), or by price per second (d1, then b1).
	imp := dynamicImp("d", 3_000_000, 0)
	c := podCase{at: 1, imps: []openrtb2.Imp{imp},
		offers: []offer{podBid("a1", "d", 10, 2_000_001, "a.com"), podBid("b1", "d", 9, 1_500_000, "b.com"),
			podBid("c1", "d", 9, 1_500_000, "c.com"), podBid("d1", "d", 1, 1, "d.com")},
		winners: map[string][]string{"d": {"a1", "d1"}}, // 11.00; b1+c1 would be worth 18.00
		losses:  map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToHigherBid, "c1": openrtb3.LossLostToHigherBid}}
	c.run(t)
}

func TestPodsAreDeterministic(t *testing.T) {
	// The same request and bids give the same winners, in the same order,
	// whatever the order the bidders answer in.
	rng := rand.New(rand.NewPCG(1, 2))
	imp, offers := randomPod(rng, 14)
	imp.Video.PodDur, imp.Video.MaxSeq = 90, 4
	offers = append(offers, podBid("e99", "d", offers[0].bid.Price, offers[0].bid.Dur, "tie.com")) // a tie across seats
	req := rulesRequest("pod", imp)
	var first []string
	for run := range 8 {
		shuffled := slices.Clone(offers)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		res := runAuction(t, req, offerBidders(shuffled))
		got := winnersOf(res, "d")
		if run == 0 {
			first = got
			require.NotEmpty(t, first)
			continue
		}
		assert.Equal(t, first, got, "run %d", run)
	}
}

func TestPodsDoNotLeakIntoTheNextAuction(t *testing.T) {
	// Rounds are pooled: an auction without pods after one with a pod
	// clears as usual, and the pod again after it.
	synctest.Test(t, func(t *testing.T) {
		a := mustAuction(t, offerBidders([]offer{podBid("a1", "d", 10, 30, "a.com"), podBid("b1", "d", 9, 30, "b.com")}))
		ctx := context.Background()
		for run := range 3 {
			pod := rulesRequest("pod", dynamicImp("d", 60, 0))
			plain := rulesRequest("plain", auctiontest.VideoImp("d", 1))
			res, _ := timedRun(t, ctx, a, pod)
			assert.Equal(t, []string{"a1", "b1"}, winnersOf(res, "d"), "run %d", run)
			res, _ = timedRun(t, ctx, a, plain)
			assert.Equal(t, []string{"a1"}, winnersOf(res, "d"), "run %d", run)
			assert.Nil(t, res.Imps[0].Pod)
			assert.Equal(t, openrtb3.LossLostToHigherBid, outcomeOf(t, res, "b1").Loss)
		}
	})
}
