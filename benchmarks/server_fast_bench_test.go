package benchmarks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
	"go.uber.org/goleak"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelfasthttp"
)

// BenchmarkServerFast is BenchmarkServer on fasthttp: the same exchange
// (gavelhttp.AuctionHandler with Notices over an Auction of 8 in-process
// bidders, served by gavelfasthttp.AuctionHandler; server=gavel) against a
// bare fasthttp handler that only decodes the request and encodes a fixed
// response (server=bare), on a fasthttp.Server on 127.0.0.1, with N
// clients on fasthttp.HostClient connections kept alive. Metrics as in
// BenchmarkServer: req/s over all clients, cpu-ns/op the process's CPU per
// request (clients included), req/cpu-s = 1e9 / cpu-ns/op. Every answer
// must be a 200, and the last one the expected response.
func BenchmarkServerFast(b *testing.B) { benchServers(b, false, benchFastCase) }

// BenchmarkServerFastNonBlocking is BenchmarkServerFast with the 8
// bidders marked gavel.NonBlocking, as BenchmarkServerNonBlocking.
func BenchmarkServerFastNonBlocking(b *testing.B) { benchServers(b, true, benchFastCase) }

// benchFastCase serves one case of benchServers on fasthttp.
func benchFastCase(b *testing.B, c serverCase) {
	h := gavelfasthttp.AuctionHandler(c.gavel)
	if c.bare {
		h = bareFastHandler(c.fixed)
	}
	benchFastServer(b, h, c.body, c.clients, c.check)
}

// bareFastHandler is bareHandler on fasthttp (without gzip): it decodes
// the request and encodes resp.
func bareFastHandler(resp *openrtb2.BidResponse) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		var req openrtb2.BidRequest
		if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadRequest)
			return
		}
		ctx.SetContentType("application/json")
		_ = json.NewEncoder(ctx).Encode(resp)
	}
}

// startFastServer serves h with a fasthttp.Server on 127.0.0.1 until tb
// ends and returns its auction URL and a client keeping up to clients
// connections alive.
func startFastServer(tb testing.TB, h fasthttp.RequestHandler, clients int) (string, *fasthttp.HostClient) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	client := &fasthttp.HostClient{
		Addr: ln.Addr().String(), MaxConns: clients, MaxConnWaitTimeout: 10 * time.Second,
		// A net.Dialer: fasthttp's default one keeps a DNS cache cleaner
		// running for good.
		Dial: func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) },
	}
	tb.Cleanup(func() {
		client.CloseIdleConnections()
		_ = srv.Shutdown()
		<-done
	})
	return "http://" + ln.Addr().String() + "/openrtb2/auction", client
}

// fastPost posts body to url and returns the answer's body, copied into
// buf; an answer other than 200 is an error.
func fastPost(client *fasthttp.HostClient, url string, body, buf []byte) ([]byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer func() {
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}()
	req.SetRequestURI(url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	if err := client.DoTimeout(req, resp, 10*time.Second); err != nil {
		return nil, err
	}
	buf = append(buf[:0], resp.Body()...)
	if resp.StatusCode() != fasthttp.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode(), buf)
	}
	return buf, nil
}

// benchFastServer is benchServer on fasthttp.
func benchFastServer(b *testing.B, h fasthttp.RequestHandler, body []byte, clients int, check func(*openrtb2.BidResponse) error) {
	url, client := startFastServer(b, h, clients)
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for i := range clients { // the connections open before the clock starts
		wg.Go(func() { _, errs[i] = fastPost(client, url, body, nil) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	var next, ok, notOK atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	start := time.Now()
	for range clients {
		wg.Go(func() {
			var buf []byte
			for next.Add(1) <= int64(b.N) {
				var err error
				if buf, err = fastPost(client, url, body, buf); err != nil {
					notOK.Add(1)
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu.report(b)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	if n := ok.Load(); n != int64(b.N) || notOK.Load() != 0 {
		b.Fatalf("%d answers of %d were 200, %d were not", n, b.N, notOK.Load())
	}
	last, err := fastPost(client, url, body, nil)
	if err != nil {
		b.Fatal(err)
	}
	var got openrtb2.BidResponse
	if err := json.Unmarshal(last, &got); err != nil {
		b.Fatal(err)
	}
	if err := check(&got); err != nil {
		b.Fatal(err)
	}
}

// TestServerFast checks that the servers of BenchmarkServerFast answer
// what its checks expect, and that the checks catch a wrong answer.
func TestServerFast(t *testing.T) {
	f := newFixture(t, 8, 3)
	a, err := gavel.New(f.Options(f.Bidders())...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	body, err := json.Marshal(f.Request)
	require.NoError(t, err)
	res, err := a.Run(context.Background(), f.Request)
	require.NoError(t, err)
	fixed := res.BidResponse()
	gavelH, base := gavelServerHandler(t, a)

	gavelURL, client := startFastServer(t, gavelfasthttp.AuctionHandler(gavelH), 2)
	bareURL, bareClient := startFastServer(t, bareFastHandler(fixed), 2)
	decode := func(data []byte, err error) *openrtb2.BidResponse {
		require.NoError(t, err)
		var got openrtb2.BidResponse
		require.NoError(t, json.Unmarshal(data, &got))
		return &got
	}
	for range 3 {
		require.NoError(t, checkRewritten(decode(fastPost(client, gavelURL, body, nil)), fixed, base))
		require.NoError(t, sameResponse(decode(fastPost(bareClient, bareURL, body, nil)), fixed))
	}
	assert.Error(t, sameResponse(decode(fastPost(client, gavelURL, body, nil)), fixed), "burls rewritten")
	_, err = fastPost(client, gavelURL, []byte(`{}`), nil)
	assert.ErrorContains(t, err, "status 400")
	assert.Equal(t, int64(4), gavelH.Stats().Won)
}

// fasthttpGoroutines are fasthttp's own goroutines that outlive what
// started them, for TestMain's leak check: the Date header's refresher
// (one per process, for good), a Server's worker pool cleaner (up to
// MaxIdleWorkerDuration after Shutdown) and a HostClient's idle
// connection cleaner (up to MaxIdleConnDuration after its last one).
var fasthttpGoroutines = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
}
