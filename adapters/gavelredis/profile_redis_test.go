package gavelredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"strings"
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

// profileProxyClient returns a proxy to the test Redis and a client that
// talks through it. The proxy closes before the client when the test ends,
// so that the client need not wait for a server that hangs.
func profileProxyClient(t testing.TB) (*testProxy, rueidis.Client) {
	t.Helper()
	p := newTestProxy(t, redisAddr())
	p.Record()
	c := profileNewClient(t, p.Addr())
	t.Cleanup(p.Close)
	return p, c
}
