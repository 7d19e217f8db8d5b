package gavelredis

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
)

// profileClient returns a client of the test Redis and a key prefix of the
// test's own, and deletes every key under the prefix when the test ends. It
// skips the test when no server answers at the address.
func profileClient(t testing.TB) (rueidis.Client, string) {
	t.Helper()
	addr := redisAddr()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		noRedis(t, addr, err)
	}
	_ = conn.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "gavel-test:" + hex.EncodeToString(b[:]) + ":"
	c := profileNewClient(t, addr)
	t.Cleanup(func() { profileDeleteKeys(t, c, prefix) })
	return c, prefix
}

// testPrefix returns the option of the key prefix that profileClient
// returned, which ends with the separator the keys add.
func testPrefix(prefix string) Option {
	return WithKeyPrefix(strings.TrimSuffix(prefix, ":"))
}

// profileNewClient returns a new client of the Redis at addr, closed when
// the test ends (after the cleanups registered later, which may use it).
func profileNewClient(t testing.TB, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func profileDeleteKeys(t testing.TB, c rueidis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			t.Logf("redis: cleaning up %s*: %v", prefix, err)
			return
		}
		if len(e.Elements) > 0 {
			if err := c.Do(ctx, c.B().Del().Key(e.Elements...).Build()).Error(); err != nil {
				t.Logf("redis: cleaning up %s*: %v", prefix, err)
			}
		}
		if cursor = e.Cursor; cursor == 0 {
			return
		}
	}
}

// profileProxy forwards TCP connections to a Redis and records what the
// clients send, so that a test can tell which commands reached the server.
// It can stop forwarding (a server that hangs) or close (a closed port).
type profileProxy struct {
	target string
	addr   string
	hang   atomic.Bool

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	sent  bytes.Buffer
	wg    sync.WaitGroup
}

func newProfileProxy(t testing.TB, target string) *profileProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &profileProxy{target: target, addr: ln.Addr().String()}
	p.serve(ln)
	t.Cleanup(p.close)
	return p
}

func (p *profileProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			p.wg.Go(func() { p.pipe(s, c, true) })
			p.wg.Go(func() { p.pipe(c, s, false) })
		}
	})
}

// pipe copies from src to dst until either fails, recording what a client
// sends; while the proxy hangs, it drops what it reads.
func (p *profileProxy) pipe(dst, src net.Conn, fromClient bool) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.hang.Load() {
			if fromClient {
				p.mu.Lock()
				p.sent.Write(buf[:n])
				p.mu.Unlock()
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// count returns how many times s was sent to the server.
func (p *profileProxy) count(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Count(p.sent.Bytes(), []byte(s))
}

// close closes the listener and every connection: the port is closed.
func (p *profileProxy) close() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// profileProxyClient returns a proxy to the test Redis and a client that
// talks through it. The proxy closes before the client when the test ends,
// so that the client need not wait for a server that hangs.
func profileProxyClient(t testing.TB) (*profileProxy, rueidis.Client) {
	t.Helper()
	p := newProfileProxy(t, redisAddr())
	c := profileNewClient(t, p.addr)
	t.Cleanup(p.close)
	return p, c
}

// reopen listens again on the proxy's address after close.
func (p *profileProxy) reopen(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.serve(ln)
}
