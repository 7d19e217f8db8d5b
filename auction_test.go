package gavel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
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
	req.TMax = 150 // the quick bidders must answer in time on a loaded machine too
	res := runTimed(t, context.Background(), a, req)
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

type ctxProbeKey struct{}

// A bidder may hand its context to work that outlives its call, as net/http
// does with a dial it keeps going. That context must stay sound after Run
// has returned and put its working state back in the pool for the next
// auction.
func TestRunContextOutlivesBidderCall(t *testing.T) {
	release := make(chan struct{})
	probed := make(chan any, 2)
	late := func(ctx context.Context, _ *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		go func() {
			<-release
			defer func() { probed <- recover() }()
			_ = ctx.Value(ctxProbeKey{})
			_ = ctx.Err()
		}()
		return nil, nil
	}
	a, err := gavel.New(gavel.WithBidders(gavel.BidderFunc("late", late), gavel.BidderFunc("timed", late)),
		gavel.WithBidderTimeout("timed", 20*time.Millisecond))
	require.NoError(t, err)
	_, err = a.Run(context.Background(), auctiontest.Request("r1", auctiontest.BannerImp("1", 1.0)))
	require.NoError(t, err)
	time.Sleep(10 * time.Millisecond) // let the bidders' goroutines end and free the round
	// The next auction reuses the round while the first one's contexts are read.
	_, err = a.Run(context.Background(), auctiontest.Request("r2", auctiontest.BannerImp("1", 1.0)))
	require.NoError(t, err)
	close(release)
	assert.Nil(t, <-probed)
	assert.Nil(t, <-probed)
}
