package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelfasthttp"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// exchange serves gavel's auction endpoint on 127.0.0.1 over two
// in-process bidders: one bids on every imp above its floor, the other
// never bids. It returns the endpoint's URL.
func exchange(t *testing.T) string {
	t.Helper()
	return exchangeWith(t, 0)
}

// exchangeWith is exchange with the bidder answering after delay, and the
// handler's options.
func exchangeWith(t *testing.T, delay time.Duration, opts ...gavelhttp.HandlerOption) string {
	t.Helper()
	return exchangeOn(t, false, delay, opts...)
}

// exchangeOn is exchangeWith on fasthttp when fast, on net/http otherwise.
func exchangeOn(t *testing.T, fast bool, delay time.Duration, opts ...gavelhttp.HandlerOption) string {
	t.Helper()
	bidder := gavel.BidderFunc("eager", func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		resp := &openrtb2.BidResponse{ID: req.ID, SeatBid: []openrtb2.SeatBid{{}}}
		for _, imp := range req.Imp {
			resp.SeatBid[0].Bid = append(resp.SeatBid[0].Bid, openrtb2.Bid{
				ID: "b-" + imp.ID, ImpID: imp.ID, Price: 2*imp.BidFloor + 0.5, AdM: "<div>ad</div>", CrID: "c1",
			})
		}
		return resp, nil
	})
	silent := gavel.BidderFunc("silent", func(context.Context, *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		return nil, nil
	})
	auction, err := gavel.New(gavel.WithBidders(bidder, silent))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, auction.Close(context.Background())) })
	handler, err := gavelhttp.NewAuctionHandler(auction, opts...)
	require.NoError(t, err)
	if fast {
		return serveFast(t, handler)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /openrtb2/auction", handler)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/openrtb2/auction"
}

// serveFast serves handler's auction endpoint on fasthttp on 127.0.0.1
// (gavelfasthttp), as the example exchange's -fast-addr does, until t
// ends, and returns its URL.
func serveFast(t *testing.T, handler *gavelhttp.AuctionHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	auction := gavelfasthttp.AuctionHandler(handler)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) != "/openrtb2/auction" {
			ctx.NotFound()
			return
		}
		auction(ctx)
	}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		assert.NoError(t, srv.Shutdown())
		assert.NoError(t, <-done)
	})
	return "http://" + ln.Addr().String() + "/openrtb2/auction"
}

// TestRunAgainstAFastExchange runs the load generator against the auction
// endpoint on fasthttp: the same answers as on net/http.
func TestRunAgainstAFastExchange(t *testing.T) {
	c := Config{URL: exchangeOn(t, true, 0), Rate: 150, Count: 150, Timeout: 10 * time.Second}
	c.Gen = Generator{Seed: 42, Invalid: 0.1, TMax: 1000, Users: 100}
	s, err := Run(context.Background(), c)
	require.NoError(t, err)
	m := s.Metrics
	require.Equal(t, c.Count, m.Requests)
	assert.Zero(t, s.Errors(), "%q", s.Examples)
	assert.Equal(t, s.Invalid, m.StatusCodes["400"], "every invalid request answered 400")
	assert.Greater(t, m.StatusCodes["200"], int(m.Requests)/2, "most valid requests won")
	assert.Equal(t, int(m.Requests), m.StatusCodes["200"]+m.StatusCodes["204"]+m.StatusCodes["400"], "%v", m.StatusCodes)
}

func TestRunAgainstAnExchange(t *testing.T) {
	url := exchange(t)
	for _, tc := range []struct {
		name string
		c    Config
	}{
		{"rate", Config{Rate: 150, Count: 150}},
		{"concurrency", Config{Concurrency: 4, Count: 150}},
		{"duration", Config{Rate: 100, Duration: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.URL, c.Timeout = url, 10*time.Second // a loaded machine under -race is slow
			c.Gen = Generator{Seed: 42, Invalid: 0.1, TMax: 1000, Users: 100}
			var bar bytes.Buffer
			c.Progress = &bar
			start := time.Now()
			s, err := Run(context.Background(), c)
			require.NoError(t, err)
			took := time.Since(start)

			m := s.Metrics
			if c.Count > 0 {
				require.Equal(t, c.Count, m.Requests)
			} else {
				// Never more than the rate allows; fewer when the
				// sender itself is starved of CPU.
				assert.LessOrEqual(t, m.Requests, uint64(102))
				assert.GreaterOrEqual(t, m.Requests, uint64(50))
			}
			if c.Rate > 0 {
				// On schedule: 1 s of sending, and no more than a
				// timeout's wait for the last answers (a closed loop
				// would take the sum of the latencies).
				assert.Less(t, took, time.Second+c.Timeout+2*time.Second, "open loop at the rate")
			}
			assert.Zero(t, s.Errors(), "%q", s.Examples)
			assert.Equal(t, s.Invalid, m.StatusCodes["400"], "every invalid request answered 400")
			assert.Positive(t, s.Invalid)
			assert.Greater(t, m.StatusCodes["200"], int(m.Requests)/2, "most valid requests won")
			assert.Equal(t, int(m.Requests), m.StatusCodes["200"]+m.StatusCodes["204"]+m.StatusCodes["400"], "%v", m.StatusCodes)
			assert.Positive(t, m.Latencies.P99)
			code, why := Thresholds{}.Verdict(s) // no p99 limit: a loaded machine is slow (see TestVerdict)
			assert.Equal(t, ExitOK, code, "%q", why)
			assert.Contains(t, bar.String(), "requests")
		})
	}
}

// Against an exchange that sheds past 2 auctions in flight, each taking
// 20 ms: the shed answers (Gavel-Shed) are right for valid and invalid
// requests alike, and timed apart from the auctions that ran.
func TestRunAgainstASheddingExchange(t *testing.T) {
	url := exchangeWith(t, 20*time.Millisecond, gavelhttp.WithMaxInFlight(2))
	c := Config{URL: url, Rate: 300, Count: 300, Timeout: 10 * time.Second,
		Gen: Generator{Seed: 7, Invalid: 0.1, TMax: 200, Users: 10}}
	s, err := Run(context.Background(), c)
	require.NoError(t, err)
	assert.Zero(t, s.Errors(), "%q", s.Examples)
	assert.Positive(t, s.Shed)
	assert.Positive(t, s.Accepted.N)
	assert.Equal(t, int(s.Metrics.Requests), s.Shed+s.Accepted.N)
	assert.Equal(t, s.Shed, s.ShedLatencies.N)
	assert.Less(t, s.Metrics.StatusCodes["400"], s.Invalid, "invalid requests shed unread, not answered 400")
	assert.Positive(t, s.Metrics.StatusCodes["200"])

	var out bytes.Buffer
	s.Print(&out)
	assert.Contains(t, out.String(), "shed        ")
}

func TestRunCommand(t *testing.T) {
	url := exchange(t)
	var out, errs bytes.Buffer
	code := run([]string{"-url", url, "-rate", "200", "-count", "100", "-quiet", "-timeout", "10s", "-max-p99", "10s"}, &out, &errs)
	assert.Equal(t, ExitOK, code, "stdout:\n%s\nstderr:\n%s", &out, &errs)
	assert.Contains(t, out.String(), "p99.9")
	assert.Contains(t, out.String(), "PASS")
	assert.Empty(t, errs.String())
}

// A server that answers every request 200 with a body that is no bid
// response: the command fails on the invalid 200s even when errors are
// allowed.
func TestRunCommandFailsOnInvalid200(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"id":"not yours"}`))
	}))
	defer srv.Close()
	var out, errs bytes.Buffer
	code := run([]string{"-url", srv.URL, "-rate", "200", "-count", "50", "-quiet", "-max-errors", "1"}, &out, &errs)
	assert.Equal(t, ExitFailed, code, "stdout:\n%s", &out)
	assert.Contains(t, out.String(), "FAIL")
	assert.Contains(t, out.String(), "were not valid BidResponses")
}

func TestRunCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-rate", "10", "-concurrency", "2"},
		{"-count", "10", "-duration", "1s"},
		{"-url", "ftp://x", "-count", "1"},
		{"-invalid", "2", "-count", "1"},
		{"-timeout", "0s", "-count", "1"},
		{"-count", "1", "extra"},
		{"-nope"},
	} {
		var out, errs bytes.Buffer
		code := run(args, &out, &errs)
		assert.Equal(t, ExitUsage, code, "%q", args)
		assert.True(t, strings.Contains(errs.String(), "loadgen") || strings.Contains(errs.String(), "flag"), "%q: %s", args, &errs)
		assert.Empty(t, out.String(), "%q", args)
	}
}

// TestNoProgressBarOffATerminal: the progress bar redraws its line, so it
// is drawn only on a terminal, never into a file, a pipe or a buffer.
func TestNoProgressBarOffATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	require.NoError(t, err)
	defer f.Close()
	for name, w := range map[string]io.Writer{"file": f, "buffer": new(bytes.Buffer)} {
		c, _, err := parseFlags(nil, w)
		require.NoError(t, err, name)
		assert.Nil(t, c.Progress, name)
	}
}

// Canceling the context (Ctrl-C in the command) stops the run early with
// the summary of what was sent: here the server cancels at its 20th request.
func TestRunStopsWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if served.Add(1) == 20 {
			cancel()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c := Config{URL: srv.URL, Rate: 200, Duration: time.Hour, Timeout: time.Second, Gen: Generator{Seed: 1}}
	s, err := Run(ctx, c)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, s.Metrics.Requests, uint64(20))
	assert.Less(t, s.Metrics.Requests, uint64(1000))
	assert.Zero(t, s.Errors(), "%q", s.Examples)
}
