package benchmarks_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelfasthttp"
)

func init() { addPerBidderPath("fasthttp+std", newFastHTTPBidder) }

// newFastHTTPBidder is bidder i of the path fasthttp+std: a
// gavelfasthttp bidder with its defaults, dialing (WithDial) a net.Conn
// in memory that answers every request written to it with the same
// canned HTTP response, with no server behind it: the counterpart of the
// in-memory http.RoundTripper of the net/http path, so that the cost is
// the client's alone.
func newFastHTTPBidder(tb testing.TB, i int, calls *httpCalls) gavel.Bidder {
	tb.Helper()
	name := perBidderName(i)
	bd, err := gavelfasthttp.NewBidder(name, "http://"+name+".invalid/openrtb2",
		gavelfasthttp.WithDial(cannedDial(perBidderResponse(tb, i), calls)))
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

// cannedDial returns a dial of connections that answer each request
// written to them with a 200 carrying body.
func cannedDial(body []byte, calls *httpCalls) fasthttp.DialFunc {
	resp := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return func(string) (net.Conn, error) {
		c := &cannedConn{resp: resp, calls: calls}
		c.cond.L = &c.mu
		return c, nil
	}
}

// cannedConn is a net.Conn in memory that answers every request written
// to it (a write that starts with "POST ") with resp.
type cannedConn struct {
	resp   []byte
	calls  *httpCalls // counts requests and the bytes written
	mu     sync.Mutex
	cond   sync.Cond
	owed   int    // answers owed
	rest   []byte // of the answer being read
	closed bool
}

func (c *cannedConn) Write(p []byte) (int, error) {
	post := bytes.HasPrefix(p, []byte("POST "))
	if post {
		c.calls.add(int64(len(p)))
	} else {
		c.calls.bytes.Add(int64(len(p)))
	}
	if post {
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
