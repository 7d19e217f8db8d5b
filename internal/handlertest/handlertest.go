// Package handlertest is the end-to-end suite of gavelhttp's auction and
// notice endpoints: Run checks, over real HTTP on 127.0.0.1, that a server
// (net/http's, fasthttp's in adapters/gavelfasthttp) serving them answers
// as gavelhttp documents. It is for gavel's own tests only.
package handlertest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// Paths at which a Serve function mounts the endpoints.
const (
	AuctionPath = "/openrtb2/auction"
	BillingPath = "/notice/billing"
	LossPath    = "/notice/loss"
)

// Serve serves auction at AuctionPath and, when notices is not nil, its
// billing and loss endpoints at BillingPath and LossPath, on a real
// listener on 127.0.0.1 until the test ends, and returns the server's base
// URL ("http://127.0.0.1:port").
type Serve func(t *testing.T, auction *gavelhttp.AuctionHandler, notices *gavelhttp.Notices) string

// Run runs the suite against the servers of serve.
func Run(t *testing.T, serve Serve) {
	s := &suite{serve: serve}
	t.Run("WinnerAndPrice", s.winnerAndPrice)
	t.Run("NothingWonIs204WithNBR", s.nothingWon)
	t.Run("CurrencyErrorIs204WithTechnicalNBR", s.currencyError)
	t.Run("BadRequests", s.badRequests)
	t.Run("GzipBothWays", s.gzipBothWays)
	t.Run("GzipResponseOnlyWhenAccepted", s.gzipOnlyWhenAccepted)
	t.Run("HangingBidderDoesNotDelayPastTMax", s.hangingBidder)
	t.Run("ClosedAuctionIs503", s.closedAuction)
	t.Run("Shedding", s.shedding)
	t.Run("Notices", s.notices)
}

type suite struct{ serve Serve }

// handler returns a handler over an Auction of bidders, closed at the end
// of the test.
func handler(t *testing.T, bidders []gavel.Bidder, opts ...gavelhttp.HandlerOption) (*gavelhttp.AuctionHandler, *gavel.Auction) {
	t.Helper()
	a, err := gavel.New(gavel.WithBidders(bidders...))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	h, err := gavelhttp.NewAuctionHandler(a, opts...)
	require.NoError(t, err)
	return h, a
}

// BidRequest returns a first-price request for one banner imp (tmax 100
// ms), as JSON.
func BidRequest(t testing.TB) []byte {
	req := auctiontest.Request("req-1", auctiontest.BannerImp("1", 0.5, [2]int64{300, 250}))
	req.AT = 1
	data, err := json.Marshal(req)
	require.NoError(t, err)
	return data
}

func twoBidders() []gavel.Bidder {
	return []gavel.Bidder{
		auctiontest.Fixed("dsp-a", auctiontest.Bid("a1", "1", 2.5)),
		auctiontest.Fixed("dsp-b", auctiontest.Bid("b1", "1", 3.25)),
	}
}

func gzipped(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// client has no transparent decompression: the tests see the bytes sent.
var client = &http.Client{Transport: &http.Transport{DisableCompression: true}}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// post sends body to url with the headers given as key, value pairs.
func post(t *testing.T, method, url string, body []byte, kv ...string) answer {
	t.Helper()
	r, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Set(kv[i], kv[i+1])
	}
	resp, err := client.Do(r)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{resp.StatusCode, resp.Header, data}
}

// errorResponse decodes a JSON error body.
type errorResponse struct {
	Error    string   `json:"error"`
	NBR      int      `json:"nbr"`
	Problems []string `json:"problems"`
}

func (s *suite) winnerAndPrice(t *testing.T) {
	h, _ := handler(t, twoBidders())
	base := s.serve(t, h, nil)
	a := post(t, http.MethodPost, base+AuctionPath, BidRequest(t), "Content-Type", "application/json")

	require.Equal(t, http.StatusOK, a.status, string(a.body))
	assert.Equal(t, "2.6", a.header.Get("x-openrtb-version"))
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	assert.Equal(t, strconv.Itoa(len(a.body)), a.header.Get("Content-Length"))
	var br openrtb2.BidResponse
	require.NoError(t, json.Unmarshal(a.body, &br))
	assert.Equal(t, "req-1", br.ID)
	require.Len(t, br.SeatBid, 1)
	assert.Equal(t, "dsp-b", br.SeatBid[0].Seat)
	require.Len(t, br.SeatBid[0].Bid, 1)
	assert.Equal(t, "b1", br.SeatBid[0].Bid[0].ID)
	assert.InDelta(t, 3.25, br.SeatBid[0].Bid[0].Price, 1e-9)
	assert.Equal(t, int64(1), h.Stats().Won)
	assert.Equal(t, int64(1), h.Stats().Decoded)
}

func (s *suite) nothingWon(t *testing.T) {
	h, _ := handler(t, []gavel.Bidder{auctiontest.NoBid("dsp-a")})
	a := post(t, http.MethodPost, s.serve(t, h, nil)+AuctionPath, BidRequest(t))
	assert.Equal(t, http.StatusNoContent, a.status)
	assert.Equal(t, "2.6", a.header.Get(gavelhttp.HeaderOpenRTBVersion))
	assert.Equal(t, "500", a.header.Get(gavelhttp.HeaderNBR)) // gavel.NoBidNoDemand
	assert.Empty(t, a.body)
	assert.Equal(t, int64(1), h.Stats().NoBid)
}

func (s *suite) currencyError(t *testing.T) {
	h, _ := handler(t, twoBidders())
	req := auctiontest.Request("req-1", auctiontest.BannerImp("1", 0.5))
	req.Imp[0].BidFloorCur = "EUR" // no rate from EUR to USD
	data, err := json.Marshal(req)
	require.NoError(t, err)
	a := post(t, http.MethodPost, s.serve(t, h, nil)+AuctionPath, data)
	assert.Equal(t, http.StatusNoContent, a.status)
	assert.Equal(t, "1", a.header.Get(gavelhttp.HeaderNBR))
	assert.Equal(t, int64(1), h.Stats().NoBid)
}

func (s *suite) badRequests(t *testing.T) {
	const limit = 64 << 10 // under any server's own cap, so the handler's applies
	valid := BidRequest(t)
	tests := []struct {
		name     string
		method   string
		body     []byte
		encoding string
		status   int
		problems bool
		stat     func(gavelhttp.HandlerStats) int64
	}{
		{"invalid request", http.MethodPost, []byte(`{"id":"x","imp":[{"id":"1"},{"id":"1"}]}`), "", 400, true, func(s gavelhttp.HandlerStats) int64 { return s.Invalid }},
		{"empty body", http.MethodPost, nil, "", 400, false, func(s gavelhttp.HandlerStats) int64 { return s.Malformed }},
		{"malformed", http.MethodPost, []byte(`{"id":`), "", 400, false, func(s gavelhttp.HandlerStats) int64 { return s.Malformed }},
		{"trailing data", http.MethodPost, append(append([]byte{}, valid...), `{"id":"2"}`...), "", 400, false, func(s gavelhttp.HandlerStats) int64 { return s.Malformed }},
		{"GET", http.MethodGet, nil, "", 405, false, func(s gavelhttp.HandlerStats) int64 { return s.BadMethod }},
		{"body past the cap", http.MethodPost, bytes.Repeat([]byte(" "), limit+1), "", 413, false, func(s gavelhttp.HandlerStats) int64 { return s.TooLarge }},
		{"gzip bomb", http.MethodPost, gzipped(t, bytes.Repeat([]byte(" "), 2<<20)), "gzip", 413, false, func(s gavelhttp.HandlerStats) int64 { return s.TooLarge }},
		{"bad gzip", http.MethodPost, []byte("not gzip"), "gzip", 400, false, func(s gavelhttp.HandlerStats) int64 { return s.BadEncoding }},
		{"unknown encoding", http.MethodPost, valid, "br", 415, false, func(s gavelhttp.HandlerStats) int64 { return s.BadEncoding }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := handler(t, twoBidders(), gavelhttp.WithMaxRequestSize(limit))
			var kv []string
			if tt.encoding != "" {
				kv = []string{"Content-Encoding", tt.encoding}
			}
			a := post(t, tt.method, s.serve(t, h, nil)+AuctionPath, tt.body, kv...)
			require.Equal(t, tt.status, a.status, string(a.body))
			assert.Equal(t, "2.6", a.header.Get(gavelhttp.HeaderOpenRTBVersion))
			assert.Equal(t, "application/json", a.header.Get("Content-Type"))
			if tt.status == 405 {
				assert.Equal(t, http.MethodPost, a.header.Get("Allow"))
			}
			var body errorResponse
			require.NoError(t, json.Unmarshal(a.body, &body))
			assert.Equal(t, 2, body.NBR)
			assert.NotEmpty(t, body.Error)
			if tt.problems {
				assert.NotEmpty(t, body.Problems)
			}
			assert.Equal(t, int64(1), tt.stat(h.Stats()))
			assert.Zero(t, h.Stats().Won)
		})
	}
}

func (s *suite) gzipBothWays(t *testing.T) {
	h, _ := handler(t, twoBidders())
	a := post(t, http.MethodPost, s.serve(t, h, nil)+AuctionPath, gzipped(t, BidRequest(t)),
		"Content-Encoding", "gzip", "Accept-Encoding", "gzip")
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	require.Equal(t, "gzip", a.header.Get("Content-Encoding"))
	assert.Contains(t, a.header.Values("Vary"), "Accept-Encoding")
	zr, err := gzip.NewReader(bytes.NewReader(a.body))
	require.NoError(t, err)
	var br openrtb2.BidResponse
	require.NoError(t, json.NewDecoder(zr).Decode(&br))
	require.Len(t, br.SeatBid, 1)
	assert.InDelta(t, 3.25, br.SeatBid[0].Bid[0].Price, 1e-9)
}

func (s *suite) gzipOnlyWhenAccepted(t *testing.T) {
	h, _ := handler(t, twoBidders())
	base := s.serve(t, h, nil)
	for _, tt := range []struct {
		accept string
		gzip   bool
	}{
		{"", false},
		{"gzip", true},
		{"deflate, gzip;q=0.5", true},
		{"gzip;q=0", false},
		{"br", false},
	} {
		a := post(t, http.MethodPost, base+AuctionPath, BidRequest(t), "Accept-Encoding", tt.accept)
		require.Equal(t, http.StatusOK, a.status)
		assert.Equal(t, tt.gzip, a.header.Get("Content-Encoding") == "gzip", tt.accept)
	}
}

// A hanging bidder does not delay the answer much past the request's
// tmax (100 ms): real time, with a generous bound.
func (s *suite) hangingBidder(t *testing.T) {
	h, _ := handler(t, []gavel.Bidder{
		auctiontest.Fixed("dsp-a", auctiontest.Bid("a1", "1", 2.5)),
		auctiontest.Hang("slow"),
	})
	base := s.serve(t, h, nil)
	start := time.Now()
	a := post(t, http.MethodPost, base+AuctionPath, BidRequest(t))
	assert.Less(t, time.Since(start), 100*time.Millisecond+time.Second)
	require.Equal(t, http.StatusOK, a.status)
	var br openrtb2.BidResponse
	require.NoError(t, json.Unmarshal(a.body, &br))
	assert.Equal(t, "dsp-a", br.SeatBid[0].Seat)
}

func (s *suite) closedAuction(t *testing.T) {
	h, a := handler(t, twoBidders())
	require.NoError(t, a.Close(context.Background()))
	ans := post(t, http.MethodPost, s.serve(t, h, nil)+AuctionPath, BidRequest(t))
	assert.Equal(t, http.StatusServiceUnavailable, ans.status)
	var body errorResponse
	require.NoError(t, json.Unmarshal(ans.body, &body))
	assert.Equal(t, 1, body.NBR)
	assert.Equal(t, int64(1), h.Stats().Errors)
}

// A request past WithMaxInFlight is shed while the auction in flight goes
// on, 204 or 503 as configured.
func (s *suite) shedding(t *testing.T) {
	for _, tt := range []struct {
		status        int
		header, value string
	}{
		{http.StatusNoContent, gavelhttp.HeaderNBR, strconv.Itoa(gavelhttp.ShedNBR)},
		{http.StatusServiceUnavailable, "Retry-After", "1"},
	} {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			release := make(chan struct{})
			h, _ := handler(t, []gavel.Bidder{auctiontest.Stuck("stuck", release)},
				gavelhttp.WithMaxInFlight(1), gavelhttp.WithShedStatus(tt.status))
			base := s.serve(t, h, nil)
			req := auctiontest.Request("req-1", auctiontest.BannerImp("1", 0.5))
			req.TMax = 10_000
			body, err := json.Marshal(req)
			require.NoError(t, err)

			var wg sync.WaitGroup
			wg.Go(func() { // in flight until released
				a := post(t, http.MethodPost, base+AuctionPath, body)
				assert.Equal(t, http.StatusNoContent, a.status)
			})
			require.Eventually(t, func() bool { return h.Stats().InFlight == 1 }, 10*time.Second, time.Millisecond)
			a := post(t, http.MethodPost, base+AuctionPath, body)
			close(release)
			wg.Wait()
			assert.Equal(t, tt.status, a.status)
			assert.Equal(t, tt.value, a.header.Get(tt.header))
			assert.Equal(t, "2.6", a.header.Get(gavelhttp.HeaderOpenRTBVersion))
			assert.Equal(t, "1", a.header.Get(gavelhttp.HeaderShed))
			assert.Equal(t, int64(1), h.Stats().Shed)
			assert.Equal(t, int64(1), h.Stats().Decoded)
		})
	}
}

// notices: a winner's billing URL bills once (retries answer 204), its
// loss notice then answers 409, and bad tokens and methods are refused.
func (s *suite) notices(t *testing.T) {
	ctx := context.Background()
	ledger, err := gavel.NewMemoryLedger()
	require.NoError(t, err)
	require.NoError(t, ledger.SetBudget(ctx, gavel.Budget{Account: "dsp", Amount: 1_000_000}))
	a, err := gavel.New(gavel.WithBidders(auctiontest.Fixed("dsp",
		auctiontest.Bid("b1", "1", 3.10), auctiontest.Bid("b2", "2", 4.00))), gavel.WithLedger(ledger))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(ctx) })
	notifier, err := gavelhttp.NewNotifier(gavelhttp.WithAllowPrivateNetworks(true))
	require.NoError(t, err)
	t.Cleanup(func() { _ = notifier.Close(ctx) })
	keys, err := gavelhttp.NewKeys(gavelhttp.Key{ID: "k1", Secret: bytes.Repeat([]byte{'a'}, gavelhttp.MinKeyBytes)})
	require.NoError(t, err)
	n, err := gavelhttp.NewNotices(a, keys, "http://exchange.example"+BillingPath, notifier)
	require.NoError(t, err)
	h, err := gavelhttp.NewAuctionHandler(a, gavelhttp.WithNotices(n))
	require.NoError(t, err)
	base := s.serve(t, h, n)

	req := auctiontest.Request("req-1", auctiontest.BannerImp("1", 1.00), auctiontest.BannerImp("2", 2.00))
	body, err := json.Marshal(req)
	require.NoError(t, err)
	ans := post(t, http.MethodPost, base+AuctionPath, body)
	require.Equal(t, http.StatusOK, ans.status, string(ans.body))
	var br openrtb2.BidResponse
	require.NoError(t, json.Unmarshal(ans.body, &br))
	require.Len(t, br.SeatBid, 1)
	require.Len(t, br.SeatBid[0].Bid, 2)
	var tokens []string
	for _, b := range br.SeatBid[0].Bid {
		u, err := url.Parse(b.BURL)
		require.NoError(t, err)
		require.Equal(t, BillingPath, u.Path)
		tokens = append(tokens, url.QueryEscape(u.Query().Get("t")))
	}
	before, err := ledger.Balance(ctx, "dsp")
	require.NoError(t, err)
	require.Positive(t, before.Reserved)

	bill := base + BillingPath + "?t=" + tokens[0]
	assert.Equal(t, http.StatusNoContent, post(t, http.MethodGet, bill, nil).status)
	billed, err := ledger.Balance(ctx, "dsp")
	require.NoError(t, err)
	require.Positive(t, billed.Committed)
	assert.Equal(t, http.StatusNoContent, post(t, http.MethodPost, bill, nil).status, "a retry")
	assert.Equal(t, http.StatusConflict, post(t, http.MethodGet, base+LossPath+"?t="+tokens[0], nil).status)
	assert.Equal(t, http.StatusNoContent, post(t, http.MethodGet, base+LossPath+"?t="+tokens[1], nil).status)
	assert.Equal(t, http.StatusConflict, post(t, http.MethodGet, base+BillingPath+"?t="+tokens[1], nil).status)
	after, err := ledger.Balance(ctx, "dsp")
	require.NoError(t, err)
	assert.Zero(t, after.Reserved)
	assert.Equal(t, billed.Committed, after.Committed, "billed once")

	assert.Equal(t, http.StatusBadRequest, post(t, http.MethodGet, base+BillingPath+"?t=garbage", nil).status)
	assert.Equal(t, http.StatusBadRequest, post(t, http.MethodGet, base+BillingPath, nil).status)
	tampered := []byte(tokens[0])
	tampered[len(tampered)/2] ^= 1
	st := post(t, http.MethodGet, base+BillingPath+"?t="+string(tampered), nil).status
	assert.True(t, st == http.StatusForbidden || st == http.StatusBadRequest, "status %d", st)
	a405 := post(t, http.MethodPut, bill, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, a405.status)
	assert.Equal(t, "GET, POST", a405.header.Get("Allow"))
	assert.True(t, strings.HasPrefix(a405.header.Get("Content-Type"), "text/plain"), a405.header.Get("Content-Type"))
}
