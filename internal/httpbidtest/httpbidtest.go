// Package httpbidtest is the conformance suite of gavel's HTTP bidders:
// Run checks that a bidder on any HTTP client (net/http in the core,
// fasthttp in adapters/gavelfasthttp) keeps the contract of
// gavel.NewHTTPBidder against real servers on 127.0.0.1. It is for gavel's
// own tests only.
package httpbidtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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
)

// Config is what a test asks of the bidder under test, each field the
// counterpart of an option of gavel.NewHTTPBidder.
type Config struct {
	MaxResponseSize int64       // WithHTTPMaxResponseSize; 0 for the default
	GzipRequests    bool        // WithHTTPGzipRequests
	Headers         [][2]string // WithHTTPHeader, in order
	// MaxConnsPerHost bounds the connections to the endpoint's host; a
	// call past it waits for one. 0 for the bidder's default.
	MaxConnsPerHost int
}

// A Bidder is an HTTP bidder under test.
type Bidder interface {
	gavel.Bidder
	CloseIdleConnections()
}

// A Factory returns a bidder named name that posts to endpoint, configured
// as c. It fails t when it cannot.
type Factory func(t testing.TB, name, endpoint string, c Config) Bidder

// Run runs the suite against the bidders of newBidder.
func Run(t *testing.T, newBidder Factory) {
	s := &suite{newBidder: newBidder}
	t.Run("SendsRequest", s.sendsRequest)
	t.Run("GzipRequest", s.gzipRequest)
	t.Run("Answers", s.answers)
	t.Run("TransportError", s.transportError)
	t.Run("HonoursDeadline", s.honoursDeadline)
	t.Run("TimesOutInAuction", s.timesOutInAuction)
	t.Run("SecondPriceAuction", s.secondPrice)
	t.Run("TMaxSent", s.tmaxSent)
	t.Run("ReusesConnection", s.reusesConnection)
	t.Run("ConnectionLimitPerHost", s.connLimit)
	t.Run("CloseIdleConnections", s.closeIdle)
}

type suite struct{ newBidder Factory }

// bidder returns a bidder whose idle connections are closed when the test
// ends, before its server is.
func (s *suite) bidder(t testing.TB, name, endpoint string, c Config) Bidder {
	b := s.newBidder(t, name, endpoint, c)
	require.NotNil(t, b)
	t.Cleanup(b.CloseIdleConnections)
	return b
}

// NewServer starts a test server on 127.0.0.1, closed when the test ends.
func NewServer(t testing.TB, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// Bidding answers every bid request with one bid for its first imp at price.
func Bidding(t testing.TB, seat string, price float64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req openrtb2.BidRequest
		if !assert.NoError(t, json.NewDecoder(r.Body).Decode(&req)) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		resp := auctiontest.Response(req.ID, seat, auctiontest.Bid(seat+"-1", req.Imp[0].ID, price))
		w.Header().Set("Content-Type", "application/json")
		assert.NoError(t, json.NewEncoder(w).Encode(resp))
	}
}

// Request is the bid request the suite sends.
func Request() *openrtb2.BidRequest {
	req := auctiontest.Request("req-1", auctiontest.BannerImp("1", 1.0, [2]int64{300, 250}))
	req.Site = &openrtb2.Site{ID: "site-1", Domain: "news.example"}
	return req
}

// Gzipped returns p gzip-compressed.
func Gzipped(t testing.TB, p []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(p)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func mustAuction(t testing.TB, opts ...gavel.Option) *gavel.Auction {
	a, err := gavel.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return a
}

func (s *suite) sendsRequest(t *testing.T) {
	type seen struct {
		method string
		header http.Header
		body   []byte
	}
	got := make(chan seen, 1)
	srv := NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		got <- seen{r.Method, r.Header.Clone(), body}
		w.WriteHeader(http.StatusNoContent)
	})
	b := s.bidder(t, "dsp", srv.URL+"/bid?x=1", Config{Headers: [][2]string{{"X-Api-Key", "secret"}, {"x-api-key", "second"}}})
	assert.Equal(t, "dsp", b.Name())
	// Calls one after the other, with bodies of different lengths: each
	// carries the headers once, and its own body and length.
	for i, id := range []string{"req-1", "a-much-longer-request-id", "r"} {
		req := Request()
		req.ID = id
		resp, err := b.Bid(context.Background(), req)
		require.NoError(t, err)
		assert.Nil(t, resp)

		sn := <-got
		assert.Equal(t, http.MethodPost, sn.method)
		assert.Equal(t, []string{"application/json"}, sn.header.Values("Content-Type"), "call %d", i)
		assert.Equal(t, []string{"2.6"}, sn.header.Values("X-Openrtb-Version"), "call %d", i)
		assert.Equal(t, []string{"gzip"}, sn.header.Values("Accept-Encoding"), "call %d", i)
		assert.Empty(t, sn.header.Get("Content-Encoding"))
		assert.Equal(t, []string{"secret", "second"}, sn.header.Values("X-Api-Key"), "call %d", i)
		assert.Equal(t, []string{strconv.Itoa(len(sn.body))}, sn.header.Values("Content-Length"), "call %d", i)
		want, err := json.Marshal(req)
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(sn.body), "call %d", i)
	}
}

func (s *suite) gzipRequest(t *testing.T) {
	got := make(chan []byte, 1)
	srv := NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "gzip", r.Header.Get("Content-Encoding"))
		zr, err := gzip.NewReader(r.Body)
		if !assert.NoError(t, err) {
			w.WriteHeader(http.StatusBadRequest)
			got <- nil
			return
		}
		body, err := io.ReadAll(zr)
		assert.NoError(t, err)
		got <- body
		w.WriteHeader(http.StatusNoContent)
	})
	b := s.bidder(t, "dsp", srv.URL, Config{GzipRequests: true})
	req := Request()
	want, err := json.Marshal(req)
	require.NoError(t, err)
	for range 3 { // the pooled writer is reused correctly
		_, err := b.Bid(context.Background(), req)
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(<-got))
	}
}

func (s *suite) answers(t *testing.T) {
	const limit = 16 << 10
	bidJSON := []byte(`{"id":"req-1","seatbid":[{"seat":"dsp","bid":[{"id":"b1","impid":"1","price":2.5,"adm":"<div/>"}]}],"cur":"USD"}`)
	random := make([]byte, 2*limit)
	_, _ = rand.Read(random)
	bomb := bytes.Repeat([]byte(" "), 64*limit) // whitespace: valid JSON padding once decompressed
	write := func(status int, header map[string]string, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			for k, v := range header {
				w.Header().Set(k, v)
			}
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}
	}
	chunked := func(body []byte) http.HandlerFunc { // no Content-Length: the cap applies while reading
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
			for len(body) > 0 {
				n := min(len(body), 1<<10)
				_, _ = w.Write(body[:n])
				w.(http.Flusher).Flush()
				body = body[n:]
			}
		}
	}
	gz := map[string]string{"Content-Encoding": "gzip"}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		bids    int   // bids in the response; 0 for a nil response
		status  int   // for an *HTTPStatusError
		err     error // for other errors
	}{
		{name: "200 with bids", handler: write(200, nil, bidJSON), bids: 1},
		{name: "204", handler: write(204, nil, nil)},
		{name: "empty 200", handler: write(200, nil, nil)},
		{name: "blank 200", handler: write(200, nil, []byte(" \n"))},
		{name: "nbr without seatbid", handler: write(200, nil, []byte(`{"id":"req-1","nbr":2}`))},
		{name: "seatbid without bids", handler: write(200, nil, []byte(`{"id":"req-1","seatbid":[{"seat":"dsp","bid":[]}]}`))},
		{name: "500", handler: write(500, nil, []byte("oops")), status: 500},
		{name: "400", handler: write(400, nil, nil), status: 400},
		{name: "202", handler: write(202, nil, bidJSON), status: 202},
		{name: "redirect not followed", handler: write(307, map[string]string{"Location": "/elsewhere"}, nil), status: 307},
		{name: "invalid json", handler: write(200, nil, []byte(`{"id":`)), err: gavel.ErrInvalidResponse},
		{name: "not json", handler: write(200, nil, []byte(`<html>`)), err: gavel.ErrInvalidResponse},
		{name: "gzip", handler: write(200, gz, Gzipped(t, bidJSON)), bids: 1},
		{name: "gzip chunked", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			chunked(Gzipped(t, bidJSON))(w, r)
		}, bids: 1},
		{name: "gzip empty body", handler: write(200, gz, nil)},
		{name: "gzip corrupt", handler: write(200, gz, []byte("not gzip at all")), err: gavel.ErrInvalidResponse},
		{name: "gzip truncated", handler: write(200, gz, Gzipped(t, bidJSON)[:20]), err: gavel.ErrInvalidResponse},
		{name: "unsupported encoding", handler: write(200, map[string]string{"Content-Encoding": "br"}, bidJSON), err: gavel.ErrInvalidResponse},
		{name: "at the cap", handler: write(200, nil, append(bytes.Repeat([]byte(" "), limit-len(bidJSON)), bidJSON...)), bids: 1},
		{name: "over the cap by content-length", handler: write(200, nil, make([]byte, limit+1)), err: gavel.ErrResponseTooLarge},
		{name: "over the cap chunked", handler: chunked(make([]byte, 4*limit)), err: gavel.ErrResponseTooLarge},
		{name: "gzip over the cap on the wire", handler: write(200, gz, Gzipped(t, random)), err: gavel.ErrResponseTooLarge},
		{name: "gzip bomb", handler: write(200, gz, Gzipped(t, bomb)), err: gavel.ErrResponseTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(t, tt.handler)
			b := s.bidder(t, "dsp", srv.URL, Config{MaxResponseSize: limit})
			resp, err := b.Bid(context.Background(), Request())
			switch {
			case tt.status != 0:
				var se *gavel.HTTPStatusError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, tt.status, se.StatusCode)
				assert.ErrorIs(t, err, gavel.ErrHTTPStatus)
			case tt.err != nil:
				require.ErrorIs(t, err, tt.err)
				assert.True(t, strings.HasPrefix(err.Error(), `gavel: `), err.Error())
				assert.Contains(t, err.Error(), `http bidder "dsp"`)
			default:
				require.NoError(t, err)
			}
			if tt.bids == 0 {
				assert.Nil(t, resp)
				return
			}
			require.NotNil(t, resp)
			require.Len(t, resp.SeatBid, 1)
			assert.Len(t, resp.SeatBid[0].Bid, tt.bids)
			assert.Equal(t, "req-1", resp.ID)
			assert.Equal(t, 2.5, resp.SeatBid[0].Bid[0].Price)
		})
	}
}

func (s *suite) transportError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	b := s.bidder(t, "dsp", "http://"+addr, Config{})
	_, err = b.Bid(context.Background(), Request())
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), `gavel: http bidder "dsp": `), err.Error())
}

// SlowServer answers only when the client gives up or the test ends.
func SlowServer(t testing.TB) *httptest.Server {
	release := make(chan struct{})
	srv := NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
		w.WriteHeader(http.StatusNoContent)
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	return srv
}

// StallingServer sends the headers and the start of a body, then waits
// until the client gives up or the test ends.
func StallingServer(t testing.TB) *httptest.Server {
	release := make(chan struct{})
	srv := NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte(`{"id":"req-1",`))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	return srv
}

// The deadline suite: the call returns at the context's deadline, whatever
// the server does, and a done context is answered with its error.
func (s *suite) honoursDeadline(t *testing.T) {
	for _, tt := range []struct {
		name string
		srv  func(testing.TB) *httptest.Server
	}{{"no answer", SlowServer}, {"body stalls", StallingServer}} {
		t.Run(tt.name, func(t *testing.T) {
			b := s.bidder(t, "slow", tt.srv(t).URL, Config{})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			start := time.Now()
			resp, err := b.Bid(ctx, Request())
			assert.Less(t, time.Since(start), 30*time.Millisecond+time.Second) // the server answers never
			assert.Nil(t, resp)
			assert.Equal(t, context.DeadlineExceeded, err)

			ctx, cancel = context.WithCancel(context.Background())
			cancel()
			_, err = b.Bid(ctx, Request())
			assert.Equal(t, context.Canceled, err)

			ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
			defer cancel()
			_, err = b.Bid(ctx, Request())
			assert.Equal(t, context.DeadlineExceeded, err)
		})
	}
}

func (s *suite) timesOutInAuction(t *testing.T) {
	fast := NewServer(t, Bidding(t, "fast", 2.0))
	a := mustAuction(t, gavel.WithBidders(
		s.bidder(t, "slow", SlowServer(t).URL, Config{}),
		s.bidder(t, "fast", fast.URL, Config{}),
	))
	req := Request()
	req.TMax = 500 // room for the fast bidder on a loaded machine
	start := time.Now()
	res, err := a.Run(context.Background(), req)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 500*time.Millisecond+time.Second) // not the slow server's never
	assert.Equal(t, gavel.StatusTimeout, res.Bidders[0].Status)
	assert.Equal(t, gavel.StatusBid, res.Bidders[1].Status)
	require.NotNil(t, res.Winner("1"))
	assert.Equal(t, "fast", res.Winner("1").Bidder)
}

func (s *suite) secondPrice(t *testing.T) {
	a := mustAuction(t, gavel.WithBidders(
		s.bidder(t, "low", NewServer(t, Bidding(t, "low", 2.00)).URL, Config{}),
		s.bidder(t, "high", NewServer(t, Bidding(t, "high", 3.00)).URL, Config{}),
	))
	req := Request()
	req.TMax = 500
	res, err := a.Run(context.Background(), req)
	require.NoError(t, err)
	w := res.Winner("1")
	require.NotNil(t, w)
	assert.Equal(t, "high", w.Bidder)
	assert.Equal(t, int64(3_000_000), w.PriceMicros)
	assert.Equal(t, int64(2_010_000), w.ClearMicros)
}

// tmaxSent: each bidder gets the tmax of its own deadline, and the
// caller's request is left alone.
func (s *suite) tmaxSent(t *testing.T) {
	var mu sync.Mutex
	tmax := map[string]int64{}
	var bidders []gavel.Bidder
	for _, name := range []string{"a", "b", "c"} {
		bidders = append(bidders, s.bidder(t, name, NewServer(t, func(w http.ResponseWriter, r *http.Request) {
			var req openrtb2.BidRequest
			assert.NoError(t, json.NewDecoder(r.Body).Decode(&req))
			mu.Lock()
			tmax[name] = req.TMax
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}).URL, Config{}))
	}
	a := mustAuction(t, gavel.WithBidders(bidders...), gavel.WithBidderTimeout("c", 100*time.Millisecond))
	req := Request()
	req.TMax = 500
	res, err := a.Run(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, int64(500), req.TMax)
	mu.Lock()
	defer mu.Unlock()
	for _, br := range res.Bidders {
		assert.Equal(t, gavel.StatusNoBid, br.Status)
		assert.Equal(t, br.TMax, tmax[br.Bidder], "tmax sent to %s", br.Bidder)
		assert.Positive(t, br.TMax)
	}
	assert.LessOrEqual(t, tmax["c"], int64(100))
	assert.Greater(t, tmax["a"], int64(100))
}

// countConns starts srv counting the connections it accepts.
func countConns(t testing.TB, h http.HandlerFunc) (*httptest.Server, func() int) {
	var mu sync.Mutex
	conns := 0
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, func() int {
		mu.Lock()
		defer mu.Unlock()
		return conns
	}
}

func (s *suite) reusesConnection(t *testing.T) {
	srv, conns := countConns(t, Bidding(t, "dsp", 2.0))
	a := mustAuction(t, gavel.WithBidders(s.bidder(t, "dsp", srv.URL, Config{})))
	req := Request()
	req.TMax = 500
	for range 20 {
		res, err := a.Run(context.Background(), req)
		require.NoError(t, err)
		require.Equal(t, gavel.StatusBid, res.Bidders[0].Status)
	}
	assert.Equal(t, 1, conns())
}

// connLimit: calls past the limit wait for a connection, and all succeed.
func (s *suite) connLimit(t *testing.T) {
	const limit, calls = 2, 6
	var inFlight, most int
	var mu sync.Mutex
	srv, conns := countConns(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	b := s.bidder(t, "dsp", srv.URL, Config{MaxConnsPerHost: limit})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			_, err := b.Bid(ctx, Request())
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.LessOrEqual(t, most, limit)
	assert.LessOrEqual(t, conns(), limit)
}

func (s *suite) closeIdle(t *testing.T) {
	srv, conns := countConns(t, Bidding(t, "dsp", 2.0))
	b := s.bidder(t, "dsp", srv.URL, Config{})
	_, err := b.Bid(context.Background(), Request())
	require.NoError(t, err)
	b.CloseIdleConnections()
	_, err = b.Bid(context.Background(), Request()) // usable after
	require.NoError(t, err)
	assert.Equal(t, 2, conns())
}
