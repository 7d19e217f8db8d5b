package gavelprom_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A scrape over HTTP, on 127.0.0.1, returns the metrics.
func TestScrapeHTTP(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(promhttp.HandlerFor(f.m.Registry(), promhttp.HandlerOpts{}))
	defer srv.Close()
	require.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"), srv.URL)
	client := srv.Client()
	defer client.CloseIdleConnections()

	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	text := string(body)
	for _, line := range []string{
		`gavel_auctions_total{exchange="test",nbr="",outcome="won"} 4`,
		`gavel_bids_won_total{bidder="alpha",exchange="test"} 2`,
		`gavel_ledger_remaining_micros{account="alpha",exchange="test"} 3000`,
		`gavel_bidder_call_ratio{bidder="slow",exchange="test"} 1`,
		`gavel_auction_duration_seconds_count{exchange="test",outcome="won"} 4`,
	} {
		assert.Contains(t, text, line+"\n")
	}

	const want = `
# HELP gavel_budget_reserved_micros_total Money reserved for winners, micros of the account currency.
# TYPE gavel_budget_reserved_micros_total counter
gavel_budget_reserved_micros_total{account="alpha",exchange="test"} 10000
gavel_budget_reserved_micros_total{account="beta",exchange="test"} 6000
`
	require.NoError(t, testutil.ScrapeAndCompare(srv.URL, strings.NewReader(want), "gavel_budget_reserved_micros_total"))
	http.DefaultClient.CloseIdleConnections() // ScrapeAndCompare's
}
