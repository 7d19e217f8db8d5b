package main

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// summaryOf adds n results of the given status and body, each taking lat,
// for requests expecting exp.
func summaryOf(s *Summary, n int, exp Expect, status uint16, body string, lat time.Duration) {
	summaryWith(s, n, exp, status, nil, body, lat)
}

// summaryWith is summaryOf with the answers' headers.
func summaryWith(s *Summary, n int, exp Expect, status uint16, h http.Header, body string, lat time.Duration) {
	start := time.Unix(0, 0)
	for i := range n {
		res := &vegeta.Result{Code: status, Headers: h, Body: []byte(body), Latency: lat, Timestamp: start.Add(time.Duration(i) * time.Millisecond)}
		if status == 0 {
			res.Error = "connection refused"
		}
		s.Add(res, exp)
	}
}

var (
	shedHdr = http.Header{"Gavel-Shed": {"1"}, "Gavel-Nbr": {"1"}}
	okExp   = Expect{ID: "r1", ImpIDs: []string{"1"}}
	okBody  = `{"id":"r1","seatbid":[{"bid":[{"id":"b","impid":"1","price":1}]}]}`
	badExp  = Expect{ID: "r2", ImpIDs: []string{"1"}, Invalid: "malformed"}
)

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fill  func(*Summary)
		limit Thresholds
		code  int
		why   int
	}{
		{"all right", func(s *Summary) {
			summaryOf(s, 90, okExp, 200, okBody, 5*time.Millisecond)
			summaryOf(s, 10, badExp, 400, `{}`, time.Millisecond)
		}, Thresholds{MaxP99: 10 * time.Millisecond}, ExitOK, 0},
		{"an invalid 200 fails whatever the error share allowed", func(s *Summary) {
			summaryOf(s, 99, okExp, 204, "", time.Millisecond)
			summaryOf(s, 1, okExp, 200, `{"id":"other"}`, time.Millisecond)
		}, Thresholds{MaxErrors: 1}, ExitFailed, 1},
		{"errors above the share", func(s *Summary) {
			summaryOf(s, 97, okExp, 204, "", time.Millisecond)
			summaryOf(s, 3, okExp, 503, "", time.Millisecond)
		}, Thresholds{MaxErrors: 0.02}, ExitFailed, 1},
		{"errors within the share", func(s *Summary) {
			summaryOf(s, 97, okExp, 204, "", time.Millisecond)
			summaryOf(s, 2, okExp, 0, "", time.Millisecond)
			summaryOf(s, 1, badExp, 204, "", time.Millisecond)
		}, Thresholds{MaxErrors: 0.03}, ExitOK, 0},
		{"p99 above the limit", func(s *Summary) {
			summaryOf(s, 90, okExp, 204, "", time.Millisecond)
			summaryOf(s, 10, okExp, 204, "", 50*time.Millisecond)
		}, Thresholds{MaxP99: 20 * time.Millisecond}, ExitFailed, 1},
		{"no limit on p99", func(s *Summary) {
			summaryOf(s, 100, okExp, 204, "", time.Second)
		}, Thresholds{}, ExitOK, 0},
		{"nothing sent", func(*Summary) {}, Thresholds{MaxErrors: 1}, ExitFailed, 1},
		{"shed answers are right, timed apart", func(s *Summary) {
			summaryOf(s, 50, okExp, 200, okBody, 50*time.Millisecond)
			summaryWith(s, 40, okExp, 204, shedHdr, "", 100*time.Microsecond)
			summaryWith(s, 5, badExp, 204, shedHdr, "", 100*time.Microsecond)
			summaryWith(s, 5, okExp, 503, shedHdr, "", 200*time.Microsecond)
		}, Thresholds{MaxP99: 60 * time.Millisecond, MaxShedP99: time.Millisecond}, ExitOK, 0},
		{"slow shed answers", func(s *Summary) {
			summaryOf(s, 50, okExp, 200, okBody, time.Millisecond)
			summaryWith(s, 50, okExp, 204, shedHdr, "", 5*time.Millisecond)
		}, Thresholds{MaxP99: 2 * time.Millisecond, MaxShedP99: time.Millisecond}, ExitFailed, 1},
		{"slow accepted answers, fast shed ones", func(s *Summary) {
			summaryOf(s, 50, okExp, 200, okBody, 300*time.Millisecond)
			summaryWith(s, 50, okExp, 204, shedHdr, "", 10*time.Microsecond)
		}, Thresholds{MaxP99: 200 * time.Millisecond, MaxShedP99: time.Millisecond}, ExitFailed, 1},
		{"everything wrong", func(s *Summary) {
			summaryOf(s, 50, okExp, 200, `{`, 80*time.Millisecond)
			summaryOf(s, 50, okExp, 204, "", 80*time.Millisecond)
		}, Thresholds{MaxP99: 20 * time.Millisecond}, ExitFailed, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Summary{}
			tc.fill(s)
			s.Close()
			code, why := tc.limit.Verdict(s)
			assert.Equal(t, tc.code, code, "%q", why)
			assert.Len(t, why, tc.why, "%q", why)
		})
	}
}

func TestSummaryCountsAndPrints(t *testing.T) {
	s := &Summary{}
	summaryOf(s, 80, okExp, 200, okBody, 2*time.Millisecond)
	summaryOf(s, 10, badExp, 400, `{}`, time.Millisecond)
	summaryOf(s, 6, okExp, 200, `{"id":"r1"}`, time.Millisecond)
	summaryOf(s, 3, okExp, 0, "", time.Second)
	summaryOf(s, 1, badExp, 200, okBody, time.Millisecond)
	s.Close()

	assert.Equal(t, uint64(100), s.Metrics.Requests)
	assert.Equal(t, 11, s.Invalid)
	assert.Equal(t, 3, s.Transport)
	assert.Equal(t, 6, s.BadBodies)
	assert.Equal(t, 1, s.WrongStatus, "a 200 to an invalid request is a wrong status")
	assert.Equal(t, 10, s.Errors())
	assert.Len(t, s.Examples, maxExamples)
	assert.Equal(t, time.Second, s.Metrics.Latencies.Max)
	assert.GreaterOrEqual(t, s.P999, s.Metrics.Latencies.P99)

	var out bytes.Buffer
	s.Print(&out)
	for _, want := range []string{"requests    100", "p50 ", "p90 ", "p99 ", "p99.9 ", "max 1s", "0:3  200:87  400:10", "11 invalid requests sent; 3 no answer, 1 wrong status, 6 invalid 200s", "request r1: invalid bid response"} {
		require.Contains(t, out.String(), want)
	}
}

func TestSummaryShed(t *testing.T) {
	s := &Summary{}
	summaryOf(s, 60, okExp, 200, okBody, 40*time.Millisecond)
	summaryOf(s, 10, okExp, 204, "", 30*time.Millisecond) // ran, no bid
	summaryWith(s, 20, okExp, 204, shedHdr, "", 200*time.Microsecond)
	summaryWith(s, 5, badExp, 204, shedHdr, "", 200*time.Microsecond)
	summaryWith(s, 5, okExp, 503, shedHdr, "", 300*time.Microsecond)
	s.Close()

	assert.Zero(t, s.Errors(), "%q", s.Examples)
	assert.Equal(t, 30, s.Shed)
	assert.Equal(t, 70, s.Accepted.N)
	assert.Equal(t, 30, s.ShedLatencies.N)
	assert.Equal(t, 40*time.Millisecond, s.Accepted.Max())
	assert.Equal(t, 300*time.Microsecond, s.ShedLatencies.Max())
	assert.LessOrEqual(t, s.ShedLatencies.Quantile(0.99), 300*time.Microsecond)
	assert.GreaterOrEqual(t, s.Accepted.Quantile(0.99), 30*time.Millisecond)

	var out bytes.Buffer
	s.Print(&out)
	assert.Contains(t, out.String(), "accepted    70  p50 ")
	assert.Contains(t, out.String(), "shed        30  p50 ")
	assert.Contains(t, out.String(), "max 300µs")
}
