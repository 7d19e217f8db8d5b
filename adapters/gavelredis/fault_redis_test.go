package gavelredis

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
)

// redisServer is the binary the fault tests start: a Redis of their own,
// which they kill, never the machine's.
const redisServer = "/usr/bin/redis-server"

// testRedis is a redis-server started by a test on a free port of
// 127.0.0.1, in a directory of its own, killed when the test ends.
type testRedis struct {
	t    testing.TB
	port int
	dir  string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Persistence settings of a testRedis.
var (
	// redisNoPersistence: a restart starts empty.
	redisNoPersistence = []string{"--save", "", "--appendonly", "no"}
	// redisAOFAlways: every write is in the AOF, fsynced, before Redis
	// answers: a restart loses nothing acknowledged.
	redisAOFAlways = []string{"--save", "", "--appendonly", "yes", "--appendfsync", "always"}
)

// startTestRedis starts a redis-server with the settings args. It skips
// the test when there is no redis-server (fails it with
// GAVEL_REQUIRE_REDIS=1).
func startTestRedis(t testing.TB, args ...string) *testRedis {
	t.Helper()
	if _, err := os.Stat(redisServer); err != nil {
		noRedis(t, redisServer, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	r := &testRedis{t: t, port: port, dir: t.TempDir(), args: args}
	r.Start()
	t.Cleanup(r.Kill)
	return r
}

func (r *testRedis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Start starts the server (again), on its port and in its directory, and
// waits until it answers PING.
func (r *testRedis) Start() {
	r.t.Helper()
	args := append([]string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"}, r.args...)
	cmd := exec.Command(redisServer, args...)
	require.NoError(r.t, cmd.Start())
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r.ping() == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s did not answer PING in 10s", r.Addr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *testRedis) ping() error {
	c, err := net.DialTimeout("tcp", r.Addr(), 100*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != "+PONG\r\n" {
		return os.ErrNotExist // loading, or not yet Redis
	}
	return nil
}

// Kill kills the server with SIGKILL, as a crash does, and waits for it.
func (r *testRedis) Kill() {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// Restart kills the server and starts it again: empty without
// persistence, with what its AOF kept with it.
func (r *testRedis) Restart() {
	r.t.Helper()
	r.Kill()
	r.Start()
}

// faultClient returns a client of addr with the adapter's ClientOption,
// closed when the test ends.
func faultClient(t testing.TB, addr string) rueidis.Client {
	t.Helper()
	opt := ClientOption(addr)
	opt.DisableCache = true
	opt.ForceSingleClient = true
	c, err := rueidis.NewClient(opt)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// eventually runs f every 10ms until it returns true, for at most d.
func eventually(ctx context.Context, d time.Duration, f func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		if f() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
}
