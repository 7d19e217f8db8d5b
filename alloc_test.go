package gavel_test

import (
	"context"
	"strconv"
	"testing"
	"testing/synctest"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// maxRunAllocs is the most allocations one auction of 8 bidders with
// prebuilt responses on 3 imps may make: the Result and its slices, the
// auction context, and little else.
const maxRunAllocs = 30

// prebuiltAuction returns an Auction of n bidders that answer req with
// prebuilt responses, one bid per imp, bidder i bidding 1.00+0.10*i CPM on
// every imp, so that the last bidder wins every imp. A bid for a video imp
// says so with its mtype: HTML markup cannot be a video (OpenRTB 2.6
// §3.2.4, §4.2.3).
func prebuiltAuction(t *testing.T, req *openrtb2.BidRequest, n int) *gavel.Auction {
	t.Helper()
	var bidders []gavel.Bidder
	for i := range n {
		name := "b" + strconv.Itoa(i)
		var bids []openrtb2.Bid
		for _, imp := range req.Imp {
			bid := auctiontest.Bid(name+"-"+imp.ID, imp.ID, 1.00+0.10*float64(i))
			if imp.Banner == nil && imp.Video != nil {
				bid.MType = openrtb2.MarkupVideo
			}
			bids = append(bids, bid)
		}
		bidders = append(bidders, auctiontest.Prebuilt(name, auctiontest.Response(req.ID, name, bids...)))
	}
	return mustAuction(t, gavel.WithBidders(bidders...))
}

// allocRequest is the request of the allocation tests: two banner imps and
// a video imp.
func allocRequest() *openrtb2.BidRequest {
	return auctiontest.Request("alloc",
		auctiontest.BannerImp("1", 0.50, [2]int64{300, 250}),
		auctiontest.BannerImp("2", 0.50, [2]int64{728, 90}),
		auctiontest.VideoImp("3", 0.50),
	)
}

func TestRunAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("skipped under -race: the race detector changes allocation counts")
	}
	synctest.Test(t, func(t *testing.T) {
		req := allocRequest()
		a := prebuiltAuction(t, req, 8)
		ctx := context.Background()

		res, err := a.Run(ctx, req)
		require.NoError(t, err)
		for _, imp := range req.Imp {
			w := res.Winner(imp.ID)
			require.NotNil(t, w, "imp %s", imp.ID)
			assert.Equal(t, "b7", w.Bidder, "imp %s", imp.ID)
			assert.Equal(t, int64(1_610_000), w.ClearMicros, "imp %s", imp.ID) // 1.60 + 0.01
		}
		require.Len(t, res.Bids, 24)

		var runErr error
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := a.Run(ctx, req); err != nil {
				runErr = err
			}
		})
		require.NoError(t, runErr)
		assert.LessOrEqual(t, allocs, float64(maxRunAllocs), "allocations per Run of 8 bidders x 3 imps")
		t.Logf("%v allocations per Run of 8 prebuilt bidders x 3 imps", allocs)
	})
}

// A response built again into the same BidResponse allocates nothing when
// the winners' nurl, burl and adm have no macros to expand: the seatbids
// and bid slices of the last response are reused.
func TestBidResponseIntoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("skipped under -race: the race detector changes allocation counts")
	}
	synctest.Test(t, func(t *testing.T) {
		req := allocRequest()
		res, err := prebuiltAuction(t, req, 8).Run(context.Background(), req)
		require.NoError(t, err)
		var resp openrtb2.BidResponse
		res.BidResponseInto(&resp)
		require.Len(t, resp.SeatBid, 1)
		require.Len(t, resp.SeatBid[0].Bid, 3)
		assert.Zero(t, testing.AllocsPerRun(100, func() { res.BidResponseInto(&resp) }))
		assert.Equal(t, *res.BidResponse(), resp)
	})
}
