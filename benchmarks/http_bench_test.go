package benchmarks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/benchmarks"
)

// The bidder counts of BenchmarkRunHTTP. The in-memory transport runs the
// workload that Prebid Server's exchange benchmarks measure: one banner
// imp and N bidders, each getting the request as JSON and decoding a
// response with one bid.
var (
	loopbackCounts = []int{1, 5, 8}
	memoryCounts   = []int{1, 2, 4, 8, 16}
)

// BenchmarkRunHTTP measures Run with gavel's HTTP bidders on the fixture's
// first imp, every bidder answering with its prebuilt response as JSON:
//
//   - transport=loopback: each bidder posts to an httptest server of its
//     own on 127.0.0.1, over the bidders' default transport. The servers
//     run in this process, so their CPU time and allocations are counted
//     too.
//   - transport=memory: each bidder sends through an http.Client
//     (gavel.WithHTTPClient) whose RoundTripper reads the request body and
//     answers from memory: the whole cost of an HTTP bidder except the
//     network and the server.
//
// The request is encoded once per auction and shared by the bidders (the
// core's design); each bidder decodes its own response.
func BenchmarkRunHTTP(b *testing.B) {
	for _, tr := range []struct {
		name   string
		counts []int
		build  func(tb testing.TB, f *benchmarks.Fixture) ([]gavel.Bidder, *httpCalls)
	}{
		{"loopback", loopbackCounts, loopbackBidders},
		{"memory", memoryCounts, memoryBidders},
	} {
		b.Run("transport="+tr.name, func(b *testing.B) {
			for _, n := range tr.counts {
				b.Run("bidders="+strconv.Itoa(n), func(b *testing.B) {
					f := newFixture(b, n, 1)
					bidders, calls := tr.build(b, f)
					a, err := gavel.New(f.Options(bidders)...)
					if err != nil {
						b.Fatal(err)
					}
					runs := runLoop(b, a, f)
					if err := calls.check(runs * int64(n)); err != nil {
						b.Fatal(err)
					}
				})
			}
		})
	}
}

func newFixture(tb testing.TB, bidders, imps int) *benchmarks.Fixture {
	tb.Helper()
	f, err := benchmarks.NewFixture(benchmarks.RequestFile, bidders, imps)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// cannedResponses returns the fixture's responses as JSON, in bidder order.
func cannedResponses(tb testing.TB, f *benchmarks.Fixture) [][]byte {
	tb.Helper()
	out := make([][]byte, len(f.Responses))
	for i, resp := range f.Responses {
		body, err := json.Marshal(resp)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = body
	}
	return out
}

// httpCalls counts the requests that reached the bidders' endpoints and
// the bytes of their bodies.
type httpCalls struct {
	calls, bytes atomic.Int64
}

func (c *httpCalls) add(n int64) {
	c.calls.Add(1)
	c.bytes.Add(n)
}

// written counts a write to a connection of internal/memconn: a request
// when it starts one, its bytes always.
func (c *httpCalls) written(n int, request bool) {
	if request {
		c.calls.Add(1)
	}
	c.bytes.Add(int64(n))
}

// minRequestBytes is less than the JSON of the fixture's request with one
// imp: a body shorter than that was not the request.
const minRequestBytes = 2000

// check returns an error unless want requests arrived, each with a body
// of the request's size.
func (c *httpCalls) check(want int64) error {
	calls, n := c.calls.Load(), c.bytes.Load()
	if calls != want || n < calls*minRequestBytes {
		return fmt.Errorf("%d requests with %d bytes in all, want %d requests of at least %d bytes", calls, n, want, minRequestBytes)
	}
	return nil
}

// loopbackBidders returns HTTP bidders for f, each posting to an httptest
// server of its own on 127.0.0.1 that answers with the bidder's response.
// The servers are closed when b ends.
func loopbackBidders(tb testing.TB, f *benchmarks.Fixture) ([]gavel.Bidder, *httpCalls) {
	calls := new(httpCalls)
	bidders := make([]gavel.Bidder, len(f.Names))
	for i, body := range cannedResponses(tb, f) {
		length := strconv.Itoa(len(body))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			calls.add(n)
			h := w.Header()
			h["Content-Type"] = []string{"application/json"}
			h["Content-Length"] = []string{length}
			w.Write(body)
		}))
		tb.Cleanup(srv.Close)
		hb, err := gavel.NewHTTPBidder(f.Names[i], srv.URL)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(hb.CloseIdleConnections) // before srv.Close: cleanups run last in, first out
		bidders[i] = hb
	}
	return bidders, calls
}

// memoryBidders returns HTTP bidders for f that send through an
// http.Client whose transport answers from memory.
func memoryBidders(tb testing.TB, f *benchmarks.Fixture) ([]gavel.Bidder, *httpCalls) {
	calls := new(httpCalls)
	bidders := make([]gavel.Bidder, len(f.Names))
	for i, body := range cannedResponses(tb, f) {
		client := &http.Client{Transport: &memoryTransport{body: body, calls: calls}}
		hb, err := gavel.NewHTTPBidder(f.Names[i], "http://"+f.Names[i]+".invalid/openrtb2",
			gavel.WithHTTPClient(client))
		if err != nil {
			tb.Fatal(err)
		}
		bidders[i] = hb
	}
	return bidders, calls
}

// memoryTransport is an http.RoundTripper that reads the request body to
// its end, as a transport sending it would, and answers 200 with body. It
// allocates the response and its body reader, what any transport must.
type memoryTransport struct {
	body  []byte
	calls *httpCalls
}

func (t *memoryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var n int64
	if req.Body != nil {
		n, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	t.calls.add(n)
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		ContentLength: int64(len(t.body)),
		Body:          newMemoryBody(t.body),
		Request:       req,
	}, nil
}

// memoryBody is a response body read from memory.
type memoryBody struct{ bytes.Reader }

func newMemoryBody(p []byte) *memoryBody {
	b := new(memoryBody)
	b.Reset(p)
	return b
}

func (*memoryBody) Close() error { return nil }
