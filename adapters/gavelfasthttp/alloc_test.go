package gavelfasthttp_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/adapters/gavelfasthttp"
	"github.com/gavelrtb/gavel/auctiontest"
)

// replayConn is a net.Conn in memory that answers every request written
// to it with resp, for measuring the bidder's own allocations.
type replayConn struct {
	resp   []byte
	mu     sync.Mutex
	cond   sync.Cond
	owed   int
	rest   []byte
	closed bool
}

func (c *replayConn) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("POST ")) {
		c.mu.Lock()
		c.owed++
		c.cond.Signal()
		c.mu.Unlock()
	}
	return len(p), nil
}

func (c *replayConn) Read(p []byte) (int, error) {
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

func (c *replayConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

var replayAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}

func (*replayConn) LocalAddr() net.Addr              { return replayAddr }
func (*replayConn) RemoteAddr() net.Addr             { return replayAddr }
func (*replayConn) SetDeadline(time.Time) error      { return nil }
func (*replayConn) SetReadDeadline(time.Time) error  { return nil }
func (*replayConn) SetWriteDeadline(time.Time) error { return nil }

// TestBidderAllocs guards the allocations of one call answered in memory:
// the fasthttp call itself allocates nothing (its request, response and
// buffers are pooled); what is left is encoding the request and decoding
// the answer (encoding/json).
func TestBidderAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	body := []byte(`{"id":"req-1","seatbid":[{"seat":"dsp","bid":[{"id":"b1","impid":"1","price":2.5,` +
		`"adm":"<div>an ad of moderate length</div>","crid":"cr-1","adomain":["brand.example"],"w":300,"h":250}]}],"cur":"USD"}`)
	resp := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	b, err := gavelfasthttp.NewBidder("dsp", "http://dsp.example/bid", gavelfasthttp.WithDial(func(string) (net.Conn, error) {
		c := &replayConn{resp: resp}
		c.cond.L = &c.mu
		return c, nil
	}))
	require.NoError(t, err)
	t.Cleanup(b.CloseIdleConnections)
	req := auctiontest.Request("req-1", auctiontest.BannerImp("1", 1.0, [2]int64{300, 250}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	allocs := testing.AllocsPerRun(100, func() {
		r, e := b.Bid(ctx, req)
		if e != nil || r == nil {
			err = fmt.Errorf("answer %v, %w", r, e)
		}
	})
	require.NoError(t, err)
	t.Logf("%.0f allocations per call", allocs)
	assert.LessOrEqual(t, allocs, 30.0)
}
