package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testClient returns a client whose idle connections are closed before
// the exchange stops (the server waits for connections it thinks new).
func testClient(t *testing.T) *http.Client {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// postAuction posts req and returns the status and, for a 200, the response.
func postAuction(t *testing.T, c *http.Client, base string, req *openrtb2.BidRequest) (int, *openrtb2.BidResponse) {
	t.Helper()
	body, err := json.Marshal(req)
	require.NoError(t, err)
	resp, err := c.Post(base+pathAuction, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	var out openrtb2.BidResponse
	require.NoError(t, json.Unmarshal(b, &out), string(b))
	return resp.StatusCode, &out
}

// TestConfigWinnerAndPrice runs auctions between two HTTP bidders of a
// config file: the higher bid wins, at the lower bid plus the increment
// in a second-price auction and at its own price in a first-price one,
// and its burl points at the exchange.
func TestConfigWinnerAndPrice(t *testing.T) {
	low, high := newTestDSP(t, "low", 2, false), newTestDSP(t, "high", 3, false)
	s, _ := launchConfig(t, testConfig(filepath.Join(t.TempDir(), "events.jsonl"), low, high))
	c := testClient(t)
	for _, tc := range []struct {
		at    int64
		price float64
	}{{at: 2, price: 2.01}, {at: 1, price: 3}} {
		t.Run(fmt.Sprintf("at=%d", tc.at), func(t *testing.T) {
			req := slowRequest(fmt.Sprintf("price-%d", tc.at))
			req.AT = tc.at
			code, resp := postAuction(t, c, s.base, req)
			require.Equal(t, http.StatusOK, code)
			seat, bid := seatOf(t, resp)
			assert.Equal(t, "high", seat)
			assert.InDelta(t, tc.price, bid.Price, 1e-9)
			assert.True(t, isBilling(s.base, bid.BURL), bid.BURL)
		})
	}
}

// TestConfigWinLossNotices checks that the auction endpoint fires the
// winner's nurl and the loser's lurl, with the loss reason filled in
// (102: lost to a higher bid), and that the winner's nurl is taken out
// of the response, since the exchange fired it.
func TestConfigWinLossNotices(t *testing.T) {
	low, high := newTestDSP(t, "low", 2, false), newTestDSP(t, "high", 3, false)
	s, _ := launchConfig(t, testConfig(filepath.Join(t.TempDir(), "events.jsonl"), low, high))
	c := testClient(t)
	code, resp := postAuction(t, c, s.base, slowRequest("notices-1"))
	require.Equal(t, http.StatusOK, code)
	_, bid := seatOf(t, resp)
	assert.Empty(t, bid.NURL)
	require.Eventually(t, func() bool { return high.wins.Load() == 1 && low.losses.Load() == 1 },
		5*time.Second, 5*time.Millisecond, "the winner's nurl and the loser's lurl")
	assert.Equal(t, "102", low.lastLoss.Load())
	assert.Zero(t, high.losses.Load())
	assert.Zero(t, low.wins.Load())
}

// TestConfigHangingBidder has one bidder answer only when its request
// ends: the auction still answers at its tmax, with the other bidder's
// bid. The bound is far above tmax: without the deadline the answer would
// never come.
func TestConfigHangingBidder(t *testing.T) {
	fast, hang := newTestDSP(t, "fast", 2, false), newTestDSP(t, "hang", 9, true)
	s, _ := launchConfig(t, testConfig(filepath.Join(t.TempDir(), "events.jsonl"), fast, hang))
	c := testClient(t)
	req := request("hang-1", "user-1")
	req.TMax = 300
	began := time.Now()
	code, resp := postAuction(t, c, s.base, req)
	took := time.Since(began)
	require.Equal(t, http.StatusOK, code)
	seat, _ := seatOf(t, resp)
	assert.Equal(t, "fast", seat)
	assert.Less(t, took, 2*time.Second, "the answer waited for the hanging bidder")
	assert.Positive(t, hang.requests.Load())
}

// TestConfigHTTP checks the auction endpoint of a config's exchange over
// HTTP: 400 with nbr for invalid requests, gzip both ways, and 413 for a
// body past the cap (10 MB as sent, and 10 MB inflated from a small gzip
// body).
func TestConfigHTTP(t *testing.T) {
	d := newTestDSP(t, "only", 2, false)
	s, _ := launchConfig(t, testConfig(filepath.Join(t.TempDir(), "events.jsonl"), d))
	c := testClient(t)
	t.Run("invalid", func(t *testing.T) {
		for name, body := range map[string]string{
			"malformed":     `{"id":`,
			"trailing data": `{"id":"x","imp":[{"id":"1","banner":{"w":300,"h":250}}]} {}`,
			"no imp":        `{"id":"x","imp":[]}`,
		} {
			code, b := send(t, c, s.base, []byte(body), false, false)
			assert.Equal(t, http.StatusBadRequest, code, name)
			assert.Contains(t, string(b), `"nbr"`, name)
		}
	})
	t.Run("gzip", func(t *testing.T) {
		body, err := json.Marshal(slowRequest("gzip-1"))
		require.NoError(t, err)
		code, b := send(t, c, s.base, gzipped(t, body), true, true)
		require.Equal(t, http.StatusOK, code, string(b))
		var resp openrtb2.BidResponse
		require.NoError(t, json.Unmarshal(b, &resp))
		assert.Equal(t, "gzip-1", resp.ID)
	})
	t.Run("too large", func(t *testing.T) {
		big := bytes.Repeat([]byte(" "), 10<<20)
		code, _ := send(t, c, s.base, big, false, false)
		assert.Equal(t, http.StatusRequestEntityTooLarge, code, "10 MB sent")
		code, _ = send(t, c, s.base, gzipped(t, big), true, false)
		assert.Equal(t, http.StatusRequestEntityTooLarge, code, "10 MB inflated")
	})
}

// send posts body, gzipped when zipped says it is, and asking for a gzip
// answer when acceptGzip; it returns the status and the body, inflated.
func send(t *testing.T, c *http.Client, base string, body []byte, zipped, acceptGzip bool) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+pathAuction, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if zipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if acceptGzip {
		req.Header.Set("Accept-Encoding", "gzip") // set by hand, the transport leaves the body as sent
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if acceptGzip && resp.StatusCode == http.StatusOK {
		require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
		zr, err := gzip.NewReader(resp.Body)
		require.NoError(t, err)
		r = zr
	}
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestConfigBillingOnce calls the burl of one won impression 50 times at
// once, with the ledger in memory: every call answers 204, the account is
// charged once, one billing event is written and the DSP's own burl is
// fired once.
func TestConfigBillingOnce(t *testing.T) {
	d := newTestDSP(t, "dsp", 2, false)
	conf := testConfig(filepath.Join(t.TempDir(), "events.jsonl"), d)
	billOnce(t, conf, d)
}

// billOnce runs an exchange of conf with the one bidder d, wins an
// impression at 2.00 CPM (first price), calls its burl 50 times at once,
// and checks that it was billed once.
func billOnce(t *testing.T, conf map[string]any, d *testDSP) {
	t.Helper()
	s, _ := launchConfig(t, conf)
	c := testClient(t)
	req := slowRequest("bill-once")
	req.AT = 1
	code, resp := postAuction(t, c, s.base, req)
	require.Equal(t, http.StatusOK, code)
	_, bid := seatOf(t, resp)

	const calls = 50
	codes := make([]int, calls)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			<-gate
			r, err := c.Get(bid.BURL)
			if err != nil {
				return // codes[i] stays 0
			}
			_, _ = io.Copy(io.Discard, r.Body)
			_ = r.Body.Close()
			codes[i] = r.StatusCode
		})
	}
	close(gate)
	wg.Wait()
	for i, code := range codes {
		assert.Equal(t, http.StatusNoContent, code, "call %d", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bal, err := s.x.stores.balances.Balance(ctx, d.name)
	require.NoError(t, err)
	assert.Equal(t, int64(2000), bal.Committed, "2.00 CPM: 2000 micros, once") // 2.00/1000 of a unit
	assert.Zero(t, bal.Reserved)
	require.Eventually(t, func() bool { return d.bills.Load() > 0 }, 5*time.Second, 5*time.Millisecond)
	code, metrics := get(t, s.base+pathMetrics)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, metrics, `gavel_billed_micros_total{account="dsp"} 2000`)
	c.CloseIdleConnections() // the server would wait for the ones dialed and not used
	s.stop(t)                // the notifier sends what is queued; the events are flushed
	assert.Equal(t, int64(1), d.bills.Load(), "the DSP's burl fired")
	assert.Equal(t, 1, billingEvents(t, s.events))
}

// TestConfigServerLimits checks the server section's limits: with
// max_in_flight 1 and shed_status 503, a second auction while one runs is
// shed with 503; with max_request_size 2000, a 3000-byte body gets 413.
func TestConfigServerLimits(t *testing.T) {
	hang := newTestDSP(t, "hang", 2, true)
	conf := testConfig(filepath.Join(t.TempDir(), "events.jsonl"), hang)
	conf["server"] = map[string]any{"addr": "127.0.0.1:0", "max_in_flight": 1, "shed_status": 503, "max_request_size": 2000}
	s, _ := launchConfig(t, conf)
	c := testClient(t)

	body, err := json.Marshal(slowRequest("in-flight"))
	require.NoError(t, err)
	done := make(chan int, 1)
	go func() { // the bidder hangs: the auction ends at its tmax
		resp, err := c.Post(s.base+pathAuction, "application/json", bytes.NewReader(body))
		if err != nil {
			done <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		done <- resp.StatusCode
	}()
	require.Eventually(t, func() bool { return hang.requests.Load() == 1 }, 10*time.Second, time.Millisecond)
	code, _ := postAuction(t, c, s.base, slowRequest("shed"))
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, http.StatusNoContent, <-done, "the auction in flight ends at its tmax, nothing won")

	code, _ = send(t, c, s.base, bytes.Repeat([]byte(" "), 3000), false, false)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
}
