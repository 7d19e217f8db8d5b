package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
)

const requestJSON = `{"id":"r1","tmax":200,"cur":["USD"],"imp":[{"id":"1","bidfloor":0.5,"bidfloorcur":"USD","banner":{"w":300,"h":250}}]}`

func newAuction(t *testing.T, d *Dashboard, price float64) *gavel.Auction {
	t.Helper()
	a, err := gavel.New(
		gavel.WithBidders(auctiontest.Fixed("dsp", openrtb2.Bid{ID: "b1", ImpID: "1", Price: price, AdM: "<div>ad</div>"}), auctiontest.NoBid("quiet")),
		gavel.WithHooks(d))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return a
}

// TestAcrossAuctions: a Dashboard hooked on an Auction and on the one
// that replaces it counts both, and reads the handler it watches.
func TestAcrossAuctions(t *testing.T) {
	d := newDashboard(t)
	old, replacement := newAuction(t, d, 1), newAuction(t, d, 3)
	h, err := gavelhttp.NewAuctionHandler(old)
	require.NoError(t, err)
	require.NoError(t, d.WatchHandler(h))
	require.Error(t, d.WatchHandler(h), "already watched")

	r := newReadings()
	at := time.Unix(1000, 0)
	d.build(context.Background(), r, at)
	for range 3 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(requestJSON)))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	}
	var req openrtb2.BidRequest
	require.NoError(t, json.Unmarshal([]byte(requestJSON), &req))
	_, err = replacement.Run(context.Background(), &req)
	require.NoError(t, err)

	f := d.build(context.Background(), r, at.Add(time.Second))
	assert.Equal(t, 4.0, f.Auctions.Won)
	assert.Equal(t, int64(1_500_000), f.Auctions.AvgBid, "three at 1, one at 3")
	assert.Equal(t, int64(510_000), f.Auctions.AvgClear, "second price alone: the floor and a cent")
	require.Len(t, f.Bidders, 2)
	assert.Equal(t, bidderFrame{Name: "dsp", Calls: 4, BidRate: 1, WinRate: 1, Bids: 4, Wins: 4, AvgBid: 1_500_000, AvgClear: 510_000},
		withoutLatency(f.Bidders[0]))
	assert.Equal(t, 1.0, f.Bidders[1].NoBidRate)
	require.NotNil(t, f.Handler)
	assert.Equal(t, handlerFrame{OK: 3}, *f.Handler)
}

func withoutLatency(b bidderFrame) bidderFrame {
	b.P50, b.P90, b.P99 = 0, 0, 0
	return b
}
