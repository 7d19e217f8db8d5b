package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
)

// redisAddr is the Redis the tests use: $GAVEL_REDIS_ADDR, or
// 127.0.0.1:6379.
func redisAddr() string {
	if addr := os.Getenv("GAVEL_REDIS_ADDR"); addr != "" {
		return addr
	}
	return "127.0.0.1:6379"
}

// redisPrefix returns a key prefix of the test's own, after checking that
// Redis answers: the test is skipped when it does not, or fails when
// GAVEL_REQUIRE_REDIS=1. The keys under the prefix are deleted when the
// test ends.
func redisPrefix(t *testing.T) string {
	t.Helper()
	addr := redisAddr()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("GAVEL_REQUIRE_REDIS") == "1" {
			t.Fatalf("redis: no server at %s (GAVEL_REQUIRE_REDIS=1): %v", addr, err)
		}
		t.Skipf("redis: no server at %s: %v", addr, err)
	}
	_ = conn.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "gavel-exchange-test-" + hex.EncodeToString(b[:])
	t.Cleanup(func() { deleteKeys(t, addr, prefix) })
	return prefix
}

// deleteKeys deletes the keys of the ledger ({prefix:account}:...) and of
// the pacer and profiles (prefix:...).
func deleteKeys(t *testing.T, addr, prefix string) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, pattern := range []string{"{" + prefix + ":*", prefix + ":*"} {
		var cursor uint64
		for {
			e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
			require.NoError(t, err)
			if len(e.Elements) > 0 {
				require.NoError(t, c.Do(ctx, c.B().Del().Key(e.Elements...).Build()).Error())
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
}

// TestConfigBillingOnceRedis is TestConfigBillingOnce with the ledger,
// the pacer and the profiles in Redis, under a key prefix of the test's
// own; shutting down closes the ledger and the client.
func TestConfigBillingOnceRedis(t *testing.T) {
	prefix := redisPrefix(t)
	d := newTestDSP(t, "dsp", 2, false)
	conf := testConfig(filepath.Join(t.TempDir(), "events.jsonl"), d)
	redis := map[string]any{"kind": "redis", "addr": redisAddr(), "prefix": prefix}
	conf["stores"] = map[string]any{"ledger": redis, "pacer": redis, "profiles": redis}
	billOnce(t, conf, d)
}

// deadAddr returns an address on 127.0.0.1 where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
