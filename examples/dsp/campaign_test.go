package main

import (
	"net/http"
	"testing"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTargeting(t *testing.T) {
	mobile, desktop, ctv := adcom1.DeviceMobile, adcom1.DevicePC, adcom1.DeviceTV
	tests := []struct {
		name     string
		spec     spec
		campaign string // "" for no bid
		crid     string
		price    float64
	}{
		{"size and country and device match", spec{w: 320, h: 50, country: "USA", device: mobile}, "sneakers-us-mobile", "sneak-320x50", 3.2},
		{"size matches no creative", spec{w: 160, h: 600, country: "USA", device: mobile}, "", "", 0},
		{"country matches", spec{w: 728, h: 90, country: "DEU", device: desktop}, "travel-eu-desktop", "trip-728x90", 2.4},
		{"country does not match: run of network", spec{w: 728, h: 90, country: "BRA", device: desktop}, "run-of-network", "ron-728x90", 0.8},
		{"device type matches", spec{w: 1920, h: 1080, device: ctv}, "news-ctv", "news-1920x1080", 6},
		{"device type does not match", spec{w: 1920, h: 1080, device: mobile}, "", "", 0},
		{"segment matches", spec{w: 300, h: 600, segs: []string{"sports", "car-owner"}}, "cars-intenders", "car-300x600", 4.75},
		{"segment does not match", spec{w: 300, h: 600, segs: []string{"sports"}}, "", "", 0},
		{"highest price wins among matches", spec{w: 300, h: 250, country: "USA", device: mobile, segs: []string{"auto-intender"}}, "cars-intenders", "car-300x250", 4.75},
		{"floor above every price", spec{w: 300, h: 250, country: "USA", device: mobile, floor: 10}, "", "", 0},
	}
	d := testDSP(t, config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(t, d, tt.spec.request("a1"))
			if tt.campaign == "" {
				assert.Equal(t, http.StatusNoContent, rec.Code)
				return
			}
			resp := decode(t, rec)
			require.Len(t, resp.SeatBid, 1)
			require.Len(t, resp.SeatBid[0].Bid, 1)
			b := resp.SeatBid[0].Bid[0]
			assert.Equal(t, "a1", resp.ID)
			assert.Equal(t, "USD", resp.Cur)
			assert.Equal(t, "imp-1", b.ImpID)
			assert.Equal(t, tt.campaign, b.CID)
			assert.Equal(t, tt.crid, b.CrID)
			assert.Equal(t, tt.price, b.Price)
			assert.NotEmpty(t, b.AdM)
			assert.NotEmpty(t, b.ADomain)
			assert.NotEmpty(t, b.Cat)
		})
	}
}

func TestParseCampaignsReportsEveryProblem(t *testing.T) {
	_, err := parseCampaigns([]byte(`[{"id":"a","price":0,"creatives":[{"crid":"","w":1,"h":1,"adm":"x"}]},{"id":"a","price":1}]`))
	require.Error(t, err)
	for _, want := range []string{"price 0", "creative 0", `id "a" is empty or repeated`, `campaign "a": no creatives`} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = parseCampaigns([]byte(`[{"id":"a","price":1,"bogus":true}]`))
	assert.ErrorContains(t, err, "bogus")
	_, err = parseCampaigns([]byte(`[] []`))
	assert.Error(t, err)
}
