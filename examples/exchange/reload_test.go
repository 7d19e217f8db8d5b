package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/gavelhttp"
)

// TestReloadUnderLoad swaps the bidder set back and forth 20 times while
// eight clients send auctions without pause to bidders that take 10ms to
// answer, so that every swap finds auctions running: no request fails or
// gets a 5xx, each reload tells the bidders it added and removed, and once
// the last reload is done the auctions run on its bidders only.
func TestReloadUnderLoad(t *testing.T) {
	a, b := newTestDSP(t, "a", 2, false), newTestDSP(t, "b", 3, false)
	a.delay.Store(int64(10 * time.Millisecond))
	b.delay.Store(int64(10 * time.Millisecond))
	events := filepath.Join(t.TempDir(), "events.jsonl")
	s, path := launchConfig(t, testConfig(events, a))
	c := testClient(t)

	ctx, cancel := context.WithCancel(context.Background())
	var codes sync.Map // status -> *atomic.Int64
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() { sendUntil(ctx, c, s.base, w, &codes, &sent, &failed) })
	}
	sets := [][]*testDSP{{a, b}, {a}, {b}}
	for i := range 20 { // the last, i = 19, serves sets[1]: {a}
		// Let a few auctions through between two reloads.
		from := sent.Load()
		require.Eventually(t, func() bool { return sent.Load() >= from+8 }, 10*time.Second, time.Millisecond)
		writeConfig(t, path, testConfig(events, sets[i%len(sets)]...))
		_, err := s.x.reload(context.Background())
		require.NoError(t, err, "reload %d", i)
	}
	writeConfig(t, path, testConfig(events, b))
	ch, err := s.x.reload(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"b"}, ch.added) // from {a} to {b}
	assert.Equal(t, []string{"a"}, ch.removed)
	cancel()
	wg.Wait()

	assert.Zero(t, failed.Load(), "requests that got no answer")
	codes.Range(func(k, v any) bool {
		t.Logf("status %v: %d answers", k, v.(*atomic.Int64).Load())
		assert.Contains(t, []int{http.StatusOK, http.StatusNoContent}, k, "%d answers with status %v", v.(*atomic.Int64).Load(), k)
		return true
	})
	ok, _ := codes.Load(http.StatusOK)
	require.NotNil(t, ok)
	assert.Positive(t, ok.(*atomic.Int64).Load())
	// The metrics carried on across the swaps: every auction won counted.
	assert.GreaterOrEqual(t, metric(t, s.base, `gavel_auctions_total{nbr="",outcome="won"}`), float64(ok.(*atomic.Int64).Load()))

	before := a.requests.Load()
	b.delay.Store(0)
	assertWins(t, c, s.base, "b")
	assert.Equal(t, before, a.requests.Load(), "a removed bidder was called")
}

// assertWins runs auctions until seat has won three of them, 20 at
// most. On a loaded machine a bidder may miss its deadline: such an
// auction answers 204, or is won by another bidder, and is not counted.
func assertWins(t *testing.T, c *http.Client, base, seat string) {
	t.Helper()
	won := 0
	for i := 0; i < 20 && won < 3; i++ {
		code, resp := postAuction(t, c, base, slowRequest(fmt.Sprintf("wins-%s-%d", seat, i)))
		if code == http.StatusNoContent {
			continue
		}
		require.Equal(t, http.StatusOK, code)
		if got, _ := seatOf(t, resp); got == seat {
			won++
		}
	}
	require.Equal(t, 3, won, "auctions won by %s of 20", seat)
}

// sendUntil sends auctions until ctx ends, counting the answers by status
// in codes and the requests that got none in failed.
func sendUntil(ctx context.Context, c *http.Client, base string, worker int, codes *sync.Map, sent, failed *atomic.Int64) {
	for i := 0; ctx.Err() == nil; i++ {
		sent.Add(1)
		body, _ := json.Marshal(slowRequest(fmt.Sprintf("load-%d-%d", worker, i)))
		resp, err := c.Post(base+pathAuction, "application/json", bytes.NewReader(body))
		if err != nil {
			failed.Add(1)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		n, _ := codes.LoadOrStore(resp.StatusCode, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
}

// TestReloadRefused changes what needs a restart (the ledger's store), and
// then writes a file that does not parse: both reloads fail, naming the
// problem, and the running set-up stays.
func TestReloadRefused(t *testing.T) {
	a, b := newTestDSP(t, "a", 2, false), newTestDSP(t, "b", 3, false)
	events := filepath.Join(t.TempDir(), "events.jsonl")
	s, path := launchConfig(t, testConfig(events, a))
	c := testClient(t)

	conf := testConfig(events, a, b)
	conf["stores"] = map[string]any{"ledger": map[string]any{"kind": "redis"}}
	writeConfig(t, path, conf)
	_, err := s.x.reload(context.Background())
	require.ErrorIs(t, err, gavelhttp.ErrNotReloadable)
	assert.ErrorContains(t, err, "stores.ledger.kind")

	require.NoError(t, os.WriteFile(path, []byte(`{"bidders": [{"name": "b", "endpont": "x"}]}`), 0o644))
	_, err = s.x.reload(context.Background())
	require.ErrorIs(t, err, gavelhttp.ErrInvalidConfig)
	assert.ErrorContains(t, err, "endpont")

	assertWins(t, c, s.base, "a")
	assert.Zero(t, b.requests.Load())
}

// TestReloadOnSignal reloads through the run loop, as SIGHUP does in the
// binary: the new bidder wins once the reload is logged.
func TestReloadOnSignal(t *testing.T) {
	a, b := newTestDSP(t, "a", 2, false), newTestDSP(t, "b", 3, false)
	events := filepath.Join(t.TempDir(), "events.jsonl")
	path := filepath.Join(t.TempDir(), "exchange.json")
	writeConfig(t, path, testConfig(events, a))
	hup := make(chan os.Signal, 1)
	logs := &syncBuffer{}
	s := launch(t, config{file: path, hup: hup, log: newLogger(logs)})
	c := testClient(t)

	writeConfig(t, path, testConfig(events, a, b))
	hup <- syscall.SIGHUP
	require.Eventually(t, func() bool { return bytes.Contains(logs.Bytes(), []byte("msg=reloaded")) },
		5*time.Second, 5*time.Millisecond)
	assert.Contains(t, logs.String(), "bidders_added=[b]")
	assertWins(t, c, s.base, "b")
}

// TestReloadDemo refuses to reload the demo set-up, which has no file.
func TestReloadDemo(t *testing.T) {
	s := start(t, nil)
	_, err := s.x.reload(context.Background())
	assert.True(t, errors.Is(err, errNoConfig), "%v", err)
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }

// TestReloadBudgets changes a budget and adds a bidder with its own: the
// reload sets both on the ledger the Auctions share, and the metrics (and
// the dashboard, served with a config too) read the new account's balance.
func TestReloadBudgets(t *testing.T) {
	a, b := newTestDSP(t, "a", 2, false), newTestDSP(t, "b", 3, false)
	events := filepath.Join(t.TempDir(), "events.jsonl")
	s, path := launchConfig(t, testConfig(events, a))

	conf := testConfig(events, a, b)
	conf["budgets"].([]any)[0].(map[string]any)["amount"] = "5.00"
	writeConfig(t, path, conf)
	ch, err := s.x.reload(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, ch.budgets)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for account, want := range map[string]int64{"a": 5_000_000, "b": 1_000_000_000} {
		bal, err := s.x.stores.balances.Balance(ctx, account)
		require.NoError(t, err)
		assert.Equal(t, want, bal.Budget, account)
	}
	code, metrics := get(t, s.base+pathMetrics)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, metrics, `account="b"`)
	code, _ = get(t, s.base+pathDashboard)
	assert.Equal(t, http.StatusOK, code, "the dashboard")
}

// metric scrapes the exchange's metrics and returns the value of the
// series named as in the text format, such as name{label="value"}.
func metric(t *testing.T, base, series string) float64 {
	t.Helper()
	code, body := get(t, base+pathMetrics)
	require.Equal(t, http.StatusOK, code)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, line)
			return f
		}
	}
	t.Fatalf("no series %s in the metrics", series)
	return 0
}
