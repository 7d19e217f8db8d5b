package gavelredis

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testProxy forwards TCP connections from a port of 127.0.0.1 to a server
// (a Redis), and injects the faults the tests need, one mode at a time or
// together:
//
//   - SetLatency: every read is held for a delay before it is passed on,
//     both ways (a slow network, or a slow server);
//   - Pause / Resume: nothing is passed on, the bytes wait, as behind a
//     stuck network (a partition that heals: TCP delivers later);
//   - Blackhole: what is read is dropped, both ways (a server that hangs);
//   - DropReplies / Heal: the server's answers are dropped (the client's
//     commands still arrive), and Heal cuts the connections, whose answers
//     are then out of step, and forwards the new ones whole;
//   - Cut: the open connections end, new ones are forwarded;
//   - Close / Reopen: the port refuses connections, and the open ones end;
//     Reopen listens again on the same address.
//
// It counts the connections it accepted and records what the clients sent
// (Count).
type testProxy struct {
	target string
	addr   string
	delay  atomic.Int64 // ns
	hang   atomic.Bool
	drop   atomic.Bool
	record atomic.Bool // record what the clients send, for Count
	accept atomic.Int64

	mu    sync.Mutex
	ln    net.Listener  // nil while closed
	gate  chan struct{} // closed while forwarding
	conns map[net.Conn]struct{}
	sent  bytes.Buffer
	wg    sync.WaitGroup
}

// newTestProxy starts a proxy to target, closed when the test ends.
func newTestProxy(t testing.TB, target string) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &testProxy{target: target, addr: ln.Addr().String(), gate: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.gate)
	p.serve(ln)
	t.Cleanup(p.Close)
	return p
}

func (p *testProxy) Addr() string { return p.addr }

// Conns returns how many connections the proxy accepted.
func (p *testProxy) Conns() int64 { return p.accept.Load() }

func (p *testProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			p.accept.Add(1)
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = in.Close()
				continue
			}
			if !p.track(ln, in, out) {
				return
			}
			p.wg.Go(func() { p.pipe(out, in, true) })
			p.wg.Go(func() { p.pipe(in, out, false) })
		}
	})
}

// track keeps conns, unless ln was closed meanwhile.
func (p *testProxy) track(ln net.Listener, conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != ln {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// pipe copies from src to dst until either fails, applying the faults.
func (p *testProxy) pipe(dst, src net.Conn, fromClient bool) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && p.pass(buf[:n], fromClient) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pass applies the faults to b, just read, and reports whether to write it.
func (p *testProxy) pass(b []byte, fromClient bool) bool {
	if d := time.Duration(p.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	p.mu.Lock()
	gate := p.gate
	if fromClient && p.record.Load() && !p.hang.Load() {
		p.sent.Write(b)
	}
	p.mu.Unlock()
	<-gate
	return !p.hang.Load() && !(p.drop.Load() && !fromClient)
}

// SetLatency holds every read for d (0: none) before passing it on.
func (p *testProxy) SetLatency(d time.Duration) { p.delay.Store(int64(d)) }

// Pause stops forwarding until Resume; the bytes wait.
func (p *testProxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default:
	}
}

// Resume forwards again what waited and what comes.
func (p *testProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// Blackhole drops every byte read, both ways, from now on.
func (p *testProxy) Blackhole() { p.hang.Store(true) }

// DropReplies drops the server's answers until Heal.
func (p *testProxy) DropReplies() { p.drop.Store(true) }

// Heal ends the faults that break the stream (Blackhole, DropReplies) and
// the connections they broke; the new ones are forwarded whole.
func (p *testProxy) Heal() {
	p.closeConns()
	p.drop.Store(false)
	p.hang.Store(false)
}

// Cut closes the open connections, dropping what they held, and forwards
// the new ones.
func (p *testProxy) Cut() {
	p.closeConns()
	p.Resume()
}

func (p *testProxy) closeConns() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// Count returns how many times s was sent to the server since Record.
func (p *testProxy) Count(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Count(p.sent.Bytes(), []byte(s))
}

// Record starts recording what the clients send.
func (p *testProxy) Record() { p.record.Store(true) }

// Close closes the port and every connection, and waits for the proxy's
// goroutines. Reopen listens again.
func (p *testProxy) Close() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	p.closeConns()
	p.Resume() // lets paused pipes see their closed connections
	p.wg.Wait()
}

// Reopen listens again on the proxy's address after Close.
func (p *testProxy) Reopen(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.serve(ln)
}

// newLatencyProxy starts a proxy to target that holds every read for delay.
func newLatencyProxy(t testing.TB, target string, delay time.Duration) *testProxy {
	t.Helper()
	p := newTestProxy(t, target)
	p.SetLatency(delay)
	return p
}
