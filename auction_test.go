package gavel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

func TestRunSecondPrice(t *testing.T) {
	a, err := gavel.New(gavel.WithBidders(
		auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 2.00)),
		auctiontest.Fixed("b", auctiontest.Bid("b1", "1", 3.00)),
		auctiontest.NoBid("c"),
		auctiontest.Error("d", errors.New("boom")),
		auctiontest.Panic("e", "kaboom"),
		auctiontest.Hang("f"),
	))
	require.NoError(t, err)
	req := auctiontest.Request("r1", auctiontest.BannerImp("1", 1.0, [2]int64{300, 250}))
	req.TMax = 50
	start := time.Now()
	res, err := a.Run(context.Background(), req)
	require.NoError(t, err)
	// Run returns by tmax less the reserve; 30ms of slack for a loaded machine.
	assert.Less(t, time.Since(start), 50*time.Millisecond+30*time.Millisecond)
	w := res.Winner("1")
	require.NotNil(t, w)
	assert.Equal(t, "b", w.Bidder)
	assert.Equal(t, int64(2_010_000), w.ClearMicros)
	st := map[string]gavel.BidderStatus{}
	for _, br := range res.Bidders {
		st[br.Bidder] = br.Status
	}
	assert.Equal(t, map[string]gavel.BidderStatus{"a": gavel.StatusBid, "b": gavel.StatusBid, "c": gavel.StatusNoBid,
		"d": gavel.StatusError, "e": gavel.StatusError, "f": gavel.StatusTimeout}, st)
	assert.Equal(t, openrtb3.LossLostToHigherBid, res.Bids[0].Loss)
	resp := res.BidResponse()
	require.Len(t, resp.SeatBid, 1)
	assert.Equal(t, 2.01, resp.SeatBid[0].Bid[0].Price)
}
