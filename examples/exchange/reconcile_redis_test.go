package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// TestReconcileRedis runs an exchange on a Redis ledger and pacer (under
// a key prefix of the test's own), bills some impressions, stops it,
// deletes every key of the prefix (a Redis that restarted empty), and
// reconciles from the events file: the Redis ledger's committed is the
// exchange's again. It is skipped while the Redis ledger is not a
// gavel.Restorer.
func TestReconcileRedis(t *testing.T) {
	prefix := redisPrefix(t)
	low, high := newTestDSP(t, "low", 2, false), newTestDSP(t, "high", 3, false)
	conf := reconcileConf(filepath.Join(t.TempDir(), "events.jsonl"), low, high)
	redis := map[string]any{"kind": "redis", "addr": redisAddr(), "prefix": prefix}
	conf["stores"] = map[string]any{"ledger": redis, "pacer": redis}
	s, path := launchConfig(t, conf)
	day := gavel.DailyPeriod(nil, 0).Start(time.Now())
	billSome(t, s.base, 12)
	want := committedOf(t, s.x.stores.balances, "high", "low")
	s.stop(t)
	if gavel.DailyPeriod(nil, 0).Start(time.Now()) != day {
		t.Skip("the UTC day turned during the test")
	}
	require.Positive(t, want["high"])
	deleteKeys(t, redisAddr(), prefix) // Redis lost its data

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	open := func(c *gavelhttp.Config) (*stores, error) { return openStores(c.Stores) }
	err := reconcile(ctx, reconcileConfig{file: path}, open, &out)
	require.NoError(t, err, out.String())
	assert.Contains(t, out.String(), "restored 2 accounts into the ledger and the pacer")

	st, err := openStores(gavelhttp.StoresConfig{Ledger: gavelhttp.StoreConfig{Kind: storeRedis, Addr: redisAddr(), Prefix: prefix},
		Pacer: gavelhttp.StoreConfig{Kind: storeNone}, Profiles: gavelhttp.StoreConfig{Kind: storeNone}})
	require.NoError(t, err)
	defer func() { require.NoError(t, st.close(context.Background())) }()
	assert.Equal(t, want, committedOf(t, st.balances, "high", "low"))
}
