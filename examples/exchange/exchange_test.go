package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// A fasthttp.Server (-fast-addr) leaves two goroutines behind that nothing
// stops: its worker pool's cleaner outlives Shutdown by up to
// MaxIdleWorkerDuration, and fasthttp keeps its responses' Date header
// fresh in one for good.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}

// started is a running exchange for a test.
type started struct {
	x      *exchange
	base   string
	events string
	cancel context.CancelFunc
	done   chan error
	out    *bytes.Buffer
}

// start runs the demo exchange on 127.0.0.1:0 with cfg's draining hook,
// and returns once it serves.
func start(t *testing.T, draining func(base string)) *started {
	t.Helper()
	var s *started
	cfg := config{}
	if draining != nil {
		cfg.draining = func() { draining(s.base) }
	}
	s = launch(t, cfg)
	return s
}

// launch runs an exchange with cfg, its address 127.0.0.1:0 unless a
// config file gives it, its events in the test's directory unless a
// config file names them, and returns once it serves. The exchange stops
// when the test ends.
func launch(t *testing.T, cfg config) *started {
	t.Helper()
	s := &started{events: filepath.Join(t.TempDir(), "events.jsonl"), done: make(chan error, 1), out: &bytes.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	up := make(chan *exchange, 1)
	if cfg.file == "" {
		cfg.addr, cfg.events = "127.0.0.1:0", s.events
	}
	cfg.shutdownTimeout = 5 * time.Second
	cfg.serving = func(x *exchange) { up <- x }
	go func() { s.done <- run(ctx, cfg, s.out) }()
	select {
	case s.x = <-up:
		s.base = s.x.base
	case err := <-s.done:
		cancel()
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels the exchange and requires run to return nil within 10s.
func (s *started) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return within 10s of ctx being canceled")
	}
}

func request(id, user string) *openrtb2.BidRequest {
	return &openrtb2.BidRequest{
		ID: id, TMax: 200, Cur: []string{"USD"},
		Imp:    []openrtb2.Imp{{ID: "1", BidFloor: 0.5, BidFloorCur: "USD", Banner: &openrtb2.Banner{Format: []openrtb2.Format{{W: 300, H: 250}}}}},
		Site:   &openrtb2.Site{Domain: "news.example"},
		Device: &openrtb2.Device{Geo: &openrtb2.Geo{Country: "USA"}}, // spring-sale's country
		User:   &openrtb2.User{ID: user},
	}
}

func post(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// winningAuction posts demo requests until one is won (the demo bidders
// sometimes fail or time out together) and returns its response.
func winningAuction(t *testing.T, base string) *openrtb2.BidResponse {
	t.Helper()
	for i := range 20 {
		body, err := json.Marshal(request(fmt.Sprintf("win-%d", i), "user-1"))
		require.NoError(t, err)
		code, b := post(t, base+pathAuction, body)
		if code == http.StatusNoContent {
			continue
		}
		require.Equal(t, http.StatusOK, code, string(b))
		var resp openrtb2.BidResponse
		require.NoError(t, json.Unmarshal(b, &resp))
		return &resp
	}
	t.Fatal("no auction of 20 was won")
	return nil
}

func TestAuctionAndBilling(t *testing.T) {
	s := start(t, nil)
	assert.Contains(t, s.out.String(), s.base+pathAuction)
	assert.Contains(t, s.out.String(), s.events)

	resp := winningAuction(t, s.base)
	require.NotEmpty(t, resp.SeatBid)
	bid := resp.SeatBid[0].Bid[0]
	require.True(t, strings.HasPrefix(bid.BURL, s.base+pathBilling+"?t="), bid.BURL)

	code, _ := get(t, bid.BURL)
	assert.Equal(t, http.StatusNoContent, code)
	code, _ = get(t, bid.BURL) // a retry bills nothing more
	assert.Equal(t, http.StatusNoContent, code)

	s.stop(t)
	assert.Equal(t, []string{resp.ID}, billedAuctions(t, s.events), "one billing event, of the auction won")
}

func readEvents(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var events []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		events = append(events, e)
	}
	require.NoError(t, sc.Err())
	return events
}

func TestEventsFlushedOnShutdown(t *testing.T) {
	s := start(t, nil)
	winningAuction(t, s.base)
	s.stop(t)
	types := map[any]int{}
	for _, e := range readEvents(t, s.events) {
		types[e["type"]]++
	}
	assert.Positive(t, types["auction"], "auction events: %v", types)
}

func TestHealthAndReadiness(t *testing.T) {
	var readyDuring int
	var once sync.Once
	s := start(t, func(base string) {
		once.Do(func() { readyDuring, _ = get(t, base+pathReadyz) })
	})
	code, _ := get(t, s.base+pathHealthz)
	assert.Equal(t, http.StatusOK, code)
	code, _ = get(t, s.base+pathReadyz)
	assert.Equal(t, http.StatusOK, code)
	s.stop(t)
	assert.Equal(t, http.StatusServiceUnavailable, readyDuring, "readyz while shutting down")
}

func TestMetrics(t *testing.T) {
	s := start(t, nil)
	winningAuction(t, s.base)
	code, body := get(t, s.base+pathMetrics)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "gavel_auctions_total")
	assert.Contains(t, body, `gavel_bidder_auctions_total{bidder="swift"`)
	assert.Contains(t, body, `gavel_model_observations{model="house_ctr"}`, "the house models are watched")
}

func TestInvalidRequests(t *testing.T) {
	s := start(t, nil)
	for name, body := range map[string]string{
		"malformed":     `{"id":`,
		"trailing data": `{"id":"x","imp":[{"id":"1","banner":{"w":300,"h":250}}]} {}`,
		"no imp":        `{"id":"x","imp":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			code, b := post(t, s.base+pathAuction, []byte(body))
			assert.Equal(t, http.StatusBadRequest, code, string(b))
			assert.Contains(t, string(b), `"nbr"`)
		})
	}
}

func TestTamperedBillingToken(t *testing.T) {
	s := start(t, nil)
	bid := winningAuction(t, s.base).SeatBid[0].Bid[0]
	code, _ := get(t, bid.BURL[:len(bid.BURL)-2]+"AA")
	assert.Equal(t, http.StatusForbidden, code)
}

// clearOfTurn waits, when end comes within margin, until it has passed:
// a test that counts within a period (an hour of a frequency cap, a day of
// a budget) must not see the period turn while it runs.
func clearOfTurn(t *testing.T, end time.Time, margin time.Duration) {
	t.Helper()
	if wait := time.Until(end); wait < margin {
		t.Logf("waiting %v for the period to turn", wait)
		time.Sleep(wait + 10*time.Millisecond)
	}
}
