package gavel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/internal/httpbidtest"
)

// The test servers and request of the HTTP bidder's shared conformance
// suite (internal/httpbidtest), for the tests of this package.
var (
	newServer   = httpbidtest.NewServer
	bidding     = httpbidtest.Bidding
	testRequest = httpbidtest.Request
	gzipped     = httpbidtest.Gzipped
)

// newHTTPBidder returns an HTTP bidder whose idle connections are closed
// when the test ends, before its server is.
func newHTTPBidder(t testing.TB, name, endpoint string, opts ...gavel.HTTPOption) *gavel.HTTPBidder {
	b, err := gavel.NewHTTPBidder(name, endpoint, opts...)
	require.NoError(t, err)
	t.Cleanup(b.CloseIdleConnections)
	return b
}

func TestNewHTTPBidderValidates(t *testing.T) {
	tests := []struct {
		name, endpoint string
		opts           []gavel.HTTPOption
		ok             bool
	}{
		{name: "ok http", endpoint: "http://127.0.0.1:8080/bid", ok: true},
		{name: "ok https with options", endpoint: "https://dsp.example/openrtb?x=1", ok: true, opts: []gavel.HTTPOption{
			gavel.WithHTTPClient(&http.Client{}), gavel.WithHTTPHeader("X-Api-Key", "k"),
			gavel.WithHTTPMaxResponseSize(1 << 10), gavel.WithHTTPGzipRequests(true),
		}},
		{name: "", endpoint: "http://dsp.example/bid"},
		{name: "relative", endpoint: "/bid"},
		{name: "no host", endpoint: "http:///bid"},
		{name: "ftp", endpoint: "ftp://dsp.example/bid"},
		{name: "garbage", endpoint: "http://[::1"},
		{name: "empty", endpoint: ""},
		{name: "nil client", endpoint: "http://dsp.example", opts: []gavel.HTTPOption{gavel.WithHTTPClient(nil)}},
		{name: "nil transport", endpoint: "http://dsp.example", opts: []gavel.HTTPOption{gavel.WithHTTPTransport(nil)}},
		{name: "zero size", endpoint: "http://dsp.example", opts: []gavel.HTTPOption{gavel.WithHTTPMaxResponseSize(0)}},
		{name: "reserved header", endpoint: "http://dsp.example", opts: []gavel.HTTPOption{gavel.WithHTTPHeader("content-type", "text/plain")}},
		{name: "version header", endpoint: "http://dsp.example", opts: []gavel.HTTPOption{gavel.WithHTTPHeader("x-openrtb-version", "2.5")}},
		{name: "bad header name", endpoint: "http://dsp.example", opts: []gavel.HTTPOption{gavel.WithHTTPHeader("X Key", "v")}},
		{name: "bad header value", endpoint: "http://dsp.example", opts: []gavel.HTTPOption{gavel.WithHTTPHeader("X-Key", "a\r\nb")}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.endpoint, func(t *testing.T) {
			b, err := gavel.NewHTTPBidder(tt.name, tt.endpoint, tt.opts...)
			if tt.ok {
				require.NoError(t, err)
				assert.Equal(t, tt.name, b.Name())
				return
			}
			require.ErrorIs(t, err, gavel.ErrInvalidOption)
			assert.True(t, strings.HasPrefix(err.Error(), "gavel: "), err.Error())
			assert.Nil(t, b)
		})
	}
}

func TestHTTPBidderInvalidResponseStatus(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) })
	a := mustAuction(t, gavel.WithBidders(newHTTPBidder(t, "dsp", srv.URL)))
	res, err := a.Run(context.Background(), testRequest())
	require.NoError(t, err)
	assert.Equal(t, gavel.StatusInvalidResponse, res.Bidders[0].Status)
	assert.ErrorIs(t, res.Bidders[0].Err, gavel.ErrInvalidResponse)
}

func TestHTTPBiddersShareOneBodyPerAuction(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies [][]byte             // as encoded, one per bidder call
		tmax   = map[string]int64{} // as the servers saw it
	)
	handler := func(seat string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req openrtb2.BidRequest
			assert.NoError(t, json.NewDecoder(r.Body).Decode(&req))
			mu.Lock()
			tmax[seat] = req.TMax
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}
	}
	var bidders []gavel.Bidder
	for _, name := range []string{"a", "b", "c"} {
		b := newHTTPBidder(t, name, newServer(t, handler(name)).URL)
		gavel.WatchHTTPBodies(b, func(body []byte) {
			mu.Lock()
			bodies = append(bodies, body)
			mu.Unlock()
		})
		bidders = append(bidders, b)
	}
	a := mustAuction(t, gavel.WithBidders(bidders...))
	req := testRequest()
	req.TMax = 500

	res, err := a.Run(context.Background(), req)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, bodies, 3)
	for _, body := range bodies[1:] { // the same bytes, encoded once
		require.NotEmpty(t, body)
		assert.Same(t, &bodies[0][0], &body[0])
		assert.Len(t, body, len(bodies[0]))
	}
	for _, br := range res.Bidders {
		assert.Equal(t, gavel.StatusNoBid, br.Status)
		assert.Equal(t, br.TMax, tmax[br.Bidder], "tmax sent to %s", br.Bidder)
		assert.Positive(t, br.TMax)
		assert.LessOrEqual(t, br.TMax, int64(500))
	}
	// The body is the caller's request with the bidders' tmax; the
	// caller's request itself is left alone.
	var sent openrtb2.BidRequest
	require.NoError(t, json.Unmarshal(bodies[0], &sent))
	assert.Equal(t, int64(500), req.TMax)
	want := *req
	want.TMax = res.Bidders[0].TMax
	assert.Equal(t, &want, &sent)
}

func TestHTTPAuctionSecondPrice(t *testing.T) {
	a, err := gavel.New(gavel.WithBidders(
		newHTTPBidder(t, "low", newServer(t, bidding(t, "low", 2.00)).URL),
		newHTTPBidder(t, "high", newServer(t, bidding(t, "high", 3.00)).URL),
	))
	require.NoError(t, err)
	req := testRequest()
	req.TMax = 500
	res, err := a.Run(context.Background(), req)
	require.NoError(t, err)
	w := res.Winner("1")
	require.NotNil(t, w)
	assert.Equal(t, "high", w.Bidder)
	assert.Equal(t, int64(3_000_000), w.PriceMicros)
	assert.Equal(t, int64(2_010_000), w.ClearMicros)
	resp := res.BidResponse()
	require.Len(t, resp.SeatBid, 1)
	assert.Equal(t, "high", resp.SeatBid[0].Seat)
	assert.Equal(t, 2.01, resp.SeatBid[0].Bid[0].Price)
}

// replayTransport is an in-memory http.RoundTripper that answers every
// request with the same response without allocating, for measuring the
// bidder's own allocations. It serves one call at a time.
type replayTransport struct {
	resp http.Response
	body replayBody
	data []byte
}

type replayBody struct{ bytes.Reader }

func (replayBody) Close() error { return nil }

func newReplayTransport(data []byte, header http.Header) *replayTransport {
	t := &replayTransport{data: data}
	t.resp = http.Response{StatusCode: http.StatusOK, Header: header, ContentLength: int64(len(data)), Body: &t.body}
	return t
}

func (t *replayTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	t.body.Reset(t.data)
	t.resp.Request = r
	return &t.resp, nil
}

var benchResponse = []byte(`{"id":"req-1","seatbid":[{"seat":"dsp","bid":[{"id":"b1","impid":"1","price":2.5,` +
	`"adm":"<div>an ad of moderate length</div>","crid":"cr-1","adomain":["brand.example"],"w":300,"h":250}]}],"cur":"USD"}`)

// replayBidder returns an HTTP bidder answered by a replayTransport, used
// as the bidder's own transport (client=default) or through an http.Client
// (client=custom).
func replayBidder(t testing.TB, client string, rt *replayTransport) *gavel.HTTPBidder {
	if client == "custom" {
		return newHTTPBidder(t, "dsp", "http://dsp.example/bid", gavel.WithHTTPClient(&http.Client{Transport: rt}))
	}
	return newHTTPBidder(t, "dsp", "http://dsp.example/bid", gavel.WithHTTPTransport(rt))
}

// BenchmarkHTTPBidder measures one call of Bid outside an auction, so each
// call also encodes the request (json.Marshal), which in an auction is done
// once for all HTTP bidders; see the encode=json sub-benchmark for its cost.
func BenchmarkHTTPBidder(b *testing.B) {
	answers := []struct {
		name   string
		body   []byte
		header http.Header
		bids   int
	}{
		{"bid", benchResponse, http.Header{}, 1},
		{"bid-gzip", gzipped(b, benchResponse), http.Header{"Content-Encoding": {"gzip"}}, 1},
		{"204", nil, http.Header{}, 0},
	}
	for _, client := range []string{"default", "custom"} {
		for _, c := range answers {
			b.Run("transport=memory/client="+client+"/answer="+c.name, func(b *testing.B) {
				rt := newReplayTransport(c.body, c.header)
				if c.body == nil {
					rt.resp.StatusCode = http.StatusNoContent
				}
				bd := replayBidder(b, client, rt)
				req := testRequest()
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					resp, err := bd.Bid(ctx, req)
					if err != nil || (resp == nil) != (c.bids == 0) {
						b.Fatalf("unexpected answer %v, %v", resp, err)
					}
				}
			})
		}
	}
	b.Run("transport=loopback/client=default/answer=bid", func(b *testing.B) {
		srv := newServer(b, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = w.Write(benchResponse)
		})
		bd := newHTTPBidder(b, "dsp", srv.URL)
		req := testRequest()
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if resp, err := bd.Bid(ctx, req); err != nil || resp == nil {
				b.Fatalf("unexpected answer %v, %v", resp, err)
			}
		}
	})
	b.Run("encode=json", func(b *testing.B) {
		req := testRequest()
		b.ReportAllocs()
		for b.Loop() {
			if body, err := json.Marshal(req); err != nil || len(body) == 0 {
				b.Fatal(err)
			}
		}
	})
}

// TestHTTPBidderAllocs guards the allocations of one call against an
// in-memory transport, so that a change that adds some is noticed. The
// bounds leave room for other Go versions; BenchmarkHTTPBidder has the
// numbers.
func TestHTTPBidderAllocs(t *testing.T) {
	for _, tt := range []struct {
		client string
		max    float64
	}{{"default", 35}, {"custom", 45}} {
		t.Run("client="+tt.client, func(t *testing.T) {
			b := replayBidder(t, tt.client, newReplayTransport(benchResponse, http.Header{}))
			req := testRequest()
			ctx := context.Background()
			var err error
			allocs := testing.AllocsPerRun(100, func() {
				if _, e := b.Bid(ctx, req); e != nil {
					err = e
				}
			})
			require.NoError(t, err)
			t.Logf("%.0f allocations per call", allocs)
			assert.LessOrEqual(t, allocs, tt.max)
		})
	}
}

func TestHTTPBiddersWithOwnTimeout(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies = map[string][]byte{}
		tmax   = map[string]int64{}
	)
	var bidders []gavel.Bidder
	for _, name := range []string{"a", "b", "c"} {
		b := newHTTPBidder(t, name, newServer(t, func(w http.ResponseWriter, r *http.Request) {
			var req openrtb2.BidRequest
			assert.NoError(t, json.NewDecoder(r.Body).Decode(&req))
			mu.Lock()
			tmax[name] = req.TMax
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}).URL)
		gavel.WatchHTTPBodies(b, func(body []byte) {
			mu.Lock()
			bodies[name] = body
			mu.Unlock()
		})
		bidders = append(bidders, b)
	}
	a := mustAuction(t, gavel.WithBidders(bidders...), gavel.WithBidderTimeout("c", 100*time.Millisecond))
	for range 10 { // c's copy of the request is made while a and b run
		req := testRequest()
		req.TMax = 500
		res, err := a.Run(context.Background(), req)
		require.NoError(t, err)
		mu.Lock()
		assert.Same(t, &bodies["a"][0], &bodies["b"][0])
		assert.NotSame(t, &bodies["a"][0], &bodies["c"][0])
		for _, br := range res.Bidders {
			assert.Equal(t, br.TMax, tmax[br.Bidder], "tmax sent to %s", br.Bidder)
		}
		assert.LessOrEqual(t, tmax["c"], int64(100))
		assert.Greater(t, tmax["a"], int64(100))
		mu.Unlock()
	}
}

// A dial that the transport started for a call goes on after the call has
// returned (so that a later call may use the connection), with the call's
// context values: net.Dialer reads them before each address it tries. The
// auction's context must stay sound after Run has returned and its working
// state has gone back to the pool.
func TestHTTPBidderContextOutlivesAuction(t *testing.T) {
	// The transport's dial is a function of the test, not a socket: the
	// test runs in a synctest bubble.
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		release := make(chan struct{})
		dialed := make(chan any, 1)
		tr := gavel.NewHTTPTransport()
		tr.DialContext = func(dctx context.Context, _, _ string) (net.Conn, error) {
			cancel() // end the auction while the dial goes on
			<-release
			defer func() { dialed <- recover() }()
			_ = dctx.Value(probeKey{})
			return nil, errors.New("no route to host")
		}
		b := newHTTPBidder(t, "dsp", "http://dsp.example", gavel.WithHTTPClient(&http.Client{Transport: tr}))
		a := mustAuction(t, gavel.WithBidders(b))
		req := testRequest()
		req.TMax = 500
		_, err := a.Run(ctx, req)
		require.ErrorIs(t, err, context.Canceled)
		synctest.Wait() // the bidder's goroutine ends and frees the round; the dial waits
		close(release)
		assert.Nil(t, <-dialed, "the dial's context panicked")
	})
}

// redirectTransport answers every request with a redirect, counting them.
type redirectTransport struct{ calls atomic.Int32 }

func (t *redirectTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.calls.Add(1)
	if r.Body != nil {
		r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {"http://dsp.example/elsewhere"}},
		Body: http.NoBody, Request: r}, nil
}

func TestWithHTTPTransport(t *testing.T) {
	t.Run("called directly", func(t *testing.T) {
		// No http.Client in between: the redirect is not followed.
		rt := new(redirectTransport)
		b := newHTTPBidder(t, "dsp", "http://dsp.example/bid", gavel.WithHTTPTransport(rt))
		_, err := b.Bid(context.Background(), testRequest())
		var se *gavel.HTTPStatusError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, http.StatusFound, se.StatusCode)
		assert.Equal(t, int32(1), rt.calls.Load())
	})
	t.Run("the later of it and WithHTTPClient wins", func(t *testing.T) {
		rt, viaClient := new(redirectTransport), new(redirectTransport)
		client := &http.Client{Transport: viaClient, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
		b := newHTTPBidder(t, "dsp", "http://dsp.example/bid", gavel.WithHTTPTransport(rt), gavel.WithHTTPClient(client))
		_, _ = b.Bid(context.Background(), testRequest())
		b = newHTTPBidder(t, "dsp", "http://dsp.example/bid", gavel.WithHTTPClient(client), gavel.WithHTTPTransport(rt))
		_, _ = b.Bid(context.Background(), testRequest())
		assert.Equal(t, int32(1), rt.calls.Load())
		assert.Equal(t, int32(1), viaClient.calls.Load())
	})
}
