package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// reconcileConf returns the config of two test DSPs for the reconcile
// tests: "high" outbids "low" and has 0.01 a day (five wins at 2.01 CPM),
// after which "low" wins, out of its total budget.
func reconcileConf(events string, low, high *testDSP) map[string]any {
	conf := testConfig(events, low, high)
	conf["budgets"] = []any{
		map[string]any{"account": "high", "amount": "0.01", "period": "daily", "pacing": "asap"},
		map[string]any{"account": "low", "amount": "1000.00", "period": "total", "pacing": "asap"},
	}
	return conf
}

// billSome runs auctions on the exchange at base and calls the burl of
// every winner but each third: those holds stay reserved.
func billSome(t *testing.T, base string, auctions int) {
	t.Helper()
	c := testClient(t)
	for i := range auctions {
		code, resp := postAuction(t, c, base, slowRequest(fmt.Sprintf("reconcile-%d", i)))
		if code != http.StatusOK || i%3 == 2 {
			continue
		}
		_, bid := seatOf(t, resp)
		r, err := c.Get(bid.BURL)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
		require.Equal(t, http.StatusNoContent, r.StatusCode)
	}
	c.CloseIdleConnections()
}

// committedOf returns the committed spend of each account of ledger.
func committedOf(t *testing.T, ledger gavel.BalanceReader, accounts ...string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, a := range accounts {
		b, err := ledger.Balance(context.Background(), a)
		require.NoError(t, err)
		out[a] = b.Committed
	}
	return out
}

// freshStores returns the open func of reconcile that hands it memory
// stores, kept in *got for the test to read.
func freshStores(t *testing.T, got **stores) func(*gavelhttp.Config) (*stores, error) {
	return func(*gavelhttp.Config) (*stores, error) {
		s, err := newMemoryStores()
		require.NoError(t, err)
		*got = s
		return s, nil
	}
}

// TestReconcileJSONLines runs an exchange with a JSON lines sink, wins and
// bills impressions of two accounts (one daily, one total), stops it, and
// reconciles its events file into fresh stores: the fresh ledger's
// committed is exactly the exchange's.
func TestReconcileJSONLines(t *testing.T) {
	clearOfTurn(t, gavel.DailyPeriod(nil, 0).Next(time.Now()), time.Minute) // the daily account's day
	low, high := newTestDSP(t, "low", 2, false), newTestDSP(t, "high", 3, false)
	events := filepath.Join(t.TempDir(), "events.jsonl")
	s, path := launchConfig(t, reconcileConf(events, low, high))
	billSome(t, s.base, 12)
	want := committedOf(t, s.x.stores.balances, "high", "low")
	s.stop(t) // the events are flushed
	require.Positive(t, want["high"])
	require.Positive(t, want["low"])

	ctx := context.Background()
	var out bytes.Buffer
	var fresh *stores
	require.NoError(t, reconcile(ctx, reconcileConfig{file: path}, freshStores(t, &fresh), &out), out.String())
	t.Log("\n" + out.String())
	assert.Equal(t, want, committedOf(t, fresh.balances, "high", "low"))
	assert.Contains(t, out.String(), "events: "+events+" (JSON lines)")
	assert.Contains(t, out.String(), "restored 2 accounts into the ledger\n")
	assert.Contains(t, out.String(), "records no spend to restore: left out", "the memory pacer")
	assert.Regexp(t, `high +day from \S+ +0\.0\d+ +\d +restore`, out.String())
	assert.Regexp(t, `low +total +0\.0\d+ +\d +restore`, out.String())

	// -events names the file, with the same result; -dry-run restores
	// nothing and opens no store.
	out.Reset()
	require.NoError(t, reconcile(ctx, reconcileConfig{file: path, events: events}, freshStores(t, &fresh), &out))
	assert.Equal(t, want, committedOf(t, fresh.balances, "high", "low"))
	out.Reset()
	opened := false
	dry := func(*gavelhttp.Config) (*stores, error) { opened = true; return nil, nil }
	require.NoError(t, reconcile(ctx, reconcileConfig{file: path, dryRun: true}, dry, &out))
	assert.False(t, opened)
	assert.Contains(t, out.String(), "dry run: nothing restored")

	// A torn line: refused, unless -allow-malformed.
	f, err := os.OpenFile(events, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"v":1,"type":"billing","ts":17`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	out.Reset()
	err = reconcile(ctx, reconcileConfig{file: path}, dry, &out)
	require.ErrorContains(t, err, "1 events could not be read")
	assert.False(t, opened)
	assert.Regexp(t, `line \d+: gavel: event: unexpected end of JSON input`, out.String())
	require.NoError(t, reconcile(ctx, reconcileConfig{file: path, allowMalformed: true}, freshStores(t, &fresh), &out))
	assert.Equal(t, want, committedOf(t, fresh.balances, "high", "low"))
}

// TestReconcileKafka does the same with the events in Kafka (kfake over
// TCP): the config's topic, then -kafka-topic and -kafka-brokers.
func TestReconcileKafka(t *testing.T) {
	clearOfTurn(t, gavel.DailyPeriod(nil, 0).Next(time.Now()), time.Minute) // the daily account's day
	const topic = "gavel-events"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	low, high := newTestDSP(t, "low", 2, false), newTestDSP(t, "high", 3, false)
	conf := reconcileConf("", low, high)
	conf["events"] = map[string]any{"kind": "kafka", "brokers": cluster.ListenAddrs(), "topic": topic}
	s, path := launchConfig(t, conf)
	billSome(t, s.base, 9)
	want := committedOf(t, s.x.stores.balances, "high", "low")
	s.stop(t) // the Kafka sink delivers what it holds
	require.Positive(t, want["high"])

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	var fresh *stores
	require.NoError(t, reconcile(ctx, reconcileConfig{file: path}, freshStores(t, &fresh), &out), out.String())
	assert.Equal(t, want, committedOf(t, fresh.balances, "high", "low"))
	assert.Contains(t, out.String(), "events: kafka topic "+topic)

	// The config's events elsewhere: the flags name the topic.
	conf["events"] = map[string]any{"kind": "none"}
	writeConfig(t, path, conf)
	out.Reset()
	rc := reconcileConfig{file: path, topic: topic, brokers: cluster.ListenAddrs()}
	require.NoError(t, reconcile(ctx, rc, freshStores(t, &fresh), &out), out.String())
	assert.Equal(t, want, committedOf(t, fresh.balances, "high", "low"))
	err = reconcile(ctx, reconcileConfig{file: path}, freshStores(t, &fresh), &out)
	require.ErrorContains(t, err, `the config's events are "none"`)
}

// TestReconcileFlags checks the command line: its exit codes and the
// flags it refuses.
func TestReconcileFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-config is required"},
		{[]string{"-config", "x", "-events", "e", "-kafka-topic", "t"}, "exclude each other"},
		{[]string{"-config", "x", "extra"}, "unexpected arguments"},
		{[]string{"-config", "x", "-timeout", "0s"}, "want > 0"},
	} {
		var stderr bytes.Buffer
		assert.Equal(t, 2, cli(append([]string{"reconcile"}, tc.args...), io.Discard, &stderr), "%q", tc.args)
		assert.Contains(t, stderr.String(), tc.want)
	}
	var stderr bytes.Buffer
	assert.Equal(t, 1, cli([]string{"reconcile", "-config", filepath.Join(t.TempDir(), "missing.json")}, io.Discard, &stderr))
	assert.True(t, strings.HasPrefix(stderr.String(), "exchange reconcile: "), stderr.String())
}

// notRestorer is a ledger that cannot restore.
type notRestorer struct{ gavel.Ledger }

// TestReconcileNeedsARestorer refuses a ledger that is not a
// gavel.Restorer, restoring nothing.
func TestReconcileNeedsARestorer(t *testing.T) {
	d := newTestDSP(t, "dsp", 2, false)
	events := filepath.Join(t.TempDir(), "events.jsonl")
	require.NoError(t, os.WriteFile(events, nil, 0o644))
	path := filepath.Join(t.TempDir(), "exchange.json")
	writeConfig(t, path, testConfig(events, d))
	ledger, err := gavel.NewMemoryLedger()
	require.NoError(t, err)
	open := func(*gavelhttp.Config) (*stores, error) { return &stores{ledger: notRestorer{ledger}}, nil }
	var out bytes.Buffer
	err = reconcile(context.Background(), reconcileConfig{file: path}, open, &out)
	require.ErrorContains(t, err, "cannot restore committed spend: it is not a gavel.Restorer")
	_, err = ledger.Balance(context.Background(), "dsp")
	require.ErrorIs(t, err, gavel.ErrUnknownAccount, "no budget was set either")
}
