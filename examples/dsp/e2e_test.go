package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve starts d on 127.0.0.1 and returns an HTTP bidder named name for it.
func serve(t *testing.T, name string, d *dsp) (*httptest.Server, *gavel.HTTPBidder) {
	t.Helper()
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	b, err := gavel.NewHTTPBidder(name, srv.URL+"/bid", gavel.WithHTTPGzipRequests(true))
	require.NoError(t, err)
	t.Cleanup(b.CloseIdleConnections)
	return srv, b
}

// fire calls a notice URL over HTTP and returns the status.
func fire(t *testing.T, srv *httptest.Server, u string) int {
	t.Helper()
	resp, err := srv.Client().Get(u)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

func TestAuctionAgainstDSPs(t *testing.T) {
	rich := testDSP(t, config{Latency: time.Millisecond})
	cheap := testDSP(t, config{Campaigns: []Campaign{{
		ID: "bargain", Price: 3.5,
		Creatives: []Creative{{CrID: "bargain-300x250", W: 300, H: 250, AdM: "<div>bargain</div>", ADomain: []string{"bargain.example"}}},
	}}})
	richSrv, richBidder := serve(t, "rich", rich)
	cheapSrv, cheapBidder := serve(t, "cheap", cheap)
	t.Cleanup(richSrv.Client().CloseIdleConnections)
	t.Cleanup(cheapSrv.Client().CloseIdleConnections)

	a, err := gavel.New(gavel.WithBidders(richBidder, cheapBidder))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close(context.Background())) })

	s := spec{w: 300, h: 250, country: "USA", device: adcom1.DeviceMobile, segs: []string{"auto-intender"}, floor: 1, tmax: 500}
	res, err := a.Run(context.Background(), s.request("e2e-1"))
	require.NoError(t, err)

	win := res.Winner("imp-1")
	require.NotNil(t, win)
	assert.Equal(t, "rich", win.Bidder)
	assert.Equal(t, "cars-intenders", win.Bid.CID)
	assert.Equal(t, int64(4_750_000), win.PriceMicros)
	assert.Greater(t, win.ClearMicros, int64(3_500_000), "second price: above the other bid")
	assert.LessOrEqual(t, win.ClearMicros, win.PriceMicros)

	resp := res.BidResponse()
	require.Len(t, resp.SeatBid, 1)
	bid := resp.SeatBid[0].Bid[0]
	assert.Equal(t, http.StatusNoContent, fire(t, richSrv, bid.NURL))
	impTS := gavel.MacroValues{ImpTS: time.Now().UnixMilli()}
	assert.Equal(t, http.StatusNoContent, fire(t, richSrv, gavel.ExpandMacros(bid.BURL, &impTS)))
	for i := range res.Bids {
		if u := res.LossURL(i); u != "" {
			assert.Equal(t, http.StatusNoContent, fire(t, cheapSrv, u))
		}
	}

	got := rich.stats.snapshot()
	assert.Equal(t, int64(1), got.Wins)
	assert.Equal(t, int64(1), got.Billings)
	assert.Equal(t, win.CostMicros(), got.SpendMicros)
	assert.Equal(t, map[string]int64{strconv.Itoa(int(openrtb3.LossLostToHigherBid)): 1}, cheap.stats.snapshot().Losses)
}

func TestAuctionDSPTooLate(t *testing.T) {
	late := testDSP(t, config{Latency: time.Millisecond, Late: 1})
	_, b := serve(t, "late", late)
	a, err := gavel.New(gavel.WithBidders(b))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close(context.Background())) })
	s := everyone
	s.tmax = 100
	res, err := a.Run(context.Background(), s.request("late-1"))
	require.NoError(t, err)
	assert.False(t, res.HasWinner())
	assert.Equal(t, gavel.StatusTimeout, res.Bidders[0].Status)
}
