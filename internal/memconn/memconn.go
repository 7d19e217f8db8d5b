// Package memconn is a net.Conn in memory that answers every HTTP request
// written to it with the same canned response, with no server behind it:
// what the fasthttp bidder's tests and benchmarks dial to measure the
// client's cost alone, as an in-memory http.RoundTripper does for
// net/http.
package memconn

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Response returns an HTTP/1.1 200 response carrying body as JSON.
func Response(body []byte) []byte {
	return fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// Dial returns a dial function (a fasthttp.DialFunc) whose every
// connection answers each request written to it with resp. written, if not
// nil, is told of every write: its length, and whether it starts a
// request ("POST ").
func Dial(resp []byte, written func(n int, request bool)) func(addr string) (net.Conn, error) {
	return func(string) (net.Conn, error) {
		c := &Conn{resp: resp, written: written}
		c.cond.L = &c.mu
		return c, nil
	}
}

// Conn is one connection of Dial.
type Conn struct {
	resp    []byte
	written func(n int, request bool)
	mu      sync.Mutex
	cond    sync.Cond
	owed    int    // answers owed
	rest    []byte // of the answer being read
	closed  bool
}

// Write takes a request, or a part of one; a write that starts with
// "POST " is owed an answer.
func (c *Conn) Write(p []byte) (int, error) {
	request := bytes.HasPrefix(p, []byte("POST "))
	if c.written != nil {
		c.written(len(p), request)
	}
	if request {
		c.mu.Lock()
		c.owed++
		c.cond.Signal()
		c.mu.Unlock()
	}
	return len(p), nil
}

// Read reads the answers owed, waiting for a request when none is.
func (c *Conn) Read(p []byte) (int, error) {
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

// Close ends the connection: a waiting Read returns io.EOF.
func (c *Conn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

var addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}

func (*Conn) LocalAddr() net.Addr              { return addr } // 127.0.0.1:80
func (*Conn) RemoteAddr() net.Addr             { return addr } // 127.0.0.1:80
func (*Conn) SetDeadline(time.Time) error      { return nil }  // no deadline: answers are immediate
func (*Conn) SetReadDeadline(time.Time) error  { return nil }  // as SetDeadline
func (*Conn) SetWriteDeadline(time.Time) error { return nil }  // as SetDeadline
