package gavelhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// With WithResultNotifier the handler fires the win notice of a winner
// that carries its markup, and takes its nurl out of the response; a
// winner without markup keeps its nurl, unfired; losers' lurls fire, also
// when nothing won.
func TestWithResultNotifierFiresWinsAndLosses(t *testing.T) {
	var mu sync.Mutex
	var got []string
	dsp, _ := countingServer(t, func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.URL.RequestURI())
	})
	withAdm := auctiontest.Bid("w1", "1", 3.00)
	withAdm.NURL = dsp.URL + "/win?imp=1&p=${AUCTION_PRICE}"
	noAdm := auctiontest.Bid("w2", "2", 3.00)
	noAdm.AdM, noAdm.NURL = "", dsp.URL+"/markup?imp=2"
	loser := auctiontest.Bid("l1", "1", 2.00)
	loser.LURL = dsp.URL + "/loss?r=${AUCTION_LOSS}"
	low := auctiontest.Bid("l2", "3", 0.10) // below imp 3's floor
	low.LURL = dsp.URL + "/loss?imp=3&r=${AUCTION_LOSS}"

	n, _ := newNotifier(t, loopback)
	h := newHandler(t, []gavel.Bidder{auctiontest.Fixed("alpha", withAdm, noAdm), auctiontest.Fixed("beta", loser, low)},
		gavelhttp.WithResultNotifier(n))
	srv := httptest.NewServer(h)
	defer srv.Close()

	post := func(req *openrtb2.BidRequest) *http.Response {
		data, err := json.Marshal(req)
		require.NoError(t, err)
		resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(data))
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}
	resp := post(auctiontest.Request("r-1", auctiontest.BannerImp("1", 1.00), auctiontest.BannerImp("2", 1.00)))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var br openrtb2.BidResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&br))
	nurls := map[string]string{}
	for _, sb := range br.SeatBid {
		for _, b := range sb.Bid {
			nurls[b.ID] = b.NURL
		}
	}
	assert.Equal(t, map[string]string{"w1": "", "w2": dsp.URL + "/markup?imp=2"}, nurls)

	resp = post(auctiontest.Request("r-2", auctiontest.BannerImp("3", 1.00)))
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	require.NoError(t, n.Close(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	assert.ElementsMatch(t, []string{
		"/win?imp=1&p=2.01",
		"/loss?r=102", "/loss?imp=3&r=3", // r-1: l1 outbid, l2 for an imp r-1 has not (3: invalid bid)
		"/loss?imp=3&r=100", "/loss?r=3", // r-2: l2 below the floor, l1 for an imp r-2 has not
	}, got)
}

func TestWithNilResultNotifierIsRefused(t *testing.T) {
	a, err := gavel.New(gavel.WithBidders(twoBidders()...))
	require.NoError(t, err)
	_, err = gavelhttp.NewAuctionHandler(a, gavelhttp.WithResultNotifier(nil))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	assert.Contains(t, err.Error(), "result notifier must not be nil")
}
