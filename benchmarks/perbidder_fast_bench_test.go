package benchmarks_test

import (
	"fmt"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelfasthttp"
	"github.com/gavelrtb/gavel/internal/memconn"
)

func init() { addPerBidderPath("fasthttp+std", newFastHTTPBidder) }

// newFastHTTPBidder is bidder i of the path fasthttp+std: a
// gavelfasthttp bidder with its defaults, dialing (WithDial) a net.Conn
// in memory (internal/memconn) that answers every request written to it
// with the same canned HTTP response, with no server behind it: the
// counterpart of the in-memory http.RoundTripper of the net/http path, so
// that the cost is the client's alone.
func newFastHTTPBidder(tb testing.TB, i int, calls *httpCalls) gavel.Bidder {
	tb.Helper()
	name := perBidderName(i)
	bd, err := gavelfasthttp.NewBidder(name, "http://"+name+".invalid/openrtb2",
		gavelfasthttp.WithDial(memconn.Dial(memconn.Response(perBidderResponse(tb, i)), calls.written)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(bd.CloseIdleConnections)
	return bd
}

// BenchmarkPerBidderServer is the fasthttp path with a server behind each
// bidder: each dials a fasthttputil.InmemoryListener served by a
// fasthttp.Server, whose parsing and answering count too.
func BenchmarkPerBidderServer(b *testing.B) {
	for _, n := range perBidderCounts {
		b.Run(fmt.Sprintf("path=fasthttp+server/bidders=%d", n), func(b *testing.B) {
			bidders := make([]gavel.Bidder, n)
			for i := range bidders {
				name := perBidderName(i)
				bd, err := gavelfasthttp.NewBidder(name, "http://"+name+".invalid/openrtb2",
					gavelfasthttp.WithDial(inmemoryServer(b, perBidderResponse(b, i))))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(bd.CloseIdleConnections)
				bidders[i] = bd
			}
			runPerBidder(b, n, func(i int) gavel.Bidder { return bidders[i] })
		})
	}
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
