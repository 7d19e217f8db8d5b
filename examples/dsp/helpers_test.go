package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// spec describes a one-imp banner request.
type spec struct {
	w, h    int64
	country string
	device  adcom1.DeviceType
	segs    []string
	floor   float64
	tmax    int64
}

func (s spec) request(id string) *openrtb2.BidRequest {
	req := &openrtb2.BidRequest{
		ID:   id,
		TMax: s.tmax,
		Imp: []openrtb2.Imp{{
			ID:       "imp-1",
			BidFloor: s.floor,
			Banner:   &openrtb2.Banner{Format: []openrtb2.Format{{W: s.w, H: s.h}}},
		}},
		Device: &openrtb2.Device{DeviceType: s.device, Geo: &openrtb2.Geo{Country: s.country}},
	}
	if len(s.segs) > 0 {
		var segs []openrtb2.Segment
		for _, id := range s.segs {
			segs = append(segs, openrtb2.Segment{ID: id})
		}
		req.User = &openrtb2.User{ID: "u1", Data: []openrtb2.Data{{ID: "dmp", Segment: segs}}}
	}
	return req
}

func testDSP(t *testing.T, cfg config) *dsp {
	t.Helper()
	if cfg.Campaigns == nil {
		cs, err := loadCampaigns("testdata/campaigns.json")
		require.NoError(t, err)
		cfg.Campaigns = cs
	}
	d, err := newDSP(cfg)
	require.NoError(t, err)
	return d
}

// post sends req to d's /bid in process and returns the recorded answer.
func post(t *testing.T, d http.Handler, req *openrtb2.BidRequest) *httptest.ResponseRecorder {
	t.Helper()
	body, err := json.Marshal(req)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "http://dsp.test/bid", bytes.NewReader(body)))
	return rec
}

// decode returns the BidResponse of a 200 answer.
func decode(t *testing.T, rec *httptest.ResponseRecorder) *openrtb2.BidResponse {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var resp openrtb2.BidResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	return &resp
}
