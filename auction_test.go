package gavel_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

func TestRunSecondPrice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := mustAuction(t, gavel.WithBidders(
			auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 2.00)),
			auctiontest.Fixed("b", auctiontest.Bid("b1", "1", 3.00)),
			auctiontest.NoBid("c"),
			auctiontest.Error("d", errors.New("boom")),
			auctiontest.Panic("e", "kaboom"),
			auctiontest.Hang("f"),
		))
		res, took := timedRun(t, context.Background(), a, auctiontest.Request("r1", auctiontest.BannerImp("1", 1.0, [2]int64{300, 250})))
		assert.Equal(t, res.FanoutEnd.Sub(res.Start), took, "f hangs until the fan-out ends")
		w := winnerOf(t, res, "1")
		assert.Equal(t, "b", w.Bidder)
		assert.Equal(t, int64(2_010_000), w.ClearMicros)
		assert.Equal(t, map[string]gavel.BidderStatus{"a": gavel.StatusBid, "b": gavel.StatusBid, "c": gavel.StatusNoBid,
			"d": gavel.StatusError, "e": gavel.StatusError, "f": gavel.StatusTimeout}, statusesOf(res))
		assert.Equal(t, openrtb3.LossLostToHigherBid, res.Bids[0].Loss)
		resp := res.BidResponse()
		require.Len(t, resp.SeatBid, 1)
		assert.Equal(t, 2.01, resp.SeatBid[0].Bid[0].Price)
	})
}

// A bidder may hand its context to work that outlives its call, as net/http
// does with a dial it keeps going. That context must stay sound after Run
// has returned and put its working state back in the pool for the next
// auction.
func TestRunContextOutlivesBidderCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		probed := make(chan any, 2)
		late := func(ctx context.Context, _ *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
			go func() {
				<-release
				defer func() { probed <- recover() }()
				_ = ctx.Value(probeKey{})
				_ = ctx.Err()
			}()
			return nil, nil
		}
		a := mustAuction(t, gavel.WithBidders(gavel.BidderFunc("late", late), gavel.BidderFunc("timed", late)),
			gavel.WithBidderTimeout("timed", 20*time.Millisecond))
		timedRun(t, context.Background(), a, auctiontest.Request("r1", auctiontest.BannerImp("1", 1.0)))
		synctest.Wait() // the bidders' goroutines end and free the round
		// The next auction reuses the round while the first one's contexts are read.
		timedRun(t, context.Background(), a, auctiontest.Request("r2", auctiontest.BannerImp("1", 1.0)))
		close(release)
		assert.Nil(t, <-probed)
		assert.Nil(t, <-probed)
	})
}
