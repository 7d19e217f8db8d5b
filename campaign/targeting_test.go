package campaign_test

import (
	"context"
	"testing"
	"time"

	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// baseRequest is a site request from an iPhone in California with one
// 300x250 banner imp, a user in segment s1.
func baseRequest() *openrtb2.BidRequest {
	req := auctiontest.Request("r1", auctiontest.BannerImp("1", 0.5, [2]int64{300, 250}))
	req.Site = &openrtb2.Site{Domain: "pub.example"}
	req.Device = &openrtb2.Device{OS: "iOS", DeviceType: adcom1.DevicePhone, Geo: &openrtb2.Geo{Country: "USA", Region: "CA"}}
	req.User = &openrtb2.User{ID: "u1", Data: []openrtb2.Data{{Segment: []openrtb2.Segment{{ID: "s1"}}}}}
	return req
}

func app(req *openrtb2.BidRequest, bundle string) {
	req.Site = nil
	req.App = &openrtb2.App{Bundle: bundle}
}

func videoImp(req *openrtb2.BidRequest, lo, hi int64, protocols ...adcom1.MediaCreativeSubtype) {
	req.Imp[0] = auctiontest.VideoImp("1", 0.5)
	req.Imp[0].Video.MinDuration, req.Imp[0].Video.MaxDuration, req.Imp[0].Video.Protocols = lo, hi, protocols
}

func creative(c *campaign.Campaign, cr campaign.Creative) {
	if cr.Markup == "" {
		cr.Markup = "<ad/>"
	}
	c.Creatives = []campaign.Creative{cr}
}

func deal(req *openrtb2.BidRequest, private int8, ids ...string) {
	pmp := &openrtb2.PMP{PrivateAuction: private}
	for _, id := range ids {
		pmp.Deals = append(pmp.Deals, openrtb2.Deal{ID: id, BidFloor: 1, BidFloorCur: "USD"})
	}
	req.Imp[0].PMP = pmp
}

// TestTargeting checks every targeting dimension and every block with a
// request that matches and one that does not.
func TestTargeting(t *testing.T) {
	monday := time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC) // 09:30 in New York
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	tests := []struct {
		name      string
		campaign  func(*campaign.Campaign)
		match, no func(*openrtb2.BidRequest)
	}{
		{"country", func(c *campaign.Campaign) { c.Targeting.Countries = []string{"usa"} },
			func(*openrtb2.BidRequest) {}, func(r *openrtb2.BidRequest) { r.Device.Geo.Country = "CAN" }},
		{"country from user.geo", func(c *campaign.Campaign) { c.Targeting.Countries = []string{"GBR"} },
			func(r *openrtb2.BidRequest) { r.Device.Geo = nil; r.User.Geo = &openrtb2.Geo{Country: "GBR"} },
			func(r *openrtb2.BidRequest) { r.Device.Geo = nil; r.User.Geo = &openrtb2.Geo{Country: "FRA"} }},
		{"region", func(c *campaign.Campaign) { c.Targeting.Regions = []string{"CA", "NY"} },
			func(*openrtb2.BidRequest) {}, func(r *openrtb2.BidRequest) { r.Device.Geo.Region = "TX" }},
		{"device type", func(c *campaign.Campaign) { c.Targeting.DeviceTypes = []adcom1.DeviceType{adcom1.DevicePhone} },
			func(*openrtb2.BidRequest) {}, func(r *openrtb2.BidRequest) { r.Device.DeviceType = adcom1.DevicePC }},
		{"os", func(c *campaign.Campaign) { c.Targeting.OS = []string{"ios"} },
			func(*openrtb2.BidRequest) {}, func(r *openrtb2.BidRequest) { r.Device.OS = "Android" }},
		{"domain allow-list", func(c *campaign.Campaign) { c.Targeting.Domains = []string{"PUB.example"} },
			func(*openrtb2.BidRequest) {}, func(r *openrtb2.BidRequest) { r.Site.Domain = "other.example" }},
		{"domain block-list", func(c *campaign.Campaign) { c.Targeting.BlockedDomains = []string{"bad.example"} },
			func(*openrtb2.BidRequest) {}, func(r *openrtb2.BidRequest) { r.Site.Domain = "bad.example" }},
		{"bundle allow-list", func(c *campaign.Campaign) { c.Targeting.Bundles = []string{"com.game"} },
			func(r *openrtb2.BidRequest) { app(r, "com.game") }, func(r *openrtb2.BidRequest) { app(r, "com.other") }},
		{"bundle allow-list refuses sites", func(c *campaign.Campaign) { c.Targeting.Bundles = []string{"com.game"} },
			func(r *openrtb2.BidRequest) { app(r, "com.game") }, func(*openrtb2.BidRequest) {}},
		{"bundle block-list", func(c *campaign.Campaign) { c.Targeting.BlockedBundles = []string{"com.bad"} },
			func(r *openrtb2.BidRequest) { app(r, "com.game") }, func(r *openrtb2.BidRequest) { app(r, "com.bad") }},
		{"segments", func(c *campaign.Campaign) { c.Targeting.Segments = []string{"s9", "s1"} },
			func(*openrtb2.BidRequest) {}, func(r *openrtb2.BidRequest) { r.User.Data[0].Segment[0].ID = "s2" }},
		{"deal", func(c *campaign.Campaign) { c.Targeting.Deals = []string{"d1"} },
			func(r *openrtb2.BidRequest) { deal(r, 1, "d0", "d1") }, func(r *openrtb2.BidRequest) { deal(r, 0, "d2") }},
		{"deal-only campaign skips open auction", func(c *campaign.Campaign) { c.Targeting.Deals = []string{"d1"} },
			func(r *openrtb2.BidRequest) { deal(r, 0, "d1") }, func(*openrtb2.BidRequest) {}},
		{"open campaign skips private auction", func(*campaign.Campaign) {},
			func(r *openrtb2.BidRequest) { deal(r, 0, "d1") }, func(r *openrtb2.BidRequest) { deal(r, 1, "d1") }},
		{"deal wseat", func(c *campaign.Campaign) { c.Targeting.Deals = []string{"d1"} },
			func(r *openrtb2.BidRequest) { deal(r, 1, "d1"); r.Imp[0].PMP.Deals[0].WSeat = []string{"acct-c"} },
			func(r *openrtb2.BidRequest) { deal(r, 1, "d1"); r.Imp[0].PMP.Deals[0].WSeat = []string{"other"} }},
		{"banner size", func(*campaign.Campaign) {},
			func(r *openrtb2.BidRequest) {
				r.Imp[0].Banner.Format = append(r.Imp[0].Banner.Format, openrtb2.Format{W: 728, H: 90})
			},
			func(r *openrtb2.BidRequest) { r.Imp[0].Banner.Format[0] = openrtb2.Format{W: 320, H: 50} }},
		{"banner w h", func(*campaign.Campaign) {},
			func(r *openrtb2.BidRequest) {
				r.Imp[0].Banner = &openrtb2.Banner{W: ptr(int64(300)), H: ptr(int64(250))}
			},
			func(r *openrtb2.BidRequest) {
				r.Imp[0].Banner = &openrtb2.Banner{W: ptr(int64(300)), H: ptr(int64(600))}
			}},
		{"media type", func(*campaign.Campaign) {},
			func(*openrtb2.BidRequest) {}, func(r *openrtb2.BidRequest) { videoImp(r, 0, 0) }},
		{"video duration", videoCreative(15, 0),
			func(r *openrtb2.BidRequest) { videoImp(r, 5, 30) }, func(r *openrtb2.BidRequest) { videoImp(r, 20, 30) }},
		{"video max duration", videoCreative(15, 0),
			func(r *openrtb2.BidRequest) { videoImp(r, 0, 15) }, func(r *openrtb2.BidRequest) { videoImp(r, 0, 10) }},
		{"video protocol", videoCreative(15, adcom1.CreativeVAST40),
			func(r *openrtb2.BidRequest) { videoImp(r, 0, 0, adcom1.CreativeVAST30, adcom1.CreativeVAST40) },
			func(r *openrtb2.BidRequest) { videoImp(r, 0, 0, adcom1.CreativeVAST20) }},
		{"audio", func(c *campaign.Campaign) {
			creative(c, campaign.Creative{ID: "a", MType: openrtb2.MarkupAudio, Duration: 30})
		},
			func(r *openrtb2.BidRequest) {
				r.Imp[0] = openrtb2.Imp{ID: "1", Audio: &openrtb2.Audio{MaxDuration: 30}}
			},
			func(r *openrtb2.BidRequest) {
				r.Imp[0] = openrtb2.Imp{ID: "1", Audio: &openrtb2.Audio{MaxDuration: 15}}
			}},
		{"native", func(c *campaign.Campaign) { creative(c, campaign.Creative{ID: "n", MType: openrtb2.MarkupNative}) },
			func(r *openrtb2.BidRequest) {
				r.Imp[0] = openrtb2.Imp{ID: "1", Native: &openrtb2.Native{Request: "{}"}}
			},
			func(*openrtb2.BidRequest) {}},
		{"badv", func(*campaign.Campaign) {},
			func(r *openrtb2.BidRequest) { r.BAdv = []string{"other.example"} }, func(r *openrtb2.BidRequest) { r.BAdv = []string{"ADV.example"} }},
		{"bcat", func(c *campaign.Campaign) { c.Creatives[0].Cat = []string{"IAB7"} },
			func(r *openrtb2.BidRequest) { r.BCat = []string{"IAB8"} }, func(r *openrtb2.BidRequest) { r.BCat = []string{"iab7"} }},
		{"battr", func(c *campaign.Campaign) { c.Creatives[0].Attr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto} },
			func(r *openrtb2.BidRequest) {
				r.Imp[0].Banner.BAttr = []adcom1.CreativeAttribute{adcom1.AttrExpandableAuto}
			},
			func(r *openrtb2.BidRequest) { r.Imp[0].Banner.BAttr = []adcom1.CreativeAttribute{adcom1.AttrAudioAuto} }},
		{"wlang", func(c *campaign.Campaign) { c.Creatives[0].Lang = "de" },
			func(r *openrtb2.BidRequest) { r.WLang = []string{"en", "DE"} }, func(r *openrtb2.BidRequest) { r.WLang = []string{"en"} }},
		{"deal wadomain", func(c *campaign.Campaign) { c.Targeting.Deals = []string{"d1"} },
			func(r *openrtb2.BidRequest) {
				deal(r, 1, "d1")
				r.Imp[0].PMP.Deals[0].WADomain = []string{"adv.example"}
			},
			func(r *openrtb2.BidRequest) { deal(r, 1, "d1"); r.Imp[0].PMP.Deals[0].WADomain = []string{"x.example"} }},
		{"floor", func(*campaign.Campaign) {},
			func(r *openrtb2.BidRequest) { r.Imp[0].BidFloor = 2 }, func(r *openrtb2.BidRequest) { r.Imp[0].BidFloor = 2.01 }},
		{"floor currency", func(*campaign.Campaign) {},
			func(*openrtb2.BidRequest) {}, func(r *openrtb2.BidRequest) { r.Imp[0].BidFloorCur = "EUR" }},
		{"request currency", func(*campaign.Campaign) {},
			func(r *openrtb2.BidRequest) { r.Cur = nil }, func(r *openrtb2.BidRequest) { r.Cur = []string{"EUR"} }},
		{"flight", func(c *campaign.Campaign) {
			c.Flight.Start, c.Flight.End = monday.Add(-time.Hour), monday.Add(time.Hour)
		},
			func(*openrtb2.BidRequest) {}, nil},
		{"day-parting", func(c *campaign.Campaign) { c.Flight.Location = ny; c.Flight.Hours[10] = true },
			nil, func(*openrtb2.BidRequest) {}},
		{"weekdays", func(c *campaign.Campaign) { c.Flight.Location = ny; c.Flight.Weekdays[time.Monday] = true },
			func(*openrtb2.BidRequest) {}, nil},
		{"paused", func(c *campaign.Campaign) { c.Paused = true }, nil, func(*openrtb2.BidRequest) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validCampaign("c")
			tt.campaign(c)
			b, err := campaign.NewBidder("house", campaign.WithCampaigns(c), campaign.WithClock(auctiontest.NewClock(monday)))
			require.NoError(t, err)
			for _, want := range []bool{true, false} {
				f := tt.match
				if !want {
					f = tt.no
				}
				if f == nil {
					continue
				}
				req := baseRequest()
				f(req)
				resp, err := b.Bid(context.Background(), req)
				require.NoError(t, err)
				assert.Equal(t, want, resp != nil && len(resp.SeatBid) == 1, "want a bid: %v", want)
			}
		})
	}
}

func videoCreative(d int64, p adcom1.MediaCreativeSubtype) func(*campaign.Campaign) {
	return func(c *campaign.Campaign) {
		creative(c, campaign.Creative{ID: "v", MType: openrtb2.MarkupVideo, Duration: d, Protocol: p})
	}
}

func ptr[T any](v T) *T { return &v }

func TestSecureAndClickEscaping(t *testing.T) {
	c := validCampaign("c")
	c.Creatives = []campaign.Creative{
		{ID: "plain", MType: openrtb2.MarkupBanner, W: 300, H: 250, Markup: `<img src="http://cdn.example/a.png">`},
		{ID: "v", MType: openrtb2.MarkupVideo, Duration: 15, Landing: "https://adv.example/?a=1&b=2",
			Markup: `<VAST xmlns="http://www.w3.org/2001/XMLSchema"><ClickThrough><![CDATA[` + campaign.ClickMacro + `]]></ClickThrough></VAST>`},
		{ID: "n", MType: openrtb2.MarkupNative, Landing: "https://adv.example/?a=1&b=2", Markup: `{"link":{"url":"` + campaign.ClickMacro + `"}}`},
	}
	b, err := campaign.NewBidder("house", campaign.WithCampaigns(c))
	require.NoError(t, err)
	req := baseRequest()
	resp, _ := b.Bid(context.Background(), req)
	_, bid := onlyBid(t, resp)
	assert.Equal(t, "plain", bid.CrID)
	req.Imp[0].Secure = ptr(int8(1))
	resp, _ = b.Bid(context.Background(), req)
	assert.Nil(t, resp, "an http:// creative does not serve a secure imp")

	videoImp(req, 0, 0)
	req.Imp[0].Secure = ptr(int8(1))
	resp, _ = b.Bid(context.Background(), req)
	_, bid = onlyBid(t, resp)
	assert.Contains(t, bid.AdM, "<![CDATA[https://adv.example/?a=1&b=2]]>", "xmlns does not make it insecure; CDATA is not escaped")

	req.Imp[0] = openrtb2.Imp{ID: "1", Native: &openrtb2.Native{Request: "{}"}}
	resp, _ = b.Bid(context.Background(), req)
	_, bid = onlyBid(t, resp)
	assert.Equal(t, `{"link":{"url":"https://adv.example/?a=1&b=2"}}`, bid.AdM)
}
