package gavelhttp_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/gavelhttp"
)

var update = flag.Bool("update", false, "rewrite the golden .want files of testdata/config/invalid")

func loadFull(t *testing.T) *gavelhttp.Config {
	t.Helper()
	c, err := gavelhttp.LoadConfig("testdata/config/full.json")
	require.NoError(t, err)
	return c
}

// The full example config loads, and every options method builds what it
// is for: an Auction (with the stores the embedder adds), keys, a
// notifier, notices and an auction handler.
func TestLoadConfigFull(t *testing.T) {
	ctx := context.Background()
	c := loadFull(t)

	assert.Equal(t, gavelhttp.Duration(120*time.Millisecond), c.Auction.DefaultTMax)
	assert.Equal(t, gavelhttp.Micros(250_000_000), c.Auction.MaxPrice)
	assert.Equal(t, gavelhttp.Micros(10_000), c.Auction.PriceIncrement)
	require.Len(t, c.Bidders, 2)
	assert.Equal(t, int64(gavel.DefaultHTTPMaxResponseSize), c.Bidders[1].MaxResponseSize, "a default filled in a list element")
	budgets, err := c.AuctionBudgets()
	require.NoError(t, err)
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	assert.Equal(t, []gavel.Budget{
		{Account: "alpha", Amount: 500_000_000, Period: gavel.DailyPeriod(paris, 6*time.Hour)},
		{Account: "beta", Amount: 250_000_000,
			Start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Account: "gamma", Amount: 12_345_678, Pacing: gavel.PacingASAP},
	}, budgets, "amounts read exactly into micros, a number as well as a string")
	assert.Equal(t, "redis", c.Stores.Ledger.Kind)
	assert.Equal(t, "exchange", c.Stores.Ledger.Prefix)
	assert.Equal(t, http503, c.Server.ShedStatus)

	opts, err := c.AuctionOptions()
	require.NoError(t, err)
	ledger, err := gavel.NewMemoryLedger()
	require.NoError(t, err)
	pacer, err := gavel.NewEvenPacer()
	require.NoError(t, err)
	a, err := gavel.New(append(opts, gavel.WithLedger(ledger), gavel.WithPacer(pacer))...)
	require.NoError(t, err)
	defer a.Close(ctx)
	bal, err := ledger.Balance(ctx, "gamma")
	require.NoError(t, err)
	assert.Equal(t, int64(12_345_678), bal.Budget, "the budgets reached the ledger")
	names := map[string]bool{}
	for _, h := range a.Health() {
		names[h.Bidder] = true
	}
	assert.Equal(t, map[string]bool{"alpha": true, "beta": true}, names)

	keys, err := c.Keys()
	require.NoError(t, err)
	notifier, err := gavelhttp.NewNotifier(c.NotifierOptions()...)
	require.NoError(t, err)
	defer notifier.Close(ctx)
	notices, err := gavelhttp.NewNotices(a, keys, c.Notices.BaseURL, notifier, c.NoticesOptions()...)
	require.NoError(t, err)
	_, err = gavelhttp.NewAuctionHandler(a, append(c.HandlerOptions(), gavelhttp.WithNotices(notices))...)
	require.NoError(t, err)
}

const http503 = 503

// An empty config is the defaults of every package's options.
func TestParseConfigDefaults(t *testing.T) {
	c, err := gavelhttp.ParseConfig([]byte(`{}`))
	require.NoError(t, err)
	assert.Equal(t, gavelhttp.Duration(gavel.DefaultTMax), c.Auction.DefaultTMax)
	assert.Equal(t, gavelhttp.Micros(gavel.DefaultMaxPrice), c.Auction.MaxPrice)
	assert.Equal(t, []string{"advertisers", "categories"}, c.Auction.PodSeparation)
	assert.Equal(t, "memory", c.Stores.Ledger.Kind)
	assert.Equal(t, "none", c.Stores.Profiles.Kind)
	assert.Equal(t, "none", c.Events.Kind)
	assert.Equal(t, gavelhttp.DefaultServerAddr, c.Server.Addr)
	assert.Equal(t, gavelhttp.DefaultNotifierWorkers, c.Notices.Notifier.Workers)
	assert.Equal(t, gavelhttp.DefaultBillingRetries, c.Notices.Notifier.BillingRetries)

	opts, err := c.AuctionOptions()
	require.NoError(t, err)
	a, err := gavel.New(opts...)
	require.NoError(t, err)
	require.NoError(t, a.Close(context.Background()))

	_, err = c.Keys()
	assert.ErrorIs(t, err, gavelhttp.ErrInvalidConfig, "no signing key")

	c, err = gavelhttp.ParseConfig([]byte(`{"auction": {"pod_separation": [], "price_increment": "0"}, "notices": {"notifier": {"billing_retries": 0}}}`))
	require.NoError(t, err)
	assert.Empty(t, c.Auction.PodSeparation, "a value given as zero or empty is kept, not defaulted")
	assert.Zero(t, c.Auction.PriceIncrement)
	assert.Zero(t, c.Notices.Notifier.BillingRetries)
}

// Each invalid config is refused with every problem at once, as its
// golden .want file lists them (go test -run TestParseConfigInvalid
// -update rewrites them).
func TestParseConfigInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/config/invalid/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			c, err := gavelhttp.ParseConfig(data)
			require.Nil(t, c)
			require.ErrorIs(t, err, gavelhttp.ErrInvalidConfig)
			var ce *gavelhttp.ConfigError
			require.ErrorAs(t, err, &ce)
			got := strings.Join(ce.Problems, "\n") + "\n"
			want := strings.TrimSuffix(f, ".json") + ".want"
			if *update {
				require.NoError(t, os.WriteFile(want, []byte(got), 0o644))
			}
			w, err := os.ReadFile(want)
			require.NoError(t, err)
			assert.Equal(t, string(w), got)
		})
	}
}

func TestLoadConfigNamesTheFile(t *testing.T) {
	_, err := gavelhttp.LoadConfig("testdata/config/invalid/missing.json")
	require.ErrorIs(t, err, gavelhttp.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "testdata/config/invalid/missing.json: bidders[0].name: missing")
	_, err = gavelhttp.LoadConfig("testdata/config/absent.json")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// A config written back as JSON reads the same.
func TestConfigRoundTrip(t *testing.T) {
	c := loadFull(t)
	data, err := json.Marshal(c)
	require.NoError(t, err)
	again, err := gavelhttp.ParseConfig(data)
	require.NoError(t, err)
	assert.Equal(t, c, again)
}

func TestMicros(t *testing.T) {
	for in, want := range map[string]int64{
		`"500.00"`: 500_000_000, `"0.01"`: 10_000, `"2.000125"`: 2_000_125, `12.345678`: 12_345_678,
		`"0"`: 0, `1`: 1_000_000, `"9223372036854.775807"`: 9223372036854775807, `"-1.5"`: -1_500_000,
	} {
		var m gavelhttp.Micros
		require.NoError(t, json.Unmarshal([]byte(in), &m), in)
		assert.Equal(t, gavelhttp.Micros(want), m, in)
	}
	for _, in := range []string{`"1.0000001"`, `"abc"`, `"1."`, `".5"`, `"1e3"`, `1e3`, `"9223372036854.775808"`, `true`, `""`} {
		var m gavelhttp.Micros
		assert.Error(t, json.Unmarshal([]byte(in), &m), in)
	}
	assert.Equal(t, "500.00", gavelhttp.Micros(500_000_000).String())
	assert.Equal(t, "2.000125", gavelhttp.Micros(2_000_125).String())
	assert.Equal(t, "-0.50", gavelhttp.Micros(-500_000).String())
}

func TestConfigKeysFromEnvAndFile(t *testing.T) {
	t.Setenv("GAVEL_TEST_KEY", strings.Repeat("e", 32))
	c, err := gavelhttp.ParseConfig([]byte(`{"notices": {"keys": [
		{"id": "a", "secret_env": "GAVEL_TEST_KEY"},
		{"id": "b", "secret_file": "testdata/config/key-2026-11.txt"}]}}`))
	require.NoError(t, err)
	keys, err := c.Keys()
	require.NoError(t, err)
	_, err = keys.Verify(keys.Sign(&gavelhttp.Notice{Expires: time.Now().Add(time.Minute)}), time.Now())
	require.NoError(t, err)

	c, err = gavelhttp.ParseConfig([]byte(`{"notices": {"keys": [
		{"id": "a", "secret_env": "GAVEL_TEST_KEY_UNSET"},
		{"id": "b", "secret_file": "testdata/config/absent.txt"}]}}`))
	require.NoError(t, err)
	_, err = c.Keys()
	require.ErrorIs(t, err, gavelhttp.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "notices.keys[0]: environment variable GAVEL_TEST_KEY_UNSET is not set")
	assert.Contains(t, err.Error(), "notices.keys[1]: open testdata/config/absent.txt")
}

// A reload may change the auction, the bidders and the budgets; anything
// else is named as needing a restart.
func TestConfigReloadable(t *testing.T) {
	c := loadFull(t)
	next := loadFull(t)
	next.Auction.MaxTMax = gavelhttp.Duration(800 * time.Millisecond)
	next.Bidders = append(next.Bidders[1:], gavelhttp.BidderConfig{Name: "gamma", Endpoint: "http://127.0.0.1:9003/bid"})
	next.Bidders[0].Timeout = gavelhttp.Duration(40 * time.Millisecond)
	next.Budgets = next.Budgets[:1]
	require.NoError(t, c.Reloadable(next))
	next.Events.Brokers = []string{} // empty is as left out
	next.Notices.AllowedAddresses = append(next.Notices.AllowedAddresses[:0:0], next.Notices.AllowedAddresses...)
	require.NoError(t, c.Reloadable(next))

	next = loadFull(t)
	next.Stores.Ledger.Addr = "127.0.0.1:6380"
	next.Events.Kind, next.Events.File = "none", ""
	next.Notices.Keys[1].ID = "2027-01"
	next.Server.Addr = "127.0.0.1:9090"
	next.Bidders[0].NoticeHosts = []string{"dsp.example"}
	next.Bidders = append(next.Bidders, gavelhttp.BidderConfig{Name: "delta", Endpoint: "http://127.0.0.1:9004/bid", NoticeHosts: []string{"d.example"}})
	err := c.Reloadable(next)
	require.ErrorIs(t, err, gavelhttp.ErrNotReloadable)
	assert.Equal(t, "gavelhttp: config change needs a restart: stores.ledger.addr, events.file, events.kind, "+
		"notices.keys[1].id, server.addr, bidders[0].notice_hosts, bidders[2].notice_hosts", err.Error())
}

// The annotated config of the package documentation parses, and shows
// the defaults.
func TestDocConfigShowsTheDefaults(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	var lines []string
	in := false
	comment := regexp.MustCompile(`\s+// .*$`)
	for _, l := range strings.Split(string(src), "\n") {
		l, ok := strings.CutPrefix(l, "//\t")
		switch {
		case ok && l == "{":
			in = true
		case !ok:
			in = false
		}
		if in {
			lines = append(lines, comment.ReplaceAllString(l, ""))
		}
	}
	require.NotEmpty(t, lines)
	doc, err := gavelhttp.ParseConfig([]byte(strings.Join(lines, "\n")))
	require.NoError(t, err)
	def, err := gavelhttp.ParseConfig([]byte(`{}`))
	require.NoError(t, err)
	require.Len(t, doc.Bidders, 1)
	require.Len(t, doc.Budgets, 1)
	def.Bidders, def.Budgets = doc.Bidders, doc.Budgets
	doc.Server.MaxInFlight = def.Server.MaxInFlight // depends on GOMAXPROCS
	assert.Empty(t, doc.Notices.Keys)
	assert.Empty(t, doc.Notices.AllowedAddresses)
	doc.Notices.Keys, doc.Notices.AllowedAddresses = nil, nil // [] in the doc, nil by default
	assert.Equal(t, def, doc)
}

// ParseConfig never panics, and a config it returns reads back the same
// once written as JSON.
func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/config/*.json")
	more, _ := filepath.Glob("testdata/config/invalid/*.json")
	for _, file := range append(files, more...) {
		data, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"budgets": [{"account": "a", "amount": 1.5, "start": "2026-01-01T00:00:00+02:00", "end": "2026-02-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := gavelhttp.ParseConfig(data)
		if err != nil {
			require.ErrorIs(t, err, gavelhttp.ErrInvalidConfig)
			return
		}
		out, err := json.Marshal(c)
		require.NoError(t, err)
		again, err := gavelhttp.ParseConfig(out)
		require.NoError(t, err, "%s", out)
		require.NoError(t, c.Reloadable(again))
		require.NoError(t, again.Reloadable(c))
	})
}
