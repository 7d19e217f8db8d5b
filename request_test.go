package gavel_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
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

// validRequest is a request that passes validation, for the cases below to
// break: two imps, the second with two deals.
func validRequest() *openrtb2.BidRequest {
	imp2 := auctiontest.VideoImp("2", 1)
	imp2.PMP = &openrtb2.PMP{Deals: []openrtb2.Deal{
		{ID: "d1", BidFloor: 2, BidFloorCur: "USD"},
		{ID: "d2", BidFloor: 3, AT: 3},
	}}
	return rulesRequest("req-1", auctiontest.BannerImp("1", 0.5, [2]int64{300, 250}), imp2)
}

func TestRequestValidation(t *testing.T) {
	tests := []struct {
		name  string
		req   func(r *openrtb2.BidRequest) *openrtb2.BidRequest
		opts  []gavel.Option
		msg   string // in RequestError.Msg, or the CurrencyError's message with noCur
		valid bool
		// noCur: a valid request that no allowed currency can hold gets a
		// technical no-bid (*CurrencyError, no-bid reason 1), not an
		// invalid request (OpenRTB 2.6 §3.2.1 cur).
		noCur bool
	}{
		{name: "valid", valid: true, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest { return r }},
		{name: "nil request", msg: "nil request", req: func(*openrtb2.BidRequest) *openrtb2.BidRequest { return nil }},
		{name: "missing id", msg: "missing id", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.ID = ""
			return r
		}},
		{name: "no imps", msg: "no imps", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp = nil
			return r
		}},
		{name: "empty imps", msg: "no imps", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp = []openrtb2.Imp{}
			return r
		}},
		{name: "missing imp id", msg: "imp[1]: missing id", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[1].ID = ""
			return r
		}},
		{name: "duplicate imp id", msg: `imp[1]: duplicate id "1"`, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[1].ID = "1"
			return r
		}},
		{name: "negative tmax", msg: "negative tmax", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.TMax = -1
			return r
		}},
		{name: "zero tmax is the default", valid: true, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.TMax = 0
			return r
		}},
		{name: "at=3 on the request", msg: "at=3", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.AT = 3
			return r
		}},
		{name: "negative at", msg: "at=-1", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.AT = -1
			return r
		}},
		{name: "exchange-specific at", msg: "at=500", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.AT = 500
			return r
		}},
		{name: "first price", valid: true, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.AT = 1
			return r
		}},
		{name: "empty currency", msg: "cur[0]: empty currency", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Cur = []string{""}
			return r
		}},
		{name: "empty currency after another", msg: "cur[1]: empty currency", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Cur = []string{"USD", ""}
			return r
		}},
		{name: "no cur is USD", valid: true, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Cur = nil
			return r
		}},
		{name: "negative imp floor", msg: "imp[0]: bidfloor", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[0].BidFloor = -0.01
			return r
		}},
		{name: "NaN imp floor", msg: "imp[0]: bidfloor", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[0].BidFloor = math.NaN()
			return r
		}},
		{name: "+Inf imp floor", msg: "imp[0]: bidfloor", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[0].BidFloor = math.Inf(1)
			return r
		}},
		{name: "-Inf imp floor", msg: "imp[0]: bidfloor", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[0].BidFloor = math.Inf(-1)
			return r
		}},
		// A floor that no rate converts used to make the request invalid.
		{name: "imp floor in another currency without converter", noCur: true,
			msg: "gavel: no auction currency: USD: imp[0]: bidfloor in EUR: no exchange rate: EUR to USD (no converter)",
			req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
				r.Imp[0].BidFloorCur = "EUR"
				return r
			}},
		{name: "imp floor in USD by default in a EUR auction", noCur: true,
			msg: "gavel: no auction currency: EUR: imp[0]: bidfloor in USD: no exchange rate: USD to EUR (no converter)",
			req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
				r.Cur = []string{"EUR"}
				r.Imp[0].BidFloorCur = ""
				r.Imp[1].BidFloorCur, r.Imp[1].PMP.Deals[0].BidFloorCur, r.Imp[1].PMP.Deals[1].BidFloorCur = "EUR", "EUR", "EUR"
				return r
			}},
		{name: "imp floor in another currency, converter without the rate", noCur: true,
			msg:  "gavel: no auction currency: USD: imp[0]: bidfloor in EUR: no exchange rate",
			opts: []gavel.Option{gavel.WithCurrencyConverter(rates(map[string]float64{"GBP>USD": 1.3}))},
			req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
				r.Imp[0].BidFloorCur = "EUR"
				return r
			}},
		{name: "floors in two currencies, each allowed, no converter", noCur: true,
			msg: "gavel: no auction currency: EUR: imp[1]: bidfloor in USD: no exchange rate: USD to EUR (no converter); " +
				"USD: imp[0]: bidfloor in EUR: no exchange rate: EUR to USD (no converter)",
			req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
				r.Cur = []string{"EUR", "USD"}
				r.Imp[0].BidFloorCur = "EUR"
				return r
			}},
		{name: "imp floors in an allowed currency other than the first", valid: true,
			req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
				r.Cur = []string{"EUR", "USD"}
				return r
			}},
		{name: "zero imp floor in another currency", valid: true, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[0].BidFloor, r.Imp[0].BidFloorCur = 0, "EUR"
			return r
		}},
		{name: "negative deal floor", msg: "imp[1]: deal[0]", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[1].PMP.Deals[0].BidFloor = -1
			return r
		}},
		{name: "NaN deal floor", msg: "imp[1]: deal[0]", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[1].PMP.Deals[0].BidFloor = math.NaN()
			return r
		}},
		// OpenRTB 2.6 §3.2.12: a deal whose floor cannot be converted is
		// unusable, not the request (it used to be invalid).
		{name: "deal floor in another currency without converter", valid: true, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[1].PMP.Deals[0].BidFloorCur = "EUR"
			return r
		}},
		{name: "deal without id", msg: "imp[1]: deal[1]: missing id", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[1].PMP.Deals[1].ID = ""
			return r
		}},
		{name: "duplicate deal id", msg: `imp[1]: deal[1]: duplicate id "d1"`, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[1].PMP.Deals[1].ID = "d1"
			return r
		}},
		{name: "same deal id on two imps", valid: true, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[0].PMP = &openrtb2.PMP{Deals: []openrtb2.Deal{{ID: "d1"}}}
			return r
		}},
		{name: "deal at=4", msg: "imp[1]: deal[0]: unsupported auction type at=4", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[1].PMP.Deals[0].AT = 4
			return r
		}},
		{name: "negative deal at", msg: "imp[1]: deal[0]: unsupported auction type at=-1", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[1].PMP.Deals[0].AT = -1
			return r
		}},
		{name: "deal at=3 without price", msg: "imp[1]: deal[1]: a fixed-price deal", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[1].PMP.Deals[1].BidFloor = 0
			return r
		}},
		{name: "deal at=1 without floor", valid: true, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[1].PMP.Deals[0].AT, r.Imp[1].PMP.Deals[0].BidFloor = 1, 0
			return r
		}},

		// OpenRTB 2.6 §3.2.4: the presence of banner, video, audio or
		// native "indicates the type of impression being offered".
		{name: "imp without media", msg: "imp[0]: none of banner, video, audio and native", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[0].Banner = nil
			return r
		}},
		{name: "audio imp", valid: true, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[0].Banner, r.Imp[0].Audio = nil, &openrtb2.Audio{MIMEs: []string{"audio/mp4"}}
			return r
		}},
		{name: "native imp", valid: true, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[0].Banner, r.Imp[0].Native = nil, &openrtb2.Native{Request: `{"ver":"1.2","assets":[]}`}
			return r
		}},
		{name: "multi-format imp", valid: true, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[0].Video = &openrtb2.Video{MIMEs: []string{"video/mp4"}}
			r.Imp[0].Native = &openrtb2.Native{Request: `{"ver":"1.2","assets":[]}`}
			return r
		}},
		// §3.2.7 video.mimes, §3.2.8 audio.mimes: "string array; required";
		// §3.2.9 native.request: "string; required".
		{name: "video without mimes", msg: "imp[1]: video.mimes: missing", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[1].Video.MIMEs = nil
			return r
		}},
		{name: "audio without mimes", msg: "imp[0]: audio.mimes: missing", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[0].Audio = &openrtb2.Audio{}
			return r
		}},
		{name: "native without request", msg: "imp[0]: native.request: missing", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Imp[0].Native = &openrtb2.Native{Ver: "1.2"}
			return r
		}},
		// §3.2.13, §3.2.14: "A bid request must not contain more than one of
		// a Site, App or DOOH object."
		{name: "site", valid: true, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Site = &openrtb2.Site{Domain: "pub.example"}
			return r
		}},
		{name: "dooh", valid: true, req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.DOOH = &openrtb2.DOOH{ID: "screen-1"}
			return r
		}},
		{name: "site and app", msg: "more than one of site, app and dooh: site, app", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Site, r.App = &openrtb2.Site{}, &openrtb2.App{}
			return r
		}},
		{name: "app and dooh", msg: "more than one of site, app and dooh: app, dooh", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.App, r.DOOH = &openrtb2.App{}, &openrtb2.DOOH{}
			return r
		}},
		{name: "site, app and dooh", msg: "more than one of site, app and dooh: site, app, dooh", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Site, r.App, r.DOOH = &openrtb2.Site{}, &openrtb2.App{}, &openrtb2.DOOH{}
			return r
		}},
		{name: "site and dooh", msg: "more than one of site, app and dooh: site, dooh", req: func(r *openrtb2.BidRequest) *openrtb2.BidRequest {
			r.Site, r.DOOH = &openrtb2.Site{}, &openrtb2.DOOH{}
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dsp := auctiontest.Fixed("dsp", auctiontest.Bid("b1", "1", 2))
				a := mustAuction(t, append([]gavel.Option{gavel.WithBidders(dsp)}, tt.opts...)...)
				req := tt.req(validRequest())
				before := snapshot(req)

				res, err := a.Run(context.Background(), req)

				if before != nil {
					assert.JSONEq(t, string(before), string(snapshot(req)), "the request was modified")
				}
				if tt.valid {
					require.NoError(t, err)
					require.NotNil(t, res)
					assert.Equal(t, int64(1), dsp.Calls())
					return
				}
				assert.Nil(t, res)
				if tt.noCur {
					requireNoCurrency(t, err, tt.msg)
					assert.Zero(t, dsp.Calls(), "a bidder was called for a request without currency")
					assert.Equal(t, gavel.Stats{NoCurrency: 1}, a.Stats())
					return
				}
				assert.Equal(t, gavel.Stats{InvalidRequests: 1}, a.Stats())
				require.Error(t, err)
				assert.ErrorIs(t, err, gavel.ErrInvalidRequest)
				var re *gavel.RequestError
				require.True(t, errors.As(err, &re), "%T is not a *RequestError", err)
				assert.Equal(t, openrtb3.NoBidInvalidRequest, re.Reason)
				assert.Contains(t, re.Msg, tt.msg)
				assert.Contains(t, err.Error(), "gavel: invalid bid request: ")
				assert.Zero(t, dsp.Calls(), "a bidder was called for an invalid request")
			})
		})
	}
}

// requireNoCurrency checks that err is a *CurrencyError with the given
// message: a technical no-bid, not an invalid request.
func requireNoCurrency(t *testing.T, err error, msg string) {
	t.Helper()
	var ce *gavel.CurrencyError
	require.True(t, errors.As(err, &ce), "%T is not a *CurrencyError: %v", err, err)
	assert.Equal(t, openrtb3.NoBidTechnicalError, ce.Reason)
	assert.ErrorIs(t, err, gavel.ErrNoCurrency)
	assert.ErrorIs(t, err, gavel.ErrNoRate)
	assert.NotErrorIs(t, err, gavel.ErrInvalidRequest)
	assert.Equal(t, msg, err.Error())
}

// snapshot returns the JSON of req, or nil when it has none (NaN floors).
func snapshot(req *openrtb2.BidRequest) []byte {
	if req == nil {
		return nil
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil
	}
	return b
}

// TestRequestFloorsConverted checks that floors in other currencies are
// converted to micros of the auction currency exactly, with rounding half
// away from zero.
func TestRequestFloorsConverted(t *testing.T) {
	conv := gavel.WithCurrencyConverter(rates(map[string]float64{
		"EUR>USD": 1.1, "GBP>USD": 1.25, "USD>EUR": 0.5, "JPY>USD": 0.0067,
	}))
	tests := []struct {
		name  string
		cur   string // the auction currency
		floor float64
		fcur  string
		want  int64
	}{
		{name: "same currency", cur: "USD", floor: 1.23, fcur: "USD", want: 1_230_000},
		{name: "empty bidfloorcur is USD", cur: "USD", floor: 1.23, want: 1_230_000},
		{name: "EUR to USD", cur: "USD", floor: 1, fcur: "EUR", want: 1_100_000},
		{name: "EUR to USD, cents", cur: "USD", floor: 2.35, fcur: "EUR", want: 2_585_000},
		{name: "GBP to USD", cur: "USD", floor: 0.8, fcur: "GBP", want: 1_000_000},
		{name: "JPY to USD", cur: "USD", floor: 150, fcur: "JPY", want: 1_005_000},
		{name: "USD to EUR by default", cur: "EUR", floor: 3, want: 1_500_000},
		{name: "half a micro rounds away from zero", cur: "EUR", floor: 0.000003, fcur: "USD", want: 2},
		{name: "zero needs no rate", cur: "USD", floor: 0, fcur: "XXX", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imp := auctiontest.BannerImp("1", tt.floor)
			imp.BidFloorCur = tt.fcur
			req := rulesRequest("req-1", imp)
			req.Cur = []string{tt.cur}
			res := runAuction(t, req, conv)
			require.Len(t, res.Imps, 1)
			assert.Equal(t, tt.want, res.Imps[0].FloorMicros)
			assert.Equal(t, tt.cur, res.Currency)
		})
	}

	t.Run("deal floor", func(t *testing.T) {
		imp := auctiontest.BannerImp("1", 0)
		imp.PMP = &openrtb2.PMP{Deals: []openrtb2.Deal{{ID: "fixed", AT: 3, BidFloor: 2.35, BidFloorCur: "EUR"}}}
		req := rulesRequest("req-1", imp)
		bid := auctiontest.Bid("b1", "1", 5)
		bid.DealID = "fixed"
		res := runAuction(t, req, conv, gavel.WithBidders(auctiontest.Fixed("dsp", bid)))
		w := res.Winner("1")
		require.NotNil(t, w)
		assert.Equal(t, int64(2_585_000), w.ClearMicros, "a fixed-price deal pays its converted price")
	})
}

// TestRequestNotModified checks that Run leaves the caller's request as it
// was, through a busy auction and everything done with its result.
func TestRequestNotModified(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		imp1 := auctiontest.BannerImp("1", 0.5, [2]int64{300, 250}, [2]int64{728, 90})
		imp1.Secure = ptr[int8](1)
		imp1.Banner.BAttr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto}
		imp2 := auctiontest.VideoImp("2", 1)
		imp2.BidFloorCur = "EUR"
		imp2.PMP = &openrtb2.PMP{PrivateAuction: 1, Deals: []openrtb2.Deal{
			{ID: "d1", BidFloor: 2, AT: 1, WSeat: []string{"b2", "b3"}},
			{ID: "d2", BidFloor: 3, AT: 3, WADomain: []string{"brand.example"}},
		}}
		imp3 := auctiontest.BannerImp("3", 0)
		imp3.Qty = &openrtb2.Qty{Multiplier: 2}
		req := rulesRequest("req-1", imp1, imp2, imp3)
		req.Cur = []string{"USD", "EUR"}
		req.AT = 2
		req.TMax = 900
		req.BAdv = []string{"blocked.example"}
		req.BCat = []string{"IAB25"}
		req.BSeat = []string{"nobody"}
		req.Site = &openrtb2.Site{ID: "site", Domain: "pub.example"}
		req.User = &openrtb2.User{ID: "u1"}
		req.Device = &openrtb2.Device{UA: "ua", IP: "192.0.2.1"}

		bid := func(id, imp string, price float64, deal string) openrtb2.Bid {
			b := auctiontest.Bid(id, imp, price)
			b.DealID = deal
			b.ADomain = []string{"brand.example"}
			b.NURL = "https://dsp.example/win?p=${AUCTION_PRICE}"
			b.LURL = "https://dsp.example/loss?r=${AUCTION_LOSS}"
			return b
		}
		var bidders []gavel.Bidder
		for i := range 8 {
			name := "b" + string(rune('0'+i))
			bidders = append(bidders, auctiontest.Fixed(name,
				bid(name+"-1", "1", 1+float64(i)/10, ""),
				bid(name+"-2", "2", 2+float64(i)/10, "d1"),
				bid(name+"-3", "2", 3+float64(i)/10, "d2"),
				bid(name+"-4", "3", 0.1*float64(i+1), ""),
			))
		}
		bidders = append(bidders, auctiontest.NoBid("nobid"), auctiontest.Error("err", errors.New("boom")),
			auctiontest.Panic("panic", "boom"))
		a := mustAuction(t, gavel.WithBidders(bidders...),
			gavel.WithCurrencyConverter(rates(map[string]float64{"EUR>USD": 1.1})))

		before := snapshot(req)
		require.NotNil(t, before)
		for range 3 {
			res, err := a.Run(context.Background(), req)
			require.NoError(t, err)
			require.True(t, res.HasWinner())
			require.NotNil(t, res.BidResponse())
			for i := range res.Bids {
				res.LossURL(i)
			}
			assert.JSONEq(t, string(before), string(snapshot(req)))
		}
	})
}

// TestAuctionCurrency checks how the auction currency is chosen. OpenRTB
// 2.6 §3.2.1 cur: "Array of allowed currencies for bids on this bid
// request": a set, not an order. Among them gavel takes, in the request's
// order, the first that every floor converts to (§3.2.4 bidfloorcur, USD
// when absent), imp and deal; then the first that every imp floor converts
// to, leaving the deals that do not unusable (§3.2.12: a deal's
// bidfloorcur is USD when absent, not the imp's). A valid request is never
// refused for its currency when some allowed currency works.
func TestAuctionCurrency(t *testing.T) {
	eurUSD := gavel.WithCurrencyConverter(rates(map[string]float64{"EUR>USD": 1.1, "USD>EUR": 0.9}))
	tests := []struct {
		name      string
		cur       []string
		floorCur  string // imp 1's bidfloorcur, floor 1.00
		noFloor   bool   // imp 1 has no floor
		dealCur   string // its deal's bidfloorcur, floor 2.00; "-": no deal
		opts      []gavel.Option
		want      string // the auction currency
		dealLoses bool   // the deal is unusable: its bid loses with 509
	}{
		{name: "no cur is USD", floorCur: "USD", dealCur: "-", want: "USD"},
		{name: "the first allowed currency", cur: []string{"EUR", "USD"}, floorCur: "EUR", dealCur: "-", want: "EUR"},
		{name: "floors in USD, no converter: USD", cur: []string{"EUR", "USD"}, floorCur: "USD", dealCur: "-", want: "USD"},
		{name: "floors in USD by default, no converter: USD", cur: []string{"EUR", "USD"}, dealCur: "-", want: "USD"},
		{name: "floors in USD, converter: the first", cur: []string{"EUR", "USD"}, floorCur: "USD", dealCur: "-",
			opts: []gavel.Option{eurUSD}, want: "EUR"},
		{name: "a deal in USD by default, not the imp's EUR", cur: []string{"EUR", "USD"}, floorCur: "EUR", dealCur: "", want: "EUR",
			dealLoses: true},
		{name: "a deal in USD moves a free imp to USD", cur: []string{"EUR", "USD"}, noFloor: true, dealCur: "USD", want: "USD"},
		{name: "every floor in USD: USD", cur: []string{"EUR", "USD"}, floorCur: "USD", dealCur: "USD", want: "USD"},
		{name: "an imp floor outweighs a deal", cur: []string{"EUR", "USD"}, floorCur: "EUR", dealCur: "USD", want: "EUR",
			dealLoses: true},
		{name: "a deal in a currency of no rate", cur: []string{"USD"}, floorCur: "USD", dealCur: "JPY", want: "USD",
			dealLoses: true},
		{name: "a deal in a currency of no rate, converter", cur: []string{"USD", "EUR"}, floorCur: "EUR", dealCur: "JPY",
			opts: []gavel.Option{eurUSD}, want: "USD", dealLoses: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imp := auctiontest.BannerImp("1", 1)
			imp.BidFloorCur = tt.floorCur
			if tt.noFloor {
				imp.BidFloor = 0
			}
			dealBid := auctiontest.Bid("deal-bid", "1", 5)
			if tt.dealCur != "-" {
				imp.PMP = &openrtb2.PMP{Deals: []openrtb2.Deal{{ID: "d", BidFloor: 2, BidFloorCur: tt.dealCur}}}
				dealBid.DealID = "d"
			}
			req := rulesRequest("req-1", imp)
			req.Cur = tt.cur
			resp := auctiontest.Response("req-1", "dsp", dealBid, auctiontest.Bid("open-bid", "1", 4))
			resp.Cur = tt.want
			res := runAuction(t, req, append([]gavel.Option{gavel.WithBidders(auctiontest.Prebuilt("dsp", resp))}, tt.opts...)...)
			require.NotNil(t, res)
			assert.Equal(t, tt.want, res.Currency)
			if tt.dealLoses {
				assert.Equal(t, gavel.LossDealCurrency, res.Bids[0].Loss, "the deal's bid")
				assert.Equal(t, openrtb3.LossWon, res.Bids[1].Loss, "the open market stands")
			} else {
				assert.Equal(t, openrtb3.LossWon, res.Bids[0].Loss)
			}
		})
	}
}

// TestNoCurrencyIsATechnicalNoBid checks that a valid request whose floors
// no allowed currency can hold is answered with a technical no-bid naming
// the missing rates, counted apart from invalid requests.
func TestNoCurrencyIsATechnicalNoBid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dsp := auctiontest.Fixed("dsp", auctiontest.Bid("b1", "1", 2))
		a := mustAuction(t, gavel.WithBidders(dsp), gavel.WithCurrencyConverter(rates(map[string]float64{"EUR>USD": 1.1})))
		imp := auctiontest.BannerImp("1", 150)
		imp.BidFloorCur = "JPY"
		req := rulesRequest("req-1", imp)
		req.Cur = []string{"USD", "EUR"}
		res, err := a.Run(context.Background(), req)
		assert.Nil(t, res)
		requireNoCurrency(t, err, "gavel: no auction currency: USD: imp[0]: bidfloor in JPY: no exchange rate; "+
			"EUR: imp[0]: bidfloor in JPY: no exchange rate")
		var ce *gavel.CurrencyError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, []string{"USD", "EUR"}, ce.Tried)
		assert.Len(t, ce.Errs, 2)
		assert.Zero(t, dsp.Calls())

		_, err = a.Run(context.Background(), &openrtb2.BidRequest{})
		require.ErrorIs(t, err, gavel.ErrInvalidRequest)
		_, err = a.Run(context.Background(), rulesRequest("req-2", auctiontest.BannerImp("1", 1)))
		require.NoError(t, err)
		assert.Equal(t, gavel.Stats{Auctions: 1, InvalidRequests: 1, NoCurrency: 1}, a.Stats())
	})
}
