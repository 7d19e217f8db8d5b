package gavelhttp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// newHandler returns a handler over an Auction of bidders, closed at the
// end of the test.
func newHandler(t *testing.T, bidders []gavel.Bidder, opts ...gavelhttp.HandlerOption) *gavelhttp.AuctionHandler {
	t.Helper()
	a, err := gavel.New(gavel.WithBidders(bidders...))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	h, err := gavelhttp.NewAuctionHandler(a, opts...)
	require.NoError(t, err)
	return h
}

// bidRequest returns a first-price request for one banner imp, as JSON.
func bidRequest(t *testing.T) []byte {
	t.Helper()
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

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// errorResponse decodes a JSON error body.
type errorResponse struct {
	Error    string   `json:"error"`
	NBR      int      `json:"nbr"`
	Problems []string `json:"problems"`
}

func TestWinnerAndPriceOverHTTP(t *testing.T) {
	h := newHandler(t, twoBidders())
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(bidRequest(t)))
	require.NoError(t, err)
	defer resp.Body.Close()

	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "2.6", resp.Header.Get("x-openrtb-version"))
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var br openrtb2.BidResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&br))
	assert.Equal(t, "req-1", br.ID)
	require.Len(t, br.SeatBid, 1)
	assert.Equal(t, "dsp-b", br.SeatBid[0].Seat)
	require.Len(t, br.SeatBid[0].Bid, 1)
	assert.Equal(t, "b1", br.SeatBid[0].Bid[0].ID)
	assert.InDelta(t, 3.25, br.SeatBid[0].Bid[0].Price, 1e-9)
	assert.Equal(t, int64(1), h.Stats().Won)
	assert.Equal(t, int64(1), h.Stats().Decoded)
}

func TestNothingWonIs204WithNBR(t *testing.T) {
	h := newHandler(t, []gavel.Bidder{auctiontest.NoBid("dsp-a")})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(bidRequest(t))))

	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Equal(t, "2.6", rec.Header().Get(gavelhttp.HeaderOpenRTBVersion))
	assert.Equal(t, "500", rec.Header().Get(gavelhttp.HeaderNBR)) // gavel.NoBidNoDemand
	assert.Zero(t, rec.Body.Len())
	assert.Equal(t, int64(1), h.Stats().NoBid)
}

func TestCurrencyErrorIs204WithTechnicalNBR(t *testing.T) {
	h := newHandler(t, twoBidders())
	req := auctiontest.Request("req-1", auctiontest.BannerImp("1", 0.5))
	req.Imp[0].BidFloorCur = "EUR" // no rate from EUR to USD
	data, err := json.Marshal(req)
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(data)))
	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Equal(t, "1", rec.Header().Get(gavelhttp.HeaderNBR))
	assert.Equal(t, int64(1), h.Stats().NoBid)
}

func TestBadRequests(t *testing.T) {
	valid := bidRequest(t)
	tests := []struct {
		name     string
		method   string
		body     []byte
		encoding string
		status   int
		problems bool
		stat     func(gavelhttp.HandlerStats) int64
	}{
		{"invalid request", http.MethodPost, []byte(`{"id":"","imp":[]}`), "", 400, true, func(s gavelhttp.HandlerStats) int64 { return s.Invalid }},
		{"empty body", http.MethodPost, nil, "", 400, false, func(s gavelhttp.HandlerStats) int64 { return s.Malformed }},
		{"malformed", http.MethodPost, []byte(`{"id":`), "", 400, false, func(s gavelhttp.HandlerStats) int64 { return s.Malformed }},
		{"trailing data", http.MethodPost, append(append([]byte{}, valid...), `{"id":"2"}`...), "", 400, false, func(s gavelhttp.HandlerStats) int64 { return s.Malformed }},
		{"trailing garbage", http.MethodPost, append(append([]byte{}, valid...), 'x'), "", 400, false, func(s gavelhttp.HandlerStats) int64 { return s.Malformed }},
		{"GET", http.MethodGet, nil, "", 405, false, func(s gavelhttp.HandlerStats) int64 { return s.BadMethod }},
		{"10 MB body", http.MethodPost, bytes.Repeat([]byte(" "), 10<<20), "", 413, false, func(s gavelhttp.HandlerStats) int64 { return s.TooLarge }},
		{"gzip bomb", http.MethodPost, gzipped(t, bytes.Repeat([]byte(" "), 2<<20)), "gzip", 413, false, func(s gavelhttp.HandlerStats) int64 { return s.TooLarge }},
		{"bad gzip", http.MethodPost, []byte("not gzip"), "gzip", 400, false, func(s gavelhttp.HandlerStats) int64 { return s.BadEncoding }},
		{"unknown encoding", http.MethodPost, valid, "br", 415, false, func(s gavelhttp.HandlerStats) int64 { return s.BadEncoding }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, twoBidders())
			r := httptest.NewRequest(tt.method, "/", bytes.NewReader(tt.body))
			if tt.encoding != "" {
				r.Header.Set("Content-Encoding", tt.encoding)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			assert.Equal(t, "2.6", rec.Header().Get(gavelhttp.HeaderOpenRTBVersion))
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var body errorResponse
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
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

func TestUnknownFieldsAreAccepted(t *testing.T) {
	h := newHandler(t, twoBidders())
	body := bytes.Replace(bidRequest(t), []byte(`{`), []byte(`{"future_field":{"a":1},`), 1)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

func TestInvalidRequestOverHTTP(t *testing.T) {
	h := newHandler(t, twoBidders())
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"id":"x","imp":[{"id":"1"},{"id":"1"}]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	var body errorResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, 2, body.NBR)
	assert.NotEmpty(t, body.Problems)
}

func TestTooLargeOverHTTP(t *testing.T) {
	h := newHandler(t, twoBidders())
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(bytes.Repeat([]byte(" "), 10<<20)))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}

func TestGzipBothWaysOverHTTP(t *testing.T) {
	h := newHandler(t, twoBidders())
	srv := httptest.NewServer(h)
	defer srv.Close()

	r, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(gzipped(t, bidRequest(t))))
	require.NoError(t, err)
	r.Header.Set("Content-Encoding", "gzip")
	r.Header.Set("Accept-Encoding", "gzip") // set by hand, so the client does not inflate
	resp, err := srv.Client().Do(r)
	require.NoError(t, err)
	defer resp.Body.Close()

	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	zr, err := gzip.NewReader(resp.Body)
	require.NoError(t, err)
	var br openrtb2.BidResponse
	require.NoError(t, json.NewDecoder(zr).Decode(&br))
	require.Len(t, br.SeatBid, 1)
	assert.InDelta(t, 3.25, br.SeatBid[0].Bid[0].Price, 1e-9)
}

func TestGzipResponseOnlyWhenAccepted(t *testing.T) {
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
		h := newHandler(t, twoBidders())
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(bidRequest(t)))
		if tt.accept != "" {
			r.Header.Set("Accept-Encoding", tt.accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, tt.gzip, rec.Header().Get("Content-Encoding") == "gzip", tt.accept)
	}
}

// A hanging bidder does not delay the answer past the request's tmax: the
// fake clock of the bubble shows the exact time taken.
func TestHangingBidderDoesNotDelayPastTMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(t, []gavel.Bidder{
			auctiontest.Fixed("dsp-a", auctiontest.Bid("a1", "1", 2.5)),
			auctiontest.Hang("slow"),
		})
		body := bidRequest(t) // tmax 100 ms
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))

		assert.LessOrEqual(t, time.Since(start), 100*time.Millisecond)
		require.Equal(t, http.StatusOK, rec.Code)
		var br openrtb2.BidResponse
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &br))
		assert.Equal(t, "dsp-a", br.SeatBid[0].Seat)
	})
}

// The request's context is Run's: a client that goes away ends the auction.
func TestClientGoneEndsTheAuction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(t, []gavel.Bidder{auctiontest.Hang("slow")})
		ctx, cancel := context.WithCancel(context.Background())
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(bidRequest(t)))
		time.AfterFunc(10*time.Millisecond, cancel)
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)

		assert.Equal(t, 10*time.Millisecond, time.Since(start))
		assert.Equal(t, int64(1), h.Stats().Canceled)
	})
}

func TestNewAuctionHandlerReportsEveryProblem(t *testing.T) {
	_, err := gavelhttp.NewAuctionHandler(nil,
		gavelhttp.WithMaxRequestSize(0),
		gavelhttp.WithMaxInFlight(-1),
		gavelhttp.WithShedStatus(http.StatusTeapot))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, want := range []string{"auction must not be nil", "max request size", "max in flight", "shed status"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestDefaults(t *testing.T) {
	assert.Equal(t, int64(1<<20), gavelhttp.DefaultMaxRequestSize)
	assert.Equal(t, http.StatusNoContent, gavelhttp.DefaultShedStatus)
	h := newHandler(t, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(bidRequest(t))))
	assert.Equal(t, http.StatusNoContent, rec.Code) // no bidders: nothing wins
	assert.Equal(t, "502", rec.Header().Get(gavelhttp.HeaderNBR))
}

// Pooled gzip readers, writers and buffers are never shared by two
// requests: concurrent gzip requests each get their own answer (-race).
func TestConcurrentGzipRequests(t *testing.T) {
	h := newHandler(t, twoBidders())
	srv := httptest.NewServer(h)
	defer srv.Close()

	ids := make([]string, 16)
	bodies := make([][]byte, 16)
	for i := range bodies {
		ids[i] = "req-" + strconv.Itoa(i)
		req := auctiontest.Request(ids[i], auctiontest.BannerImp("1", 0.5))
		req.AT = 1
		req.TMax = 1000 // in-process bidders, but a loaded machine under -race
		data, err := json.Marshal(req)
		require.NoError(t, err)
		bodies[i] = gzipped(t, data)
	}
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Go(func() {
			r, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(bodies[i]))
			if !assert.NoError(t, err) {
				return
			}
			r.Header.Set("Content-Encoding", "gzip")
			resp, err := srv.Client().Do(r) // the client asks for gzip and inflates
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			var br openrtb2.BidResponse
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.NoError(t, json.NewDecoder(resp.Body).Decode(&br))
			assert.Equal(t, ids[i], br.ID)
		})
	}
	wg.Wait()
	assert.Equal(t, int64(16), h.Stats().Won)
}

func TestClosedAuctionIs503(t *testing.T) {
	a, err := gavel.New(gavel.WithBidders(twoBidders()...))
	require.NoError(t, err)
	h, err := gavelhttp.NewAuctionHandler(a)
	require.NoError(t, err)
	require.NoError(t, a.Close(context.Background()))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(bidRequest(t))))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	var body errorResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	assert.Equal(t, 1, body.NBR)
	assert.Equal(t, int64(1), h.Stats().Errors)
}

// A gzip body is capped as sent too: members that inflate to nothing are
// not read past the cap.
func TestGzipCappedAsSent(t *testing.T) {
	h := newHandler(t, twoBidders(), gavelhttp.WithMaxRequestSize(1000))
	empty := gzipped(t, nil)
	body := bytes.Repeat(empty, 2000/len(empty)+1)
	r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(bytes.NewReader(body))) // no Content-Length
	r.Header.Set("Content-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.Equal(t, int64(1), h.Stats().TooLarge)

	// A body of exactly the cap is read whole.
	body = gzipped(t, bidRequest(t))
	h = newHandler(t, twoBidders(), gavelhttp.WithMaxRequestSize(int64(max(len(body), len(bidRequest(t))))))
	r = httptest.NewRequest(http.MethodPost, "/", io.MultiReader(bytes.NewReader(body)))
	r.Header.Set("Content-Encoding", "gzip")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

// With WithNotices, the winner's burl in the answer points at the
// embedder's billing endpoint, and a billing notice there commits the hold.
func TestWithNoticesRewritesBurl(t *testing.T) {
	ctx := context.Background()
	ledger, err := gavel.NewMemoryLedger()
	require.NoError(t, err)
	require.NoError(t, ledger.SetBudget(ctx, gavel.Budget{Account: "dsp-b", Amount: 1_000_000}))
	bid := auctiontest.Bid("b1", "1", 3.25) // no burl of its own: nothing to fire
	a, err := gavel.New(gavel.WithBidders(auctiontest.Fixed("dsp-b", bid)), gavel.WithLedger(ledger))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(ctx) })

	keys, err := gavelhttp.NewKeys(gavelhttp.Key{ID: "k1", Secret: bytes.Repeat([]byte("s"), gavelhttp.MinKeyBytes)})
	require.NoError(t, err)
	notifier, err := gavelhttp.NewNotifier()
	require.NoError(t, err)
	t.Cleanup(func() { _ = notifier.Close(ctx) })
	notices, err := gavelhttp.NewNotices(a, keys, "https://exchange.example/notice/billing", notifier)
	require.NoError(t, err)
	h, err := gavelhttp.NewAuctionHandler(a, gavelhttp.WithNotices(notices))
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(bidRequest(t))))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var br openrtb2.BidResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &br))
	burl := br.SeatBid[0].Bid[0].BURL
	assert.True(t, strings.HasPrefix(burl, "https://exchange.example/notice/billing?t="), burl)

	before, err := ledger.Balance(ctx, "dsp-b")
	require.NoError(t, err)
	bill := httptest.NewRecorder()
	notices.BillingHandler().ServeHTTP(bill, httptest.NewRequest(http.MethodGet, burl, nil))
	assert.Equal(t, http.StatusNoContent, bill.Code, bill.Body.String())
	after, err := ledger.Balance(ctx, "dsp-b")
	require.NoError(t, err)
	assert.NotEqual(t, before, after, "the billing notice moved the hold")
}

func TestWithNilNoticesIsRefused(t *testing.T) {
	a, err := gavel.New()
	require.NoError(t, err)
	_, err = gavelhttp.NewAuctionHandler(a, gavelhttp.WithNotices(nil))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	assert.Contains(t, err.Error(), "notices must not be nil")
}
