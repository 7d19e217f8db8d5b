package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/campaign"
)

// auctionFor posts req to the exchange and returns the winning bid of its
// imp and its seat, or a nil bid for a 204.
func auctionFor(t *testing.T, base string, req *openrtb2.BidRequest) (*openrtb2.Bid, string) {
	t.Helper()
	body, err := json.Marshal(req)
	require.NoError(t, err)
	code, b := post(t, base+pathAuction, body)
	if code == http.StatusNoContent {
		return nil, ""
	}
	require.Equal(t, http.StatusOK, code, string(b))
	var resp openrtb2.BidResponse
	require.NoError(t, json.Unmarshal(b, &resp))
	require.NotEmpty(t, resp.SeatBid)
	return &resp.SeatBid[0].Bid[0], resp.SeatBid[0].Seat
}

// TestHouseCampaignsWin: over real HTTP, each demo campaign wins the
// requests it targets, against the demo bidders: spring-sale a banner in
// the USA, puzzle-installs a mobile banner on an iPhone, autos-deal an imp
// that offers deal-3.
func TestHouseCampaignsWin(t *testing.T) {
	s := launch(t, config{asap: true}) // no even pacing to hold a campaign back
	assert.Contains(t, s.out.String(), "campaign  spring-sale")
	assert.Contains(t, s.out.String(), s.base+pathTrackClick)

	spring := request("house-spring", "house-user-1")
	puzzle := request("house-puzzle", "house-user-2")
	puzzle.Device = &openrtb2.Device{DeviceType: adcom1.DevicePhone, OS: "iOS", Geo: &openrtb2.Geo{Country: "BRA"}}
	puzzle.Imp[0].Banner.Format = []openrtb2.Format{{W: 320, H: 50}}
	autos := request("house-autos", "house-user-3")
	autos.Device.Geo.Country = "JPN"
	autos.Imp[0].PMP = &openrtb2.PMP{Deals: []openrtb2.Deal{{ID: "deal-3", BidFloor: 1.5, BidFloorCur: "USD"}}}
	for _, c := range []struct {
		req                   *openrtb2.BidRequest
		seat, adomain, dealID string
		price                 float64 // the campaign's bid
	}{
		{spring, "acme", "acme", "", 1.8},
		{puzzle, "puzzle-co", "puzzle.example", "", 2},
		{autos, "autos-direct", "autos.example", "deal-3", 3},
	} {
		bid, seat := auctionFor(t, s.base, c.req)
		require.NotNil(t, bid, c.seat)
		assert.Equal(t, c.seat, seat)
		assert.Equal(t, []string{c.adomain}, bid.ADomain)
		assert.Equal(t, c.dealID, bid.DealID)
		assert.Positive(t, bid.Price)
		assert.LessOrEqual(t, bid.Price, c.price, "the clearing price, at most the campaign's bid")
		assert.NotEmpty(t, bid.Cat)
		assert.Contains(t, bid.AdM, s.base+pathTrackClick+"?t=", "the markup's click URL")
		assert.True(t, strings.HasPrefix(bid.BURL, s.base+pathBilling+"?t="), bid.BURL)
	}
}

// TestHouseFrequencyCap: each billed impression of spring-sale counts
// against its cap of 3 an hour per user; then the user no longer gets it,
// while another user still does.
func TestHouseFrequencyCap(t *testing.T) {
	_, hourEnd := campaign.PeriodHour.Bounds(time.Now(), nil) // the cap counts per UTC hour
	clearOfTurn(t, hourEnd, 30*time.Second)
	s := launch(t, config{asap: true}) // no even pacing to hold a campaign back
	for i := range springSaleCap {
		bid, seat := auctionFor(t, s.base, request(fmt.Sprintf("cap-%d", i), "capped-user"))
		require.NotNil(t, bid, "impression %d", i)
		require.Equal(t, "acme", seat, "impression %d", i)
		code, _ := get(t, bid.BURL)
		require.Equal(t, http.StatusNoContent, code)
	}
	for i := range 3 {
		_, seat := auctionFor(t, s.base, request(fmt.Sprintf("capped-%d", i), "capped-user"))
		assert.NotEqual(t, "acme", seat, "auction %d after the cap", i)
	}
	_, seat := auctionFor(t, s.base, request("fresh", "fresh-user"))
	assert.Equal(t, "acme", seat, "a user under the cap")
	assert.GreaterOrEqual(t, s.x.house.bidder.Stats().FrequencyCapped, int64(3), "held back in each auction after the cap")
}

var hrefRE = regexp.MustCompile(`href="([^"]+)"`)

// TestHouseClickAndConversion: the click URL of a house ad's markup
// records a click and redirects to the landing page with a conversion
// token, which the advertiser posts back to record a conversion; both
// events are in the events file.
func TestHouseClickAndConversion(t *testing.T) {
	s := launch(t, config{asap: true}) // no even pacing to hold a campaign back
	bid, seat := auctionFor(t, s.base, request("click-1", "clicker"))
	require.NotNil(t, bid)
	require.Equal(t, "acme", seat)
	m := hrefRE.FindStringSubmatch(bid.AdM)
	require.NotNil(t, m, bid.AdM)
	click := html.UnescapeString(m[1])

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(click)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	landing, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "acme.example", landing.Host)
	assert.Equal(t, "/spring", landing.Path)
	assert.Equal(t, "gavel", landing.Query().Get("utm_source"))
	token := landing.Query().Get("gavel_click")
	require.NotEmpty(t, token)

	resp, err = client.PostForm(s.base+pathTrackConversion, url.Values{"gavel_click": {token}, "order_id": {"order-7"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	code, _ := get(t, s.base+pathTrackConversion+"?gavel_click="+url.QueryEscape(token[:len(token)-2]+"AA"))
	assert.Equal(t, http.StatusForbidden, code, "a tampered token")

	s.stop(t)
	var clicks, conversions []map[string]any
	for _, e := range readEvents(t, s.events) {
		switch e["type"] {
		case "click":
			clicks = append(clicks, e)
		case "conversion":
			conversions = append(conversions, e)
		}
	}
	require.Len(t, clicks, 1)
	require.Len(t, conversions, 1)
	for _, e := range []map[string]any{clicks[0], conversions[0]} {
		assert.Equal(t, "click-1", e["auction_id"])
		assert.Equal(t, "spring-sale", e["campaign"])
		assert.Equal(t, "mrec", e["creative"])
		assert.Equal(t, "acme", e["account"])
		assert.Equal(t, bid.ID, e["bid_id"])
	}
	assert.Equal(t, "order-7", conversions[0]["order_id"])
}

// TestDashboardCampaigns: the dashboard counts a billed house impression
// and its click for its campaign, through the notices' and the tracker's
// hooks: its event stream soon sends a frame with them.
func TestDashboardCampaigns(t *testing.T) {
	s := launch(t, config{asap: true}) // no even pacing to hold a campaign back
	bid, seat := auctionFor(t, s.base, request("dash-campaign", "dash-user"))
	require.NotNil(t, bid)
	require.Equal(t, "acme", seat)
	code, _ := get(t, bid.BURL)
	require.Equal(t, http.StatusNoContent, code)
	m := hrefRE.FindStringSubmatch(bid.AdM)
	require.NotNil(t, m, bid.AdM)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(html.UnescapeString(m[1]))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+pathDashboard+"events", nil)
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	type campaignFrame struct {
		Name, Account       string
		Impressions, Clicks int64
		Spend               int64
		Pacing              *float64
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || !strings.Contains(data, `"campaigns"`) {
			continue
		}
		var f struct{ Campaigns []campaignFrame }
		require.NoError(t, json.Unmarshal([]byte(data), &f))
		require.Len(t, f.Campaigns, 1, data)
		c := f.Campaigns[0]
		assert.Equal(t, "spring-sale", c.Name)
		assert.Equal(t, "acme", c.Account)
		assert.Equal(t, int64(1), c.Impressions)
		assert.Equal(t, int64(1), c.Clicks)
		assert.Positive(t, c.Spend)
		assert.NotNil(t, c.Pacing, "the account's pacing rate")
		return
	}
	t.Fatalf("no frame within 10s: %v", sc.Err())
}

// TestConfigHasNoHouse: with a config file, the exchange serves the
// file's bidders only: no house bidder, no tracking endpoints.
func TestConfigHasNoHouse(t *testing.T) {
	dsp := newTestDSP(t, "only", 2, false)
	s, _ := launchConfig(t, testConfig(filepath.Join(t.TempDir(), "events.jsonl"), dsp))
	assert.Nil(t, s.x.house)
	assert.NotContains(t, s.out.String(), "campaign ")
	code, _ := get(t, s.base+pathTrackClick+"?t=x")
	assert.Equal(t, http.StatusNotFound, code)
}
