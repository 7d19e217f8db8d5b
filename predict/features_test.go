package predict_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/predict"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noon is a Tuesday, 12:00 UTC.
var noon = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// request is a banner request on a site, from a phone in the USA, of a
// user with the given number of segments.
func request(segments int) *openrtb2.BidRequest {
	req := auctiontest.Request("a1", auctiontest.BannerImp("1", 0.1, [2]int64{300, 250}))
	req.Site = &openrtb2.Site{Domain: "news.example", Publisher: &openrtb2.Publisher{ID: "pub1"}}
	req.Device = &openrtb2.Device{DeviceType: adcom1.DeviceMobile, OS: "iOS", Geo: &openrtb2.Geo{Country: "USA"}}
	req.User = &openrtb2.User{ID: "u1"}
	if segments > 0 {
		d := openrtb2.Data{ID: "dmp"}
		for i := range segments {
			d.Segment = append(d.Segment, openrtb2.Segment{ID: string(rune('a' + i))})
		}
		req.User.Data = []openrtb2.Data{d}
	}
	return req
}

func cpcCampaign(id string) *campaign.Campaign {
	return &campaign.Campaign{
		ID: id, Account: "acct-" + id, Advertiser: "adv",
		Goal:         campaign.Goal{Kind: campaign.GoalCPC, Value: 500_000, FallbackCTR: 0.001},
		BidCapMicros: 5_000_000,
		Creatives: []campaign.Creative{{
			ID: "b1", MType: openrtb2.MarkupBanner, W: 300, H: 250,
			Markup: `<a href="` + campaign.ClickMacro + `">ad</a>`, Landing: "https://adv.example/",
			ADomain: []string{"adv.example"},
		}},
	}
}

func extractor(t testing.TB, opts ...predict.ExtractorOption) *predict.Extractor {
	t.Helper()
	x, err := predict.NewExtractor(opts...)
	require.NoError(t, err)
	return x
}

func TestExtract(t *testing.T) {
	x := extractor(t)
	c := cpcCampaign("c1")
	req := request(5)
	f := x.Extract(nil, req, &req.Imp[0], c, &c.Creatives[0], noon)
	assert.Len(t, f, 30, "20 fixed features and 2 per segment")
	for _, i := range f {
		assert.Less(t, i, uint32(1)<<predict.DefaultBits)
	}
	again := x.Extract(make([]uint32, 0, 64), req, &req.Imp[0], c, &c.Creatives[0], noon)
	assert.Equal(t, f, again, "deterministic")
	assert.Len(t, slices.Compact(slices.Sorted(slices.Values(f))), 30, "no collisions among these")

	other := cpcCampaign("c2")
	g := x.Extract(nil, req, &req.Imp[0], other, &other.Creatives[0], noon)
	same := 0
	for _, i := range g {
		if slices.Contains(f, i) {
			same++
		}
	}
	// Shared: bias, advertiser, media type, site domain, publisher, size,
	// position, interstitial, device type, OS, country, hour, weekday,
	// segments; the campaign, its crosses and its creative differ.
	assert.Equal(t, 13+5, same)
}

func TestExtractEmptyRequest(t *testing.T) {
	x := extractor(t, predict.WithBits(8))
	c := cpcCampaign("c1")
	req := &openrtb2.BidRequest{ID: "a", Imp: []openrtb2.Imp{{ID: "1"}}}
	f := x.Extract(nil, req, &req.Imp[0], c, &c.Creatives[0], noon)
	assert.Len(t, f, 20)
	for _, i := range f {
		assert.Less(t, i, uint32(256))
	}
}

func TestExtractUserClock(t *testing.T) {
	x := extractor(t)
	c := cpcCampaign("c1")
	utc := request(0)
	local := request(0)
	local.Device.Geo.UTCOffset = -300 // 07:00 in New York
	localAt7 := x.Extract(nil, local, &local.Imp[0], c, &c.Creatives[0], noon)
	localAt12 := x.Extract(nil, local, &local.Imp[0], c, &c.Creatives[0], noon.Add(5*time.Hour))
	utcAt7 := x.Extract(nil, utc, &utc.Imp[0], c, &c.Creatives[0], noon.Add(-5*time.Hour))
	assert.NotEqual(t, localAt7, localAt12)
	assert.NotEqual(t, localAt7, utcAt7, "local hours and UTC hours are different features")
	assert.Equal(t, localAt7[:17], utcAt7[:17], "all but the time features agree")
}

func TestExtractMaxSegments(t *testing.T) {
	x := extractor(t, predict.WithMaxSegments(2))
	c := cpcCampaign("c1")
	req := request(10)
	assert.Len(t, x.Extract(nil, req, &req.Imp[0], c, &c.Creatives[0], noon), 24)
	assert.Equal(t, 24, x.MaxFeatures())
}

func TestExtractDoesNotAllocate(t *testing.T) {
	x := extractor(t)
	c := cpcCampaign("c1")
	req := request(5)
	dst := make([]uint32, 0, x.MaxFeatures())
	allocs := testing.AllocsPerRun(1000, func() {
		dst = x.Extract(dst[:0], req, &req.Imp[0], c, &c.Creatives[0], noon)
	})
	assert.Zero(t, allocs)
	assert.Len(t, dst, 30)
}

func TestNewExtractorNamesEveryProblem(t *testing.T) {
	_, err := predict.NewExtractor(predict.WithBits(0), predict.WithMaxSegments(-1))
	require.Error(t, err)
	assert.ErrorContains(t, err, "bits 0")
	assert.ErrorContains(t, err, "negative max segments -1")
}
