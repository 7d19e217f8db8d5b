package gavelhttp_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// Notices.URL builds the URL of a base without a query by concatenation:
// the same URL as base with the query parameter t set, as for a base
// with a query or a fragment.
func TestNoticesURLIsBaseWithToken(t *testing.T) {
	a, err := gavel.New(gavel.WithBidders())
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	notifier, err := gavelhttp.NewNotifier()
	require.NoError(t, err)
	t.Cleanup(func() { _ = notifier.Close(context.Background()) })
	bill := gavel.Billing{AuctionID: "a 1", ImpID: "1", BidID: "b/1", Bidder: "dsp", Seat: "dsp", ClearMicros: 2_010_000}
	for _, base := range []string{
		"https://exchange.example/notice/billing",
		"https://exchange.example/notice/bill%20ing",
		"http://127.0.0.1:8080/n",
		"https://exchange.example/notice/billing?z=1&a=2",
		"https://exchange.example/notice/billing#frag",
	} {
		n, err := gavelhttp.NewNotices(a, testKeys(t), base, notifier)
		require.NoError(t, err)
		got := n.URL(bill, "https://dsp.example/burl?p=${AUCTION_PRICE}")
		parsed, err := url.Parse(got)
		require.NoError(t, err)
		token := parsed.Query().Get("t")
		require.NotEmpty(t, token)
		want, err := url.Parse(base)
		require.NoError(t, err)
		q := want.Query()
		q.Set("t", token)
		want.RawQuery = q.Encode()
		assert.Equal(t, want.String(), got, base)
	}
}

// Notices.URL allocates the URL it returns and nothing else: the payload
// is built in a pooled buffer, the HMAC and its sum are pooled, and the
// URL is sized exactly.
func TestNoticesURLAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	a, err := gavel.New(gavel.WithBidders())
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	notifier, err := gavelhttp.NewNotifier()
	require.NoError(t, err)
	t.Cleanup(func() { _ = notifier.Close(context.Background()) })
	n, err := gavelhttp.NewNotices(a, testKeys(t), "https://exchange.example/notice/billing", notifier)
	require.NoError(t, err)
	bill := gavel.Billing{AuctionID: "a1", ImpID: "1", BidID: "b1", Bidder: "dsp", Seat: "dsp", ClearMicros: 2_010_000,
		Hold: gavel.Hold{Account: "acct", ID: 7, Amount: 2_010_000, Expires: time.Unix(1_900_000_000, 0)}}
	var url string
	allocs := testing.AllocsPerRun(100, func() { url = n.URL(bill, "https://dsp.example/burl?p=${AUCTION_PRICE}") })
	assert.Equal(t, 1.0, allocs, url)
}
