package benchmarks_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelfasthttp"
	"github.com/gavelrtb/gavel/auctiontest"
)

// perBidderCounts are the numbers of HTTP bidders of BenchmarkPerBidderFast.
var perBidderCounts = []int{1, 5, 8, 20}

// BenchmarkPerBidderFast measures what each fasthttp bidder adds to an
// auction, on Prebid Server's per-bidder workload: one secure 300x250
// banner imp, N gavelfasthttp bidders each answering one JSON bid from
// memory. answer=memory: each bidder dials (WithDial) a net.Conn in memory
// that answers every request written to it with the same canned HTTP
// response, with no server behind it: the counterpart of the in-memory
// http.RoundTripper of the net/http side, so that the cost is the
// client's alone. answer=server: each bidder dials a
// fasthttputil.InmemoryListener served by a fasthttp.Server, whose
// parsing and answering count too.
//
// cpu-ns/op is the process's CPU per auction; B/op and allocs/op as
// usual. The bidders=20 run also reports the slopes per added bidder
// against the last bidders=1 run of the same answer: cpu-ns/bidder,
// B/bidder and allocs/bidder = (value at 20 - value at 1) / 19. Every
// auction must have a bid from every bidder and the expected winner.
func BenchmarkPerBidderFast(b *testing.B) {
	for _, answer := range []string{"memory", "server"} {
		for _, n := range perBidderCounts {
			b.Run(fmt.Sprintf("answer=%s/bidders=%d", answer, n), func(b *testing.B) {
				a, req := perBidderAuction(b, n, answer)
				runPerBidder(b, a, req, n) // connections open before the clock starts
				var before, after runtime.MemStats
				b.ReportAllocs()
				b.ResetTimer()
				runtime.ReadMemStats(&before)
				cpu := startCPU()
				start := cpuTime()
				for range b.N {
					runPerBidder(b, a, req, n)
				}
				used := cpuTime() - start
				runtime.ReadMemStats(&after)
				b.StopTimer()
				cpu.report(b)
				m := perBidderMetrics{
					cpu:    float64(used.Nanoseconds()) / float64(b.N),
					bytes:  float64(after.TotalAlloc-before.TotalAlloc) / float64(b.N),
					allocs: float64(after.Mallocs-before.Mallocs) / float64(b.N),
				}
				perBidderSlopes(b, answer, n, m)
			})
		}
	}
}

type perBidderMetrics struct{ cpu, bytes, allocs float64 }

var (
	perBidderMu    sync.Mutex
	perBidderFirst = map[string]perBidderMetrics{} // the last bidders=1 run, by answer
)

// perBidderSlopes remembers the bidders=1 metrics and reports the slopes
// at bidders=20.
func perBidderSlopes(b *testing.B, answer string, n int, m perBidderMetrics) {
	perBidderMu.Lock()
	defer perBidderMu.Unlock()
	first, ok := perBidderFirst[answer]
	switch {
	case n == 1:
		perBidderFirst[answer] = m
	case n == 20 && ok:
		b.ReportMetric((m.cpu-first.cpu)/19, "cpu-ns/bidder")
		b.ReportMetric((m.bytes-first.bytes)/19, "B/bidder")
		b.ReportMetric((m.allocs-first.allocs)/19, "allocs/bidder")
	}
}

// runPerBidder runs one auction and fails b unless every bidder bid and
// the last one, the highest, won.
func runPerBidder(b *testing.B, a *gavel.Auction, req *openrtb2.BidRequest, n int) {
	res, err := a.Run(context.Background(), req)
	if err != nil {
		b.Fatal(err)
	}
	for i := range res.Bidders {
		if res.Bidders[i].Status != gavel.StatusBid {
			b.Fatalf("bidder %s: %v %v", res.Bidders[i].Bidder, res.Bidders[i].Status, res.Bidders[i].Err)
		}
	}
	if w := res.Winner("1"); len(res.Bidders) != n || w == nil || w.Bidder != perBidderName(n-1) {
		b.Fatalf("%d bidders, winner %+v", len(res.Bidders), w)
	}
}

func perBidderName(i int) string { return "dsp-" + strconv.Itoa(i) }

// perBidderRequest is the workload's request: one secure 300x250 banner.
func perBidderRequest() *openrtb2.BidRequest {
	req := auctiontest.Request("req-1", auctiontest.BannerImp("1", 0.5, [2]int64{300, 250}))
	secure := int8(1)
	req.Imp[0].Secure = &secure
	req.Site = &openrtb2.Site{ID: "site-1", Domain: "news.example", Page: "https://news.example/a"}
	req.TMax = 1000 // no bidder times out, whatever the load
	return req
}

// perBidderBid is bidder i's answer: one bid, priced by i.
func perBidderBid(i int) []byte {
	return fmt.Appendf(nil, `{"id":"req-1","seatbid":[{"bid":[{"id":"b-%d","impid":"1","price":%d.%02d,`+
		`"adm":"<div>an ad of moderate length</div>","crid":"cr-1","adomain":["brand.example"],"w":300,"h":250}]}],"cur":"USD"}`,
		i, 1+i/100, i%100)
}

// perBidderAuction returns an Auction of n fasthttp bidders answering in
// memory as answer says, and the request.
func perBidderAuction(tb testing.TB, n int, answer string) (*gavel.Auction, *openrtb2.BidRequest) {
	var bidders []gavel.Bidder
	for i := range n {
		body := perBidderBid(i)
		dial := cannedDial(body)
		if answer == "server" {
			dial = inmemoryServer(tb, body)
		}
		bd, err := gavelfasthttp.NewBidder(perBidderName(i), "http://dsp.example/openrtb2", gavelfasthttp.WithDial(dial))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(bd.CloseIdleConnections)
		bidders = append(bidders, bd)
	}
	a, err := gavel.New(gavel.WithBidders(bidders...))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close(context.Background()) })
	return a, perBidderRequest()
}

// inmemoryServer serves body to every request with a fasthttp.Server on a
// fasthttputil.InmemoryListener until tb ends, and returns its dial.
func inmemoryServer(tb testing.TB, body []byte) fasthttp.DialFunc {
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	tb.Cleanup(func() {
		_ = srv.Shutdown()
		_ = ln.Close()
		<-done
	})
	return func(string) (net.Conn, error) { return ln.Dial() }
}

// cannedDial returns a dial of connections that answer each request
// written to them with a 200 carrying body.
func cannedDial(body []byte) fasthttp.DialFunc {
	resp := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return func(string) (net.Conn, error) {
		c := &cannedConn{resp: resp}
		c.cond.L = &c.mu
		return c, nil
	}
}

// cannedConn is a net.Conn in memory that answers every request written
// to it (a write that starts with "POST ") with resp.
type cannedConn struct {
	resp   []byte
	mu     sync.Mutex
	cond   sync.Cond
	owed   int    // answers owed
	rest   []byte // of the answer being read
	closed bool
}

func (c *cannedConn) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("POST ")) {
		c.mu.Lock()
		c.owed++
		c.cond.Signal()
		c.mu.Unlock()
	}
	return len(p), nil
}

func (c *cannedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.rest) == 0 {
		switch {
		case c.closed:
			return 0, io.EOF
		case c.owed > 0:
			c.owed--
			c.rest = c.resp
		default:
			c.cond.Wait()
		}
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

func (c *cannedConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

var cannedAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}

func (*cannedConn) LocalAddr() net.Addr              { return cannedAddr }
func (*cannedConn) RemoteAddr() net.Addr             { return cannedAddr }
func (*cannedConn) SetDeadline(time.Time) error      { return nil }
func (*cannedConn) SetReadDeadline(time.Time) error  { return nil }
func (*cannedConn) SetWriteDeadline(time.Time) error { return nil }

// TestPerBidderFast checks the auctions of BenchmarkPerBidderFast: every
// bidder bids, the highest wins, with both kinds of answer.
func TestPerBidderFast(t *testing.T) {
	for _, answer := range []string{"memory", "server"} {
		t.Run(answer, func(t *testing.T) {
			a, req := perBidderAuction(t, 5, answer)
			for range 3 {
				res, err := a.Run(context.Background(), req)
				require.NoError(t, err)
				require.Len(t, res.Bidders, 5)
				for _, br := range res.Bidders {
					require.Equal(t, gavel.StatusBid, br.Status, "%s: %v", br.Bidder, br.Err)
				}
				require.NotNil(t, res.Winner("1"))
				require.Equal(t, perBidderName(4), res.Winner("1").Bidder)
			}
		})
	}
}
