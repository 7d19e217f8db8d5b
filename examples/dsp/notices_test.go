package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gavelrtb/gavel"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// get calls the notice URL u on d in process and returns the status.
func get(d http.Handler, u string) int {
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u, nil))
	return rec.Code
}

func TestNoticesCounted(t *testing.T) {
	d := testDSP(t, config{})
	resp := decode(t, post(t, d, everyone.request("a1")))
	b := resp.SeatBid[0].Bid[0]
	for _, u := range []string{b.NURL, b.BURL, b.LURL} {
		assert.Contains(t, u, "http://dsp.test/")
		assert.Contains(t, u, "auction=${AUCTION_ID}")
		assert.Contains(t, u, "imp=${AUCTION_IMP_ID}")
		assert.Contains(t, u, "bidid=${AUCTION_BID_ID}")
		assert.Contains(t, u, "min=${AUCTION_MIN_TO_WIN}")
	}
	assert.Contains(t, b.BURL, "ts=${AUCTION_IMP_TS}")
	assert.Contains(t, b.LURL, "loss=${AUCTION_LOSS}")

	won := gavel.MacroValues{
		AuctionID: "a1", BidID: resp.BidID, ImpID: b.ImpID,
		Price: 610_000, BidPrice: 800_000, Currency: "USD", MinToWin: 600_000,
		ImpTS: 1767225600000,
	}
	nurl := gavel.ExpandMacros(b.NURL, &won)
	burl := gavel.ExpandMacros(b.BURL, &won)
	q, err := url.Parse(burl)
	require.NoError(t, err)
	assert.Equal(t, url.Values{
		"campaign": {"run-of-network"}, "auction": {"a1"}, "bidid": {resp.BidID}, "imp": {"imp-1"},
		"cur": {"USD"}, "min": {"0.6"}, "price": {"0.61"}, "ts": {"1767225600000"},
	}, q.Query())

	lost := gavel.MacroValues{AuctionID: "a2", ImpID: b.ImpID, Price: -1, Currency: "USD", MinToWin: 900_000, Loss: openrtb3.LossLostToHigherBid}
	blocked := gavel.MacroValues{AuctionID: "a3", ImpID: b.ImpID, Price: -1, MinToWin: -1, Loss: openrtb3.LossAdvertiserExclusions}

	assert.Equal(t, http.StatusNoContent, get(d, nurl))
	assert.Equal(t, http.StatusNoContent, get(d, burl))
	assert.Equal(t, http.StatusNoContent, get(d, burl), "a retried billing notice is counted again")
	assert.Equal(t, http.StatusNoContent, get(d, gavel.ExpandMacros(b.LURL, &lost)))
	assert.Equal(t, http.StatusNoContent, get(d, gavel.ExpandMacros(b.LURL, &lost)))
	assert.Equal(t, http.StatusNoContent, get(d, gavel.ExpandMacros(b.LURL, &blocked)))
	assert.Equal(t, http.StatusBadRequest, get(d, "/win?campaign=x"))
	assert.Equal(t, http.StatusBadRequest, get(d, gavel.ExpandMacros(b.BURL, &lost)), "a billing notice without a price")

	s := d.stats.snapshot()
	assert.Equal(t, int64(1), s.Wins)
	assert.Equal(t, int64(2), s.Billings)
	assert.Equal(t, int64(2*610), s.SpendMicros)
	assert.Equal(t, map[string]int64{"102": 2, "205": 1}, s.Losses)
	assert.Equal(t, int64(2), s.InvalidNotices)
}

func TestStatsEndpoint(t *testing.T) {
	d := testDSP(t, config{})
	post(t, d, everyone.request("a1"))
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"requests":1,"invalid_requests":0,"no_bids":0,"responses":1,"bids":1,
		"wins":0,"billings":0,"spend_micros":0,"losses":{},"invalid_notices":0}`, rec.Body.String())
}
