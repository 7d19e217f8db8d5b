package gavel_test

import (
	"context"
	"math"
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

// bidScenario is one bidder, "dsp", answering one request. Unchanged, its
// last bid (the bid under test) is valid and wins.
type bidScenario struct {
	req  *openrtb2.BidRequest
	resp *openrtb2.BidResponse
	opts []gavel.Option
}

func newBidScenario() *bidScenario {
	req := rulesRequest("req-1", auctiontest.BannerImp("1", 0.50, [2]int64{300, 250}))
	bid := auctiontest.Bid("b1", "1", 2.00)
	bid.W, bid.H = 300, 250
	bid.ADomain = []string{"brand.example"}
	return &bidScenario{req: req, resp: auctiontest.Response(req.ID, "", bid)}
}

// bid returns the bid under test.
func (s *bidScenario) bid() *openrtb2.Bid {
	sb := &s.resp.SeatBid[0]
	return &sb.Bid[len(sb.Bid)-1]
}

func (s *bidScenario) imp() *openrtb2.Imp { return &s.req.Imp[0] }

// deal makes the bid under test a bid for deal "d1" of the imp, adding the
// deal if needed, and returns the deal.
func (s *bidScenario) deal() *openrtb2.Deal {
	imp := s.imp()
	if imp.PMP == nil {
		imp.PMP = &openrtb2.PMP{}
	}
	if len(imp.PMP.Deals) == 0 {
		imp.PMP.Deals = []openrtb2.Deal{{ID: "other"}, {ID: "d1"}}
	}
	s.bid().DealID = "d1"
	return &imp.PMP.Deals[1]
}

// run runs the scenario and returns the result and the bid under test.
func (s *bidScenario) run(t *testing.T) (*gavel.Result, *gavel.BidOutcome) {
	t.Helper()
	opts := append([]gavel.Option{gavel.WithBidders(auctiontest.Prebuilt("dsp", s.resp))}, s.opts...)
	res := runAuction(t, s.req, opts...)
	require.NotEmpty(t, res.Bids)
	return res, &res.Bids[len(res.Bids)-1]
}

type bidRule struct {
	name  string
	setup func(s *bidScenario)
	want  openrtb3.LossReason
	price int64 // for a winner: the price in micros of the auction currency; 0: not checked
}

// bidRules covers every rule of checkBid, each with bids that break it and
// bids that pass it.
var bidRules = []bidRule{
	{name: "valid", setup: func(s *bidScenario) {}, want: openrtb3.LossWon, price: 2_000_000},

	{name: "id/missing", setup: func(s *bidScenario) { s.bid().ID = "" }, want: openrtb3.LossInvalidResponse},
	{name: "id/duplicate in seat", setup: func(s *bidScenario) {
		sb := &s.resp.SeatBid[0]
		sb.Bid = append([]openrtb2.Bid{*s.bid()}, sb.Bid...)
	}, want: gavel.LossDuplicateBid},
	{name: "id/same id in another seat", setup: func(s *bidScenario) {
		other := s.resp.SeatBid[0]
		other.Seat = "other-seat"
		other.Bid = []openrtb2.Bid{other.Bid[0]}
		other.Bid[0].Price = 3
		s.resp.SeatBid = append([]openrtb2.SeatBid{other}, s.resp.SeatBid...)
		s.opts = append(s.opts, gavel.WithBidderSeats("dsp", "other-seat"))
	}, want: openrtb3.LossLostToHigherBid},

	{name: "impid/unknown", setup: func(s *bidScenario) { s.bid().ImpID = "nope" }, want: openrtb3.LossInvalidResponse},
	{name: "impid/empty", setup: func(s *bidScenario) { s.bid().ImpID = "" }, want: openrtb3.LossInvalidResponse},

	{name: "price/zero", setup: func(s *bidScenario) { s.bid().Price = 0 }, want: openrtb3.LossMissingBidPrice},
	{name: "price/negative", setup: func(s *bidScenario) { s.bid().Price = -1 }, want: openrtb3.LossMissingBidPrice},
	{name: "price/NaN", setup: func(s *bidScenario) { s.bid().Price = math.NaN() }, want: openrtb3.LossMissingBidPrice},
	{name: "price/+Inf", setup: func(s *bidScenario) { s.bid().Price = math.Inf(1) }, want: openrtb3.LossMissingBidPrice},
	{name: "price/-Inf", setup: func(s *bidScenario) { s.bid().Price = math.Inf(-1) }, want: openrtb3.LossMissingBidPrice},
	{name: "price/rounds to 0 micros", setup: func(s *bidScenario) {
		s.bid().Price = 0.0000004
		s.imp().BidFloor = 0
	}, want: openrtb3.LossMissingBidPrice},
	{name: "price/converted to 0 micros", setup: func(s *bidScenario) {
		s.req.Cur = []string{"USD", "JPY"}
		s.resp.Cur = "JPY"
		s.bid().Price = 0.00005
		s.imp().BidFloor = 0
		s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"JPY>USD": 0.0067})))
	}, want: openrtb3.LossMissingBidPrice},
	{name: "price/one micro", setup: func(s *bidScenario) {
		s.bid().Price = 0.000001
		s.imp().BidFloor = 0
	}, want: openrtb3.LossWon, price: 1},
	{name: "price/absurd", setup: func(s *bidScenario) { s.bid().Price = 2e12 }, want: openrtb3.LossMissingBidPrice},

	{name: "cur/not allowed", setup: func(s *bidScenario) { s.resp.Cur = "EUR" }, want: gavel.LossCurrency},
	{name: "cur/not allowed with converter", setup: func(s *bidScenario) {
		s.resp.Cur = "EUR"
		s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"EUR>USD": 1.1})))
	}, want: gavel.LossCurrency},
	{name: "cur/allowed without converter", setup: func(s *bidScenario) {
		s.req.Cur = []string{"USD", "EUR"}
		s.resp.Cur = "EUR"
	}, want: gavel.LossCurrency},
	{name: "cur/converter has no rate", setup: func(s *bidScenario) {
		s.req.Cur = []string{"USD", "EUR"}
		s.resp.Cur = "EUR"
		s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"GBP>USD": 1.3})))
	}, want: gavel.LossCurrency},
	{name: "cur/converter gives a bad rate", setup: func(s *bidScenario) {
		s.req.Cur = []string{"USD", "EUR"}
		s.resp.Cur = "EUR"
		s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"EUR>USD": math.NaN()})))
	}, want: gavel.LossCurrency},
	{name: "cur/converted", setup: func(s *bidScenario) {
		s.req.Cur = []string{"USD", "EUR"}
		s.resp.Cur = "EUR"
		s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"EUR>USD": 1.1})))
	}, want: openrtb3.LossWon, price: 2_200_000},
	{name: "cur/converted rounds half away from zero", setup: func(s *bidScenario) {
		s.req.Cur = []string{"USD", "EUR"}
		s.resp.Cur = "EUR"
		s.bid().Price = 1.000001
		s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"EUR>USD": 0.5})))
	}, want: openrtb3.LossWon, price: 500_001},
	{name: "cur/missing is USD", setup: func(s *bidScenario) {
		s.req.Cur = []string{"EUR"}
		s.imp().BidFloorCur = "EUR"
	}, want: gavel.LossCurrency},
	{name: "cur/missing is USD, allowed", setup: func(s *bidScenario) {
		s.req.Cur = []string{"EUR", "USD"}
		s.imp().BidFloorCur = "EUR"
		s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"USD>EUR": 0.75})))
	}, want: openrtb3.LossWon, price: 1_500_000},

	{name: "max/above WithMaxPrice", setup: func(s *bidScenario) {
		s.bid().Price = 10.000001
		s.opts = append(s.opts, gavel.WithMaxPrice(10_000_000))
	}, want: gavel.LossPriceAboveMax},
	{name: "max/at WithMaxPrice", setup: func(s *bidScenario) {
		s.bid().Price = 10
		s.opts = append(s.opts, gavel.WithMaxPrice(10_000_000))
	}, want: openrtb3.LossWon, price: 10_000_000},
	{name: "max/above default", setup: func(s *bidScenario) { s.bid().Price = 1000.01 }, want: gavel.LossPriceAboveMax},
	{name: "max/huge", setup: func(s *bidScenario) { s.bid().Price = 1e12 }, want: gavel.LossPriceAboveMax},
	{name: "max/after conversion", setup: func(s *bidScenario) {
		s.req.Cur = []string{"USD", "EUR"}
		s.resp.Cur = "EUR"
		s.bid().Price = 950
		s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"EUR>USD": 1.1})))
	}, want: gavel.LossPriceAboveMax},

	{name: "markup/none", setup: func(s *bidScenario) { s.bid().AdM = "" }, want: openrtb3.LossMissingMarkup},
	{name: "markup/nurl only", setup: func(s *bidScenario) {
		s.bid().AdM, s.bid().NURL = "", "https://dsp.example/win"
	}, want: openrtb3.LossWon},

	// OpenRTB 2.6 §3.2.4: "any given bid for the impression must conform
	// to one of the offered types"; §4.2.3 mtype: "Type of the creative
	// markup so that it can properly be associated with the right
	// sub-object of the BidRequest.Imp". A bid that fits none loses with 204.
	{name: "format/banner mtype on a video-only imp", setup: func(s *bidScenario) {
		videoOnly(s)
		s.bid().MType = openrtb2.MarkupBanner
	}, want: openrtb3.LossIncorrectFormat},
	{name: "format/video mtype on a banner-only imp", setup: func(s *bidScenario) {
		s.bid().MType = openrtb2.MarkupVideo
	}, want: openrtb3.LossIncorrectFormat},
	{name: "format/mtype naming no media object", setup: func(s *bidScenario) {
		s.bid().MType = 5
	}, want: openrtb3.LossIncorrectFormat},
	{name: "format/video mtype on a video imp", setup: func(s *bidScenario) {
		videoOnly(s)
		s.bid().MType = openrtb2.MarkupVideo
	}, want: openrtb3.LossWon},
	{name: "format/audio mtype on a banner and audio imp", setup: func(s *bidScenario) {
		s.imp().Audio = &openrtb2.Audio{MIMEs: []string{"audio/mp4"}}
		s.bid().MType = openrtb2.MarkupAudio
	}, want: openrtb3.LossWon},
	{name: "format/HTML without mtype on a video-only imp", setup: func(s *bidScenario) {
		videoOnly(s)
	}, want: openrtb3.LossIncorrectFormat},
	{name: "format/VAST without mtype on a video-only imp", setup: func(s *bidScenario) {
		videoOnly(s)
		s.bid().AdM = vastAd("https://cdn.example/v.mp4")
	}, want: openrtb3.LossWon},
	{name: "format/VAST after a prolog and comments on a video-only imp", setup: func(s *bidScenario) {
		videoOnly(s)
		s.bid().AdM = "\uFEFF\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- served by dsp -->" + vastAd("https://cdn.example/v.mp4")
	}, want: openrtb3.LossWon},
	{name: "format/VAST without mtype on an audio-only imp", setup: func(s *bidScenario) {
		s.imp().Banner, s.imp().Audio = nil, &openrtb2.Audio{MIMEs: []string{"audio/mp4"}}
		s.bid().W, s.bid().H = 0, 0
		s.bid().AdM = vastAd("https://cdn.example/a.mp3")
	}, want: openrtb3.LossWon},
	{name: "format/VAST without mtype on a banner-only imp", setup: func(s *bidScenario) {
		s.bid().AdM = vastAd("https://cdn.example/v.mp4")
	}, want: openrtb3.LossIncorrectFormat},
	{name: "format/native JSON without mtype on a native imp", setup: func(s *bidScenario) {
		nativeOnly(s)
		s.bid().AdM = nativeAd("https://cdn.example/i.png")
	}, want: openrtb3.LossWon},
	{name: "format/HTML without mtype on a native-only imp", setup: func(s *bidScenario) {
		nativeOnly(s)
	}, want: openrtb3.LossIncorrectFormat},
	{name: "format/native JSON without mtype on a banner-only imp", setup: func(s *bidScenario) {
		s.bid().AdM = nativeAd("https://cdn.example/i.png")
	}, want: openrtb3.LossIncorrectFormat},
	{name: "format/markup on the win notice cannot be told apart", setup: func(s *bidScenario) {
		videoOnly(s)
		s.bid().AdM, s.bid().NURL = "", "https://dsp.example/win"
	}, want: openrtb3.LossWon},

	{name: "seat/bseat", setup: func(s *bidScenario) {
		s.resp.SeatBid[0].Seat = "seat-x"
		s.opts = append(s.opts, gavel.WithBidderSeats("dsp", "seat-x"))
		s.req.BSeat = []string{"seat-x"}
	}, want: openrtb3.LossSeatBlocked},
	{name: "seat/wseat without the seat", setup: func(s *bidScenario) {
		s.resp.SeatBid[0].Seat = "seat-x"
		s.opts = append(s.opts, gavel.WithBidderSeats("dsp", "seat-x"))
		s.req.WSeat = []string{"dsp"}
	}, want: openrtb3.LossSeatBlocked},
	{name: "seat/wseat with the seat", setup: func(s *bidScenario) {
		s.resp.SeatBid[0].Seat = "seat-x"
		s.opts = append(s.opts, gavel.WithBidderSeats("dsp", "seat-x"))
		s.req.WSeat = []string{"dsp", "seat-x"}
	}, want: openrtb3.LossWon},
	{name: "seat/not allowed to the bidder", setup: func(s *bidScenario) {
		s.resp.SeatBid[0].Seat = "someone-else"
	}, want: gavel.LossSeatNotAllowed},
	{name: "seat/allowed to another bidder only", setup: func(s *bidScenario) {
		s.resp.SeatBid[0].Seat = "seat-x"
		s.opts = append(s.opts, gavel.WithBidders(auctiontest.NoBid("other")), gavel.WithBidderSeats("other", "seat-x"))
	}, want: gavel.LossSeatNotAllowed},
	{name: "seat/the bidder's own name", setup: func(s *bidScenario) {
		s.resp.SeatBid[0].Seat = "dsp"
	}, want: openrtb3.LossWon},
	{name: "seat/empty seat is the bidder", setup: func(s *bidScenario) {
		s.req.WSeat = []string{"dsp"}
	}, want: openrtb3.LossWon},

	{name: "deal/unknown id, no pmp", setup: func(s *bidScenario) { s.bid().DealID = "d1" }, want: openrtb3.LossInvalidDealID},
	{name: "deal/unknown id", setup: func(s *bidScenario) {
		s.deal()
		s.bid().DealID = "d9"
	}, want: openrtb3.LossInvalidDealID},
	{name: "deal/known id", setup: func(s *bidScenario) { s.deal() }, want: openrtb3.LossWon},
	// OpenRTB 2.6 §3.2.12: a deal's bidfloorcur "does not inherit from
	// Imp.bidfloorcur; it is either explicitly specified or defaults to
	// USD". A deal whose floor has no rate to the auction currency is
	// unusable; the request and the open market stand.
	{name: "deal/floor currency without a rate", setup: func(s *bidScenario) {
		d := s.deal()
		d.BidFloor, d.BidFloorCur = 1, "EUR"
	}, want: gavel.LossDealCurrency},
	{name: "deal/floor in USD by default in a EUR auction without a rate", setup: func(s *bidScenario) {
		s.req.Cur = []string{"EUR"}
		s.resp.Cur = "EUR"
		s.imp().BidFloorCur = "EUR"
		d := s.deal()
		d.BidFloor = 1
	}, want: gavel.LossDealCurrency},
	{name: "deal/floor currency without a rate, open bid", setup: func(s *bidScenario) {
		d := s.deal()
		d.BidFloor, d.BidFloorCur = 1, "EUR"
		s.bid().DealID = ""
	}, want: openrtb3.LossWon},
	{name: "deal/zero floor in any currency", setup: func(s *bidScenario) {
		d := s.deal()
		d.BidFloor, d.BidFloorCur = 0, "XYZ"
	}, want: openrtb3.LossWon},
	{name: "deal/wseat without the seat", setup: func(s *bidScenario) {
		s.deal().WSeat = []string{"someone"}
	}, want: openrtb3.LossSeatBlocked},
	{name: "deal/wseat with the seat", setup: func(s *bidScenario) {
		s.deal().WSeat = []string{"someone", "dsp"}
	}, want: openrtb3.LossWon},
	{name: "deal/wadomain without the domain", setup: func(s *bidScenario) {
		s.deal().WADomain = []string{"other.example"}
	}, want: openrtb3.LossNotAllowedInDeal},
	{name: "deal/wadomain, bid without adomain", setup: func(s *bidScenario) {
		s.deal().WADomain = []string{"brand.example"}
		s.bid().ADomain = nil
	}, want: openrtb3.LossNotAllowedInDeal},
	{name: "deal/wadomain with a subdomain, any case", setup: func(s *bidScenario) {
		s.deal().WADomain = []string{"Brand.Example"}
		s.bid().ADomain = []string{"shop.brand.example"}
	}, want: openrtb3.LossWon},
	{name: "deal/private auction, open bid", setup: func(s *bidScenario) {
		s.deal()
		s.imp().PMP.PrivateAuction = 1
		s.bid().DealID = ""
	}, want: gavel.LossOpenBidInPrivateAuction},
	{name: "deal/private auction, deal bid", setup: func(s *bidScenario) {
		s.deal()
		s.imp().PMP.PrivateAuction = 1
	}, want: openrtb3.LossWon},
	{name: "deal/open auction, open bid", setup: func(s *bidScenario) {
		s.deal()
		s.bid().DealID = ""
	}, want: openrtb3.LossWon},

	{name: "badv/exact", setup: func(s *bidScenario) { s.req.BAdv = []string{"brand.example"} }, want: openrtb3.LossAdvertiserExclusions},
	{name: "badv/exact, other case", setup: func(s *bidScenario) {
		s.req.BAdv = []string{"BRAND.EXAMPLE"}
	}, want: openrtb3.LossAdvertiserExclusions},
	{name: "badv/subdomain", setup: func(s *bidScenario) {
		s.req.BAdv = []string{"brand.example"}
		s.bid().ADomain = []string{"ads.brand.example"}
	}, want: openrtb3.LossAdvertiserExclusions},
	{name: "badv/any case", setup: func(s *bidScenario) {
		s.req.BAdv = []string{"BRAND.example"}
		s.bid().ADomain = []string{"Ads.Brand.Example"}
	}, want: openrtb3.LossAdvertiserExclusions},
	{name: "badv/any of several domains", setup: func(s *bidScenario) {
		s.req.BAdv = []string{"x.example", "brand.example"}
		s.bid().ADomain = []string{"ok.example", "brand.example"}
	}, want: openrtb3.LossAdvertiserExclusions},
	{name: "badv/suffix that is not a subdomain", setup: func(s *bidScenario) {
		s.req.BAdv = []string{"brand.example"}
		s.bid().ADomain = []string{"mybrand.example"}
	}, want: openrtb3.LossWon},
	{name: "badv/parent of the blocked domain", setup: func(s *bidScenario) {
		s.req.BAdv = []string{"ads.brand.example"}
	}, want: openrtb3.LossWon},

	{name: "bapp/blocked", setup: func(s *bidScenario) {
		s.req.BApp = []string{"com.example.game"}
		s.bid().Bundle = "com.example.game"
	}, want: openrtb3.LossAppStoreIDExclusions},
	{name: "bapp/other bundle", setup: func(s *bidScenario) {
		s.req.BApp = []string{"com.example.game"}
		s.bid().Bundle = "com.example.other"
	}, want: openrtb3.LossWon},

	{name: "bcat/exact", setup: func(s *bidScenario) {
		s.req.BCat = []string{"IAB25"}
		s.bid().Cat = []string{"IAB25"}
	}, want: openrtb3.LossCategoryExclusions},
	{name: "bcat/subcategory", setup: func(s *bidScenario) {
		s.req.BCat = []string{"IAB25"}
		s.bid().Cat = []string{"IAB1", "IAB25-3"}
	}, want: openrtb3.LossCategoryExclusions},
	{name: "bcat/prefix without dash", setup: func(s *bidScenario) {
		s.req.BCat = []string{"IAB2"}
		s.bid().Cat = []string{"IAB25"}
	}, want: openrtb3.LossWon},
	{name: "bcat/parent of the blocked category", setup: func(s *bidScenario) {
		s.req.BCat = []string{"IAB25-3"}
		s.bid().Cat = []string{"IAB25"}
	}, want: openrtb3.LossWon},
	{name: "acat/allowed subcategory", setup: func(s *bidScenario) {
		s.req.ACat = []string{"IAB1"}
		s.bid().Cat = []string{"IAB1-2"}
	}, want: openrtb3.LossWon},
	{name: "acat/not allowed", setup: func(s *bidScenario) {
		s.req.ACat = []string{"IAB1"}
		s.bid().Cat = []string{"IAB2"}
	}, want: openrtb3.LossCategoryExclusions},
	{name: "acat/one category not allowed", setup: func(s *bidScenario) {
		s.req.ACat = []string{"IAB1"}
		s.bid().Cat = []string{"IAB1", "IAB2"}
	}, want: openrtb3.LossCategoryExclusions},
	// OpenRTB 2.6 §3.2.1 acat: "Allowed advertiser categories": an
	// allow-list admits only bids that declare an allowed category, so a
	// bid without category loses (it used to pass).
	{name: "acat/bid without category", setup: func(s *bidScenario) {
		s.req.ACat = []string{"IAB1"}
	}, want: openrtb3.LossCategoryExclusions},
	{name: "bcat/bid without category", setup: func(s *bidScenario) {
		s.req.BCat = []string{"IAB25"}
	}, want: openrtb3.LossWon},

	// §3.2.1 cattax: "The taxonomy in use for bcat" (and acat), default 1;
	// §4.2.3 bid.cattax, default 1. Categories in another taxonomy than
	// the request's cannot be judged.
	{name: "cattax/bid in another taxonomy, bcat", setup: func(s *bidScenario) {
		s.req.BCat = []string{"IAB25"}
		s.bid().Cat, s.bid().CatTax = []string{"1026"}, adcom1.CatTaxIABContent22
	}, want: gavel.LossCategoryTaxonomy},
	{name: "cattax/bid in another taxonomy, acat", setup: func(s *bidScenario) {
		s.req.ACat = []string{"IAB1"}
		s.bid().Cat, s.bid().CatTax = []string{"IAB1"}, adcom1.CatTaxIABContent20
	}, want: gavel.LossCategoryTaxonomy},
	{name: "cattax/explicit 1 is the default", setup: func(s *bidScenario) {
		s.req.BCat, s.req.CatTax = []string{"IAB25"}, adcom1.CatTaxIABContent10
		s.bid().Cat = []string{"IAB25-3"}
	}, want: openrtb3.LossCategoryExclusions},
	{name: "cattax/same taxonomy, blocked", setup: func(s *bidScenario) {
		s.req.BCat, s.req.CatTax = []string{"1026"}, adcom1.CatTaxIABContent22
		s.bid().Cat, s.bid().CatTax = []string{"1026"}, adcom1.CatTaxIABContent22
	}, want: openrtb3.LossCategoryExclusions},
	{name: "cattax/same taxonomy, allowed", setup: func(s *bidScenario) {
		s.req.ACat, s.req.CatTax = []string{"1026"}, adcom1.CatTaxIABContent22
		s.bid().Cat, s.bid().CatTax = []string{"1026"}, adcom1.CatTaxIABContent22
	}, want: openrtb3.LossWon},
	{name: "cattax/no IAB 1.0 subcategories in other taxonomies", setup: func(s *bidScenario) {
		s.req.BCat, s.req.CatTax = []string{"IAB25"}, adcom1.CatTaxIABProduct10
		s.bid().Cat, s.bid().CatTax = []string{"IAB25-3"}, adcom1.CatTaxIABProduct10
	}, want: openrtb3.LossWon},
	{name: "cattax/another taxonomy without bcat or acat", setup: func(s *bidScenario) {
		s.bid().Cat, s.bid().CatTax = []string{"1026"}, adcom1.CatTaxIABContent22
	}, want: openrtb3.LossWon},
	{name: "cattax/another taxonomy, no categories", setup: func(s *bidScenario) {
		s.req.BCat = []string{"IAB25"}
		s.bid().CatTax = adcom1.CatTaxIABContent22
	}, want: openrtb3.LossWon},

	{name: "battr/banner", setup: func(s *bidScenario) {
		s.imp().Banner.BAttr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}
		s.bid().Attr = []adcom1.CreativeAttribute{adcom1.AttrPop, adcom1.AttrAudioAuto}
	}, want: openrtb3.LossAttributeExclusions},
	{name: "battr/other attributes", setup: func(s *bidScenario) {
		s.imp().Banner.BAttr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}
		s.bid().Attr = []adcom1.CreativeAttribute{adcom1.AttrPop}
	}, want: openrtb3.LossWon},
	{name: "battr/video list, banner bid", setup: func(s *bidScenario) {
		s.imp().Video = &openrtb2.Video{MIMEs: []string{"video/mp4"}, BAttr: []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}}
		s.bid().Attr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}
		s.bid().MType = openrtb2.MarkupBanner
	}, want: openrtb3.LossWon},
	{name: "battr/video list, video bid", setup: func(s *bidScenario) {
		s.imp().Video = &openrtb2.Video{MIMEs: []string{"video/mp4"}, BAttr: []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}}
		s.bid().Attr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}
		s.bid().MType = openrtb2.MarkupVideo
	}, want: openrtb3.LossAttributeExclusions},
	// A bid without mtype is held to the lists of every media object its
	// markup may be for (OpenRTB 2.6 §3.2.6–3.2.9 battr).
	{name: "battr/video list, bid without mtype or markup", setup: func(s *bidScenario) {
		s.imp().Video = &openrtb2.Video{MIMEs: []string{"video/mp4"}, BAttr: []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}}
		s.bid().Attr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}
		s.bid().AdM, s.bid().NURL = "", "https://dsp.example/win"
	}, want: openrtb3.LossAttributeExclusions},
	{name: "battr/video list, VAST bid without mtype", setup: func(s *bidScenario) {
		s.imp().Video = &openrtb2.Video{MIMEs: []string{"video/mp4"}, BAttr: []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}}
		s.bid().Attr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}
		s.bid().AdM = vastAd("https://cdn.example/v.mp4")
	}, want: openrtb3.LossAttributeExclusions},
	{name: "battr/video list, HTML bid without mtype is a banner", setup: func(s *bidScenario) {
		s.imp().Video = &openrtb2.Video{MIMEs: []string{"video/mp4"}, BAttr: []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}}
		s.bid().Attr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}
	}, want: openrtb3.LossWon},
	{name: "battr/native list, native bid", setup: func(s *bidScenario) {
		nativeOnly(s)
		s.imp().Native.BAttr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}
		s.bid().Attr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}
		s.bid().MType = openrtb2.MarkupNative
		s.bid().AdM = nativeAd("https://cdn.example/i.png")
	}, want: openrtb3.LossAttributeExclusions},
	{name: "battr/native list, banner bid", setup: func(s *bidScenario) {
		s.imp().Native = &openrtb2.Native{Request: "{}", BAttr: []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}}
		s.bid().Attr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}
		s.bid().MType = openrtb2.MarkupBanner
	}, want: openrtb3.LossWon},
	{name: "battr/audio list, VAST bid without mtype on video and audio", setup: func(s *bidScenario) {
		s.imp().Banner = nil
		s.imp().Video = &openrtb2.Video{MIMEs: []string{"video/mp4"}}
		s.imp().Audio = &openrtb2.Audio{MIMEs: []string{"audio/mp4"}, BAttr: []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}}
		s.bid().W, s.bid().H = 0, 0
		s.bid().Attr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}
		s.bid().AdM = vastAd("https://cdn.example/a.mp3")
	}, want: openrtb3.LossAttributeExclusions},
	{name: "battr/audio list, audio bid", setup: func(s *bidScenario) {
		s.imp().Audio = &openrtb2.Audio{MIMEs: []string{"audio/mp4"}, BAttr: []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}}
		s.bid().Attr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}
		s.bid().MType = openrtb2.MarkupAudio
	}, want: openrtb3.LossAttributeExclusions},

	{name: "size/format", setup: func(s *bidScenario) { s.bid().W, s.bid().H = 728, 90 }, want: openrtb3.LossSizeNotAllowed},
	{name: "size/second format", setup: func(s *bidScenario) {
		s.imp().Banner.Format = append(s.imp().Banner.Format, openrtb2.Format{W: 728, H: 90})
		s.bid().W, s.bid().H = 728, 90
	}, want: openrtb3.LossWon},
	{name: "size/bid without size", setup: func(s *bidScenario) { s.bid().W, s.bid().H = 0, 0 }, want: openrtb3.LossWon},
	{name: "size/banner w h", setup: func(s *bidScenario) {
		s.imp().Banner = &openrtb2.Banner{W: ptr[int64](320), H: ptr[int64](50)}
		s.bid().W, s.bid().H = 300, 250
	}, want: openrtb3.LossSizeNotAllowed},
	{name: "size/banner w h, matching", setup: func(s *bidScenario) {
		s.imp().Banner = &openrtb2.Banner{W: ptr[int64](320), H: ptr[int64](50)}
		s.bid().W, s.bid().H = 320, 50
	}, want: openrtb3.LossWon},
	{name: "size/wmin-wmax inside", setup: func(s *bidScenario) {
		s.imp().Banner = &openrtb2.Banner{WMin: 300, WMax: 400, HMin: 200, HMax: 300}
		s.bid().W, s.bid().H = 350, 250
	}, want: openrtb3.LossWon},
	{name: "size/wmin-wmax too wide", setup: func(s *bidScenario) {
		s.imp().Banner = &openrtb2.Banner{WMin: 300, WMax: 400, HMin: 200, HMax: 300}
		s.bid().W, s.bid().H = 450, 250
	}, want: openrtb3.LossSizeNotAllowed},
	{name: "size/wmin-wmax too short", setup: func(s *bidScenario) {
		s.imp().Banner = &openrtb2.Banner{WMin: 300, WMax: 400, HMin: 200, HMax: 300}
		s.bid().W, s.bid().H = 350, 150
	}, want: openrtb3.LossSizeNotAllowed},
	{name: "size/wmin-wmax too tall", setup: func(s *bidScenario) {
		s.imp().Banner = &openrtb2.Banner{WMin: 300, WMax: 400, HMin: 200, HMax: 300}
		s.bid().W, s.bid().H = 350, 350
	}, want: openrtb3.LossSizeNotAllowed},
	{name: "size/ratio", setup: func(s *bidScenario) {
		s.imp().Banner.Format = []openrtb2.Format{{WRatio: 16, HRatio: 9, WMin: 320}}
		s.bid().W, s.bid().H = 640, 360
	}, want: openrtb3.LossWon},
	{name: "size/ratio, other ratio", setup: func(s *bidScenario) {
		s.imp().Banner.Format = []openrtb2.Format{{WRatio: 16, HRatio: 9, WMin: 320}}
		s.bid().W, s.bid().H = 640, 480
	}, want: openrtb3.LossSizeNotAllowed},
	{name: "size/ratio, below wmin", setup: func(s *bidScenario) {
		s.imp().Banner.Format = []openrtb2.Format{{WRatio: 16, HRatio: 9, WMin: 320}}
		s.bid().W, s.bid().H = 160, 90
	}, want: openrtb3.LossSizeNotAllowed},
	{name: "size/video bid on a multi-format imp", setup: func(s *bidScenario) {
		s.imp().Video = &openrtb2.Video{MIMEs: []string{"video/mp4"}}
		s.bid().W, s.bid().H, s.bid().MType = 640, 480, openrtb2.MarkupVideo
	}, want: openrtb3.LossWon},
	{name: "size/VAST without mtype on a multi-format imp", setup: func(s *bidScenario) {
		s.imp().Video = &openrtb2.Video{MIMEs: []string{"video/mp4"}}
		s.bid().W, s.bid().H = 640, 480
		s.bid().AdM = vastAd("https://cdn.example/v.mp4")
	}, want: openrtb3.LossWon},
	{name: "size/markup on the win notice on a multi-format imp", setup: func(s *bidScenario) {
		s.imp().Video = &openrtb2.Video{MIMEs: []string{"video/mp4"}}
		s.bid().W, s.bid().H = 640, 480
		s.bid().AdM, s.bid().NURL = "", "https://dsp.example/win"
	}, want: openrtb3.LossWon},
	// HTML markup can only be the banner: its size is checked (it used to
	// pass on an imp that also offers video).
	{name: "size/HTML without mtype on a multi-format imp", setup: func(s *bidScenario) {
		s.imp().Video = &openrtb2.Video{MIMEs: []string{"video/mp4"}}
		s.bid().W, s.bid().H = 640, 480
	}, want: openrtb3.LossSizeNotAllowed},

	{name: "secure/http adm", setup: func(s *bidScenario) {
		s.imp().Secure = ptr[int8](1)
		s.bid().AdM = `<img src="http://cdn.example/a.png">`
	}, want: openrtb3.LossNotSecure},
	// OpenRTB 2.6 §3.2.4 secure: "requires secure HTTPS URL creative
	// assets and markup", what the device loads. nurl and burl are called
	// by the exchange's servers and iurl is for ad quality review (§4.2.3):
	// none fails a secure imp (an http nurl and iurl used to lose with 207).
	{name: "secure/http nurl", setup: func(s *bidScenario) {
		s.imp().Secure = ptr[int8](1)
		s.bid().NURL = "http://dsp.example/win"
	}, want: openrtb3.LossWon},
	{name: "secure/http burl and lurl", setup: func(s *bidScenario) {
		s.imp().Secure = ptr[int8](1)
		s.bid().BURL = "http://dsp.example/bill"
		s.bid().LURL = "http://dsp.example/loss"
	}, want: openrtb3.LossWon},
	{name: "secure/HTTP iurl", setup: func(s *bidScenario) {
		s.imp().Secure = ptr[int8](1)
		s.bid().IURL = "HTTP://cdn.example/a.png"
	}, want: openrtb3.LossWon},
	{name: "secure/markup on the win notice", setup: func(s *bidScenario) {
		s.imp().Secure = ptr[int8](1)
		s.bid().AdM, s.bid().NURL = "", "http://dsp.example/win"
	}, want: openrtb3.LossWon},
	{name: "secure/VAST with an http tracker", setup: func(s *bidScenario) {
		videoOnly(s)
		s.imp().Secure = ptr[int8](1)
		s.bid().AdM = `<VAST version="4.2"><Ad><InLine><Impression>http://t.example/i</Impression>` +
			`<MediaFile>https://cdn.example/v.mp4</MediaFile></InLine></Ad></VAST>`
	}, want: openrtb3.LossNotSecure},
	{name: "secure/native with an escaped http asset", setup: func(s *bidScenario) {
		nativeOnly(s)
		s.imp().Secure = ptr[int8](1)
		s.bid().AdM = strings.ReplaceAll(nativeAd("http://cdn.example/i.png"), "/", `\/`)
	}, want: openrtb3.LossNotSecure},
	{name: "secure/native with an http tracker", setup: func(s *bidScenario) {
		nativeOnly(s)
		s.imp().Secure = ptr[int8](1)
		s.bid().AdM = `{"native":{"link":{"url":"https://brand.example/"},"imptrackers":["http://t.example/i"]}}`
	}, want: openrtb3.LossNotSecure},
	{name: "secure/native https everywhere", setup: func(s *bidScenario) {
		nativeOnly(s)
		s.imp().Secure = ptr[int8](1)
		s.bid().AdM = strings.ReplaceAll(nativeAd("https://cdn.example/i.png"), "/", `\/`)
	}, want: openrtb3.LossWon},
	{name: "secure/https everywhere", setup: func(s *bidScenario) {
		s.imp().Secure = ptr[int8](1)
		s.bid().AdM = `<img src="https://cdn.example/a.png">`
		s.bid().NURL = "https://dsp.example/win"
		s.bid().IURL = "https://cdn.example/a.png"
	}, want: openrtb3.LossWon},
	{name: "secure/VAST namespaces are not fetched", setup: func(s *bidScenario) {
		videoOnly(s)
		s.imp().Secure = ptr[int8](1)
		s.bid().AdM = `<VAST version="4.0" xmlns="http://www.iab.com/VAST" xmlns:xsi = 'http://www.w3.org/2001/XMLSchema-instance' ` +
			`xsi:noNamespaceSchemaLocation="http://www.w3.org/vast.xsd"><Ad><MediaFile>https://cdn.example/v.mp4</MediaFile></Ad></VAST>`
	}, want: openrtb3.LossWon},
	{name: "secure/VAST with an http media file", setup: func(s *bidScenario) {
		videoOnly(s)
		s.imp().Secure = ptr[int8](1)
		s.bid().AdM = `<VAST version="4.0" xmlns="http://www.iab.com/VAST"><Ad><MediaFile>http://cdn.example/v.mp4</MediaFile></Ad></VAST>`
	}, want: openrtb3.LossNotSecure},
	{name: "secure/http on a non-secure imp", setup: func(s *bidScenario) {
		s.imp().Secure = ptr[int8](0)
		s.bid().AdM = `<img src="http://cdn.example/a.png">`
	}, want: openrtb3.LossWon},

	{name: "floor/below", setup: func(s *bidScenario) { s.bid().Price = 0.499999 }, want: openrtb3.LossBelowAuctionFloor},
	{name: "floor/at", setup: func(s *bidScenario) { s.bid().Price = 0.5 }, want: openrtb3.LossWon, price: 500_000},
	{name: "floor/bidfloorcur converted, below", setup: func(s *bidScenario) {
		s.imp().BidFloor, s.imp().BidFloorCur = 1, "EUR"
		s.bid().Price = 1.199999
		s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"EUR>USD": 1.2})))
	}, want: openrtb3.LossBelowAuctionFloor},
	{name: "floor/bidfloorcur converted, at", setup: func(s *bidScenario) {
		s.imp().BidFloor, s.imp().BidFloorCur = 1, "EUR"
		s.bid().Price = 1.2
		s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"EUR>USD": 1.2})))
	}, want: openrtb3.LossWon, price: 1_200_000},
	{name: "floor/bid and floor both converted", setup: func(s *bidScenario) {
		s.req.Cur = []string{"USD", "EUR"}
		s.resp.Cur = "EUR"
		s.imp().BidFloor, s.imp().BidFloorCur = 1, "EUR"
		s.bid().Price = 0.999999
		s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"EUR>USD": 1.2})))
	}, want: openrtb3.LossBelowAuctionFloor},
	{name: "floor/deal, below", setup: func(s *bidScenario) {
		s.deal().BidFloor = 3
		s.bid().Price = 2.999999
	}, want: openrtb3.LossBelowDealFloor},
	{name: "floor/deal, at", setup: func(s *bidScenario) {
		s.deal().BidFloor = 3
		s.bid().Price = 3
	}, want: openrtb3.LossWon, price: 3_000_000},
	{name: "floor/deal floor replaces the imp floor", setup: func(s *bidScenario) {
		s.deal().BidFloor = 0.2
		s.bid().Price = 0.3
	}, want: openrtb3.LossWon, price: 300_000},
	{name: "floor/deal bidfloorcur converted, below", setup: func(s *bidScenario) {
		d := s.deal()
		d.BidFloor, d.BidFloorCur = 2, "GBP"
		s.bid().Price = 2.5
		s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"GBP>USD": 1.3})))
	}, want: openrtb3.LossBelowDealFloor},
	{name: "floor/deal bidfloorcur converted, at", setup: func(s *bidScenario) {
		d := s.deal()
		d.BidFloor, d.BidFloorCur = 2, "GBP"
		s.bid().Price = 2.6
		s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"GBP>USD": 1.3})))
	}, want: openrtb3.LossWon, price: 2_600_000},
	{name: "floor/open bid keeps the imp floor", setup: func(s *bidScenario) {
		s.deal().BidFloor = 0.2
		s.bid().DealID = ""
		s.bid().Price = 0.3
	}, want: openrtb3.LossBelowAuctionFloor},
}

// videoOnly makes the imp under test a video imp only.
func videoOnly(s *bidScenario) {
	s.imp().Banner, s.imp().Video = nil, &openrtb2.Video{MIMEs: []string{"video/mp4"}}
	s.bid().W, s.bid().H = 0, 0
}

// nativeOnly makes the imp under test a native imp only.
func nativeOnly(s *bidScenario) {
	s.imp().Banner, s.imp().Native = nil, &openrtb2.Native{Request: `{"ver":"1.2","assets":[{"id":1,"img":{"type":3}}]}`}
	s.bid().W, s.bid().H = 0, 0
}

// vastAd is a VAST 4 inline ad with one media file.
func vastAd(mediaURL string) string {
	return `<VAST version="4.2" xmlns="http://www.iab.com/VAST"><Ad id="1"><InLine><AdSystem>dsp</AdSystem>` +
		`<Impression>https://t.example/i</Impression><Creatives><Creative><Linear><Duration>00:00:15</Duration>` +
		`<MediaFiles><MediaFile delivery="progressive" type="video/mp4">` + mediaURL + `</MediaFile></MediaFiles>` +
		`</Linear></Creative></Creatives></InLine></Ad></VAST>`
}

// nativeAd is a native 1.2 response with one image asset.
func nativeAd(imgURL string) string {
	return `{"native":{"ver":"1.2","assets":[{"id":1,"img":{"url":"` + imgURL + `","w":1200,"h":627}}],` +
		`"link":{"url":"https://brand.example/"},"eventtrackers":[{"event":1,"method":1,"url":"https://t.example/i"}]}}`
}

func TestBidRules(t *testing.T) {
	for _, rule := range bidRules {
		t.Run(rule.name, func(t *testing.T) {
			s := newBidScenario()
			rule.setup(s)
			res, b := s.run(t)
			assert.Equal(t, rule.want, b.Loss, "loss reason")
			if rule.want != openrtb3.LossWon {
				assert.False(t, b.Won)
				assert.Zero(t, b.ClearMicros)
				if len(res.Bids) == 1 {
					assert.Nil(t, res.Winner("1"))
					assert.Equal(t, gavel.NoBidNoEligibleBids, res.NBR)
				}
				return
			}
			assert.True(t, b.Won)
			assert.Same(t, b, res.Winner("1"))
			if rule.price != 0 {
				assert.Equal(t, rule.price, b.PriceMicros, "price in the auction currency")
			}
			assert.Positive(t, b.ClearMicros)
			assert.LessOrEqual(t, b.ClearMicros, b.PriceMicros)
		})
	}
}

// TestBidRuleOrder checks the order of checkBid's rules: a bid that breaks
// two rules loses for the one checked first.
func TestBidRuleOrder(t *testing.T) {
	byName := make(map[string]bidRule, len(bidRules))
	for _, r := range bidRules {
		byName[r.name] = r
	}
	pairs := [][2]string{
		{"id/missing", "id/duplicate in seat"},
		{"id/duplicate in seat", "impid/unknown"},
		{"impid/unknown", "price/zero"},
		{"price/zero", "cur/not allowed"},
		{"cur/not allowed", "max/above default"},
		{"max/above default", "markup/none"},
		{"markup/none", "format/banner mtype on a video-only imp"},
		{"format/banner mtype on a video-only imp", "seat/bseat"},
		{"seat/bseat", "deal/unknown id"},
		{"deal/unknown id", "deal/floor currency without a rate"},
		{"deal/floor currency without a rate", "deal/wseat without the seat"},
		{"seat/bseat", "deal/wadomain without the domain"},
		{"deal/unknown id", "badv/exact"},
		{"deal/wseat without the seat", "deal/wadomain without the domain"},
		{"deal/wadomain without the domain", "badv/exact"},
		{"deal/private auction, open bid", "badv/exact"},
		{"badv/exact", "bapp/blocked"},
		{"bapp/blocked", "bcat/subcategory"},
		{"bapp/blocked", "acat/not allowed"},
		{"bapp/blocked", "cattax/bid in another taxonomy, bcat"},
		{"cattax/bid in another taxonomy, bcat", "battr/banner"},
		{"bcat/subcategory", "battr/banner"},
		{"battr/banner", "size/format"},
		{"size/format", "secure/http adm"},
		{"secure/http adm", "floor/below"},
		{"secure/http adm", "floor/deal, below"},
	}
	for _, p := range pairs {
		first, second := byName[p[0]], byName[p[1]]
		require.NotNil(t, first.setup, p[0])
		require.NotNil(t, second.setup, p[1])
		t.Run(p[0]+" before "+p[1], func(t *testing.T) {
			s := newBidScenario()
			second.setup(s)
			first.setup(s)
			_, b := s.run(t)
			assert.Equal(t, first.want, b.Loss)
		})
	}
}

// TestBidSeatBlockedBidder checks that a bidder whose own name wseat or
// bseat excludes is not called at all.
func TestBidSeatBlockedBidder(t *testing.T) {
	tests := []struct {
		name  string
		wseat []string
		bseat []string
	}{
		{name: "bseat", bseat: []string{"dsp"}},
		{name: "wseat", wseat: []string{"other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsp := auctiontest.Fixed("dsp", auctiontest.Bid("b1", "1", 2))
			other := auctiontest.Fixed("other", auctiontest.Bid("o1", "1", 1))
			req := rulesRequest("req-1", auctiontest.BannerImp("1", 0))
			req.WSeat, req.BSeat = tt.wseat, tt.bseat
			res := runAuction(t, req, gavel.WithBidders(dsp, other))
			assert.Zero(t, dsp.Calls())
			assert.Equal(t, gavel.StatusSeatBlocked, res.Bidders[0].Status)
			assert.Zero(t, res.Bidders[0].TMax)
			assert.Equal(t, gavel.StatusBid, res.Bidders[1].Status)
			require.NotNil(t, res.Winner("1"))
			assert.Equal(t, "other", res.Winner("1").Bidder)
		})
	}
}

// TestBidResponseIDMismatch checks that a response for another auction is
// refused as a whole, each of its bids with loss reason 5.
func TestBidResponseIDMismatch(t *testing.T) {
	req := rulesRequest("req-1", auctiontest.BannerImp("1", 0), auctiontest.BannerImp("2", 0))
	wrong := auctiontest.Response("req-0", "liar", auctiontest.Bid("l1", "1", 9), auctiontest.Bid("l2", "2", 9))
	res := runAuction(t, req, gavel.WithBidders(
		auctiontest.Prebuilt("liar", wrong),
		auctiontest.Fixed("honest", auctiontest.Bid("h1", "1", 1)),
	))

	br := res.Bidders[0]
	assert.Equal(t, gavel.StatusInvalidResponse, br.Status)
	assert.ErrorIs(t, br.Err, gavel.ErrInvalidResponse)
	assert.Equal(t, 2, br.Bids)
	require.Len(t, res.Bids, 3)
	for _, b := range res.Bids[:2] {
		assert.Equal(t, "liar", b.Bidder)
		assert.Equal(t, openrtb3.LossInvalidAuctionID, b.Loss)
		assert.False(t, b.Won)
		assert.Equal(t, int64(-1), b.MinToWinMicros)
	}
	w := res.Winner("1")
	require.NotNil(t, w)
	assert.Equal(t, "honest", w.Bidder)
	assert.Equal(t, int64(10_000), w.ClearMicros, "the refused bids do not set the price")
	assert.Nil(t, res.Winner("2"))
}

// TestBidDuplicateIDs checks that a duplicate bid loses while the first
// bid with that id takes part. OpenRTB 2.6 §4.2.3 bid.id is the "Bidder
// generated bid ID to assist with logging/tracking": two bids for
// different imps may share it (the second used to lose with 503). A
// duplicate is the same seat, imp and bid id.
func TestBidDuplicateIDs(t *testing.T) {
	req := rulesRequest("req-1", auctiontest.BannerImp("1", 0), auctiontest.BannerImp("2", 0))
	res := runAuction(t, req, gavel.WithBidders(auctiontest.Fixed("dsp",
		auctiontest.Bid("x", "1", 1), auctiontest.Bid("x", "2", 5), auctiontest.Bid("y", "2", 2),
		auctiontest.Bid("x", "2", 9))))
	require.Len(t, res.Bids, 4)
	assert.Equal(t, []openrtb3.LossReason{openrtb3.LossWon, openrtb3.LossWon, openrtb3.LossLostToHigherBid, gavel.LossDuplicateBid},
		[]openrtb3.LossReason{res.Bids[0].Loss, res.Bids[1].Loss, res.Bids[2].Loss, res.Bids[3].Loss})
	assert.Equal(t, "x", res.Winner("1").Bid.ID)
	assert.Same(t, &res.Bids[1], res.Winner("2"))
}

// TestBidNotModified checks that validation leaves the bidders' bids as
// they sent them, also when it converts their price.
func TestBidNotModified(t *testing.T) {
	s := newBidScenario()
	s.req.Cur = []string{"USD", "EUR"}
	s.resp.Cur = "EUR"
	s.opts = append(s.opts, gavel.WithCurrencyConverter(rates(map[string]float64{"EUR>USD": 1.1})))
	before := *s.bid()
	res, b := s.run(t)
	assert.Equal(t, before, *s.bid())
	assert.Same(t, s.bid(), b.Bid)
	assert.Equal(t, 2.0, b.Bid.Price)
	assert.Equal(t, int64(2_200_000), b.PriceMicros)
	assert.Equal(t, int64(510_000), b.ClearMicros)
	resp := res.BidResponse()
	require.Len(t, resp.SeatBid, 1)
	assert.Equal(t, 0.51, resp.SeatBid[0].Bid[0].Price, "the response has the clearing price in the auction currency")
	assert.Equal(t, "USD", resp.Cur)
	assert.Equal(t, 2.0, s.bid().Price)
}

// TestNoBidResponses checks OpenRTB 2.6 §7.1 (No-Bid Signaling) for
// in-process bidders: an empty object, an empty seatbid, seatbids without
// bids, a response with only a no-bid reason, and a response without bids
// whose id is not the request's (it used to be an invalid response) are
// all plain no-bids, as they are for an HTTP bidder (HTTPBidder returns nil
// for them): not an invalid response, not an error in the bidder's health,
// and the auction's reason is no demand, not a technical error.
func TestNoBidResponses(t *testing.T) {
	tests := []struct {
		name string
		resp *openrtb2.BidResponse
	}{
		{"empty object {}", &openrtb2.BidResponse{}},
		{"empty seatbid", &openrtb2.BidResponse{ID: "req-1", SeatBid: []openrtb2.SeatBid{}}},
		{"seatbids without bids", &openrtb2.BidResponse{ID: "req-1", SeatBid: []openrtb2.SeatBid{{Seat: "x"}, {}}}},
		{"nbr only", &openrtb2.BidResponse{ID: "req-1", NBR: ptr(openrtb3.NoBidUnmatchedUser)}},
		{"another id, no bids", &openrtb2.BidResponse{ID: "some-other-auction", BidID: "x"}},
		{"nil", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := mustAuction(t, gavel.WithBidders(auctiontest.Prebuilt("dsp", tt.resp)))
				res, _ := timedRun(t, context.Background(), a, rulesRequest("req-1", auctiontest.BannerImp("1", 0.5)))
				br := res.Bidders[0]
				assert.Equal(t, gavel.StatusNoBid, br.Status)
				assert.NoError(t, br.Err)
				assert.Zero(t, br.Bids)
				assert.Empty(t, res.Bids)
				assert.Equal(t, gavel.NoBidNoDemand, res.NBR)
				h, ok := a.BidderHealth("dsp")
				require.True(t, ok)
				assert.Equal(t, int64(1), h.NoBids)
				assert.Zero(t, h.Errors, "a no-bid is not an error of the bidder")
			})
		})
	}

	t.Run("another id with bids is still invalid", func(t *testing.T) {
		resp := auctiontest.Response("some-other-auction", "dsp", auctiontest.Bid("b1", "1", 2))
		res := runAuction(t, rulesRequest("req-1", auctiontest.BannerImp("1", 0.5)),
			gavel.WithBidders(auctiontest.Prebuilt("dsp", resp)))
		assert.Equal(t, gavel.StatusInvalidResponse, res.Bidders[0].Status)
		require.Len(t, res.Bids, 1)
		assert.Equal(t, openrtb3.LossInvalidAuctionID, res.Bids[0].Loss)
	})
}
