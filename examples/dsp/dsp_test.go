package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// everyone is a request the run-of-network campaign always bids on.
var everyone = spec{w: 300, h: 250, country: "USA", device: adcom1.DevicePC}

// codes sends n requests to a DSP with cfg and returns the status codes.
func codes(t *testing.T, cfg config, n int) []int {
	d := testDSP(t, cfg)
	out := make([]int, n)
	for i := range out {
		out[i] = post(t, d, everyone.request("a")).Code
	}
	return out
}

func TestNoBidRateIsSeeded(t *testing.T) {
	const n = 2000
	got := codes(t, config{NoBid: 0.3, Seed: 7}, n)
	noBids := 0
	for _, c := range got {
		require.Contains(t, []int{http.StatusOK, http.StatusNoContent}, c)
		if c == http.StatusNoContent {
			noBids++
		}
	}
	assert.InDelta(t, 0.3, float64(noBids)/n, 0.04)
	assert.Equal(t, got, codes(t, config{NoBid: 0.3, Seed: 7}, n), "same seed, same answers")
	assert.NotEqual(t, got, codes(t, config{NoBid: 0.3, Seed: 8}, n), "another seed, other answers")
	for _, c := range codes(t, config{NoBid: 0}, 100) {
		assert.Equal(t, http.StatusOK, c)
	}
}

func TestLatencyWithinTMax(t *testing.T) {
	tests := []struct {
		name    string
		latency time.Duration
		late    float64
		tmax    int64
		want    time.Duration
	}{
		{"fast answer keeps its latency", 10 * time.Millisecond, 0, 50, 10 * time.Millisecond},
		{"slow answer cut to tmax less the margin", time.Second, 0, 50, 50*time.Millisecond - tmaxMargin},
		{"no tmax: the latency drawn", 300 * time.Millisecond, 0, 0, 300 * time.Millisecond},
		{"late: after tmax", 10 * time.Millisecond, 1, 50, 51 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := testDSP(t, config{Latency: tt.latency, Late: tt.late})
				s := everyone
				s.tmax = tt.tmax
				start := time.Now()
				rec := post(t, d, s.request("a"))
				assert.Equal(t, tt.want, time.Since(start))
				assert.Equal(t, http.StatusOK, rec.Code)
			})
		})
	}
}

func TestLogNormalLatencyNeverPastTMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := testDSP(t, config{Latency: 40 * time.Millisecond, Spread: 1, Seed: 3})
		s := everyone
		s.tmax = 80
		var longest, shortest time.Duration = 0, time.Hour
		for range 500 {
			start := time.Now()
			post(t, d, s.request("a"))
			took := time.Since(start)
			longest, shortest = max(longest, took), min(shortest, took)
		}
		assert.Equal(t, 80*time.Millisecond-tmaxMargin, longest, "the slowest draws are cut at tmax")
		assert.Less(t, shortest, 40*time.Millisecond, "the latency varies")
	})
}

func TestGzipRequest(t *testing.T) {
	d := testDSP(t, config{})
	body, err := json.Marshal(everyone.request("gz"))
	require.NoError(t, err)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err = zw.Write(body)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	r := httptest.NewRequest(http.MethodPost, "/bid", &buf)
	r.Header.Set("Content-Encoding", "gzip")
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, r)
	assert.Equal(t, "gz", decode(t, rec).ID)
}

func TestBadRequests(t *testing.T) {
	d := testDSP(t, config{})
	tests := []struct {
		name, method, body, encoding string
		want                         int
	}{
		{"not json", http.MethodPost, "{", "", http.StatusBadRequest},
		{"no imp", http.MethodPost, `{"id":"a"}`, "", http.StatusBadRequest},
		{"not gzip", http.MethodPost, `{"id":"a"}`, "gzip", http.StatusBadRequest},
		{"too large", http.MethodPost, `{"id":"` + strings.Repeat("a", maxBody) + `"}`, "", http.StatusRequestEntityTooLarge},
		{"get", http.MethodGet, "", "", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/bid", strings.NewReader(tt.body))
			if tt.encoding != "" {
				r.Header.Set("Content-Encoding", tt.encoding)
			}
			rec := httptest.NewRecorder()
			d.ServeHTTP(rec, r)
			assert.Equal(t, tt.want, rec.Code)
		})
	}
	assert.Equal(t, int64(4), d.stats.snapshot().Invalid)
}

func TestOnlyUSD(t *testing.T) {
	d := testDSP(t, config{})
	req := everyone.request("eur")
	req.Cur = []string{"EUR"}
	assert.Equal(t, http.StatusNoContent, post(t, d, req).Code)
	req.Cur = []string{"EUR", "USD"}
	assert.Equal(t, http.StatusOK, post(t, d, req).Code)
}

func TestConfigValidated(t *testing.T) {
	_, err := newDSP(config{NoBid: 2, Late: -1, Latency: -1})
	require.Error(t, err)
	for _, want := range []string{"nobid", "late", "latency", "no campaigns"} {
		assert.Contains(t, err.Error(), want)
	}
}
