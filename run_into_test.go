package gavel_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// RunInto writes into a reused Result exactly what Run returns, whatever
// the Result held before: a larger auction, a smaller one, a failed one.
func TestRunIntoEqualsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		big := auctiontest.Request("big",
			auctiontest.BannerImp("1", 0.50, [2]int64{300, 250}),
			auctiontest.BannerImp("2", 0.50, [2]int64{728, 90}),
			auctiontest.VideoImp("3", 0.50),
		)
		small := auctiontest.Request("small", auctiontest.BannerImp("1", 1.55, [2]int64{300, 250}))
		noBids := auctiontest.Request("none", auctiontest.BannerImp("1", 99, [2]int64{300, 250}))
		a := prebuiltAuction(t, big, 8)
		ctx := context.Background()

		var res gavel.Result
		var resp openrtb2.BidResponse // reused as a server that pools its responses reuses it
		for _, req := range []*openrtb2.BidRequest{big, small, noBids, big, small, &openrtb2.BidRequest{}, small} {
			want, wantErr := a.Run(ctx, req)
			err := a.RunInto(ctx, req, &res)
			if wantErr != nil {
				assert.Equal(t, wantErr, err, req.ID)
				continue
			}
			require.NoError(t, err, req.ID)
			assert.Equal(t, *want, res, req.ID)
			res.BidResponseInto(&resp)
			wantResp := want.BidResponse()
			if len(wantResp.SeatBid) == 0 {
				assert.Empty(t, resp.SeatBid, req.ID)
				resp.SeatBid = nil // BidResponse has none at all; the reused one keeps its memory
			}
			assert.Equal(t, *wantResp, resp, req.ID)
		}
		// The bidders answer for big only: the other requests get bids for
		// another auction, all invalid, which leaves least of big behind.
		require.NoError(t, a.RunInto(ctx, big, &res))
		require.Len(t, res.Bids, 24)
		for _, imp := range big.Imp {
			if w := res.Winner(imp.ID); assert.NotNil(t, w, imp.ID) {
				assert.Equal(t, "b7", w.Bidder, imp.ID)
			}
		}
	})
}

// A Result the caller filled itself is emptied before use.
func TestRunIntoClearsWhatTheResultHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		req := auctiontest.Request("r", auctiontest.BannerImp("1", 0.50, [2]int64{300, 250}))
		a := prebuiltAuction(t, req, 2)
		want, err := a.Run(context.Background(), req)
		require.NoError(t, err)

		junkBid := auctiontest.Bid("junk", "1", 100)
		bids := make([]gavel.BidOutcome, 5)
		for i := range bids {
			bids[i] = gavel.BidOutcome{Bidder: "junk", Bid: &junkBid, Won: true, PriceMicros: 1, Deal: &openrtb2.Deal{ID: "d"}}
		}
		imps := []gavel.ImpResult{{ImpID: "junk", Winner: 4, Pod: &gavel.PodResult{}}, {ImpID: "junk2"}}
		res := gavel.Result{
			AuctionID: "old", NBR: 3, Bids: bids[:1], Imps: imps[:0],
			Bidders: make([]gavel.BidderResult, 1, 10),
		}
		require.NoError(t, a.RunInto(context.Background(), req, &res))
		assert.Equal(t, *want, res)
		assert.Equal(t, gavel.BidOutcome{}, bids[4], "what the slices held past their length was cleared too")
		assert.Equal(t, gavel.ImpResult{}, imps[1])
	})
}

func TestRunIntoErrors(t *testing.T) {
	var ended []*gavel.Result
	hook := auctionEndFunc(func(_ context.Context, _ *openrtb2.BidRequest, res *gavel.Result, _ error) {
		ended = append(ended, res)
	})
	req := auctiontest.Request("r", auctiontest.BannerImp("1", 0.50, [2]int64{300, 250}))
	a := mustAuction(t, gavel.WithBidders(auctiontest.NoBid("b")), gavel.WithHooks(hook))
	var res gavel.Result

	err := a.RunInto(context.Background(), &openrtb2.BidRequest{}, &res)
	assert.ErrorIs(t, err, gavel.ErrInvalidRequest)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, a.RunInto(ctx, req, &res), context.Canceled)
	require.NoError(t, a.Close(context.Background()))
	assert.ErrorIs(t, a.RunInto(context.Background(), req, &res), gavel.ErrClosed)
	assert.Equal(t, []*gavel.Result{nil, nil}, ended, "the end hook gets a nil Result on error, as with Run")
}

type auctionEndFunc func(ctx context.Context, req *openrtb2.BidRequest, res *gavel.Result, err error)

func (f auctionEndFunc) OnAuctionEnd(ctx context.Context, req *openrtb2.BidRequest, res *gavel.Result, err error) {
	f(ctx, req, res, err)
}

// maxRunIntoAllocs is the most allocations of one auction of 8 bidders x 3
// imps into a reused Result: the auction's context, nothing of the Result.
const maxRunIntoAllocs = 6

func TestRunIntoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("skipped under -race: the race detector changes allocation counts")
	}
	synctest.Test(t, func(t *testing.T) {
		req := allocRequest()
		a := prebuiltAuction(t, req, 8)
		ctx := context.Background()
		var res gavel.Result
		require.NoError(t, a.RunInto(ctx, req, &res))
		require.Len(t, res.Bids, 24)

		var runErr error
		allocs := testing.AllocsPerRun(100, func() {
			if err := a.RunInto(ctx, req, &res); err != nil {
				runErr = err
			}
		})
		require.NoError(t, runErr)
		assert.LessOrEqual(t, allocs, float64(maxRunIntoAllocs), "allocations per RunInto of 8 bidders x 3 imps")
		t.Logf("%v allocations per RunInto of 8 prebuilt bidders x 3 imps", allocs)
	})
}
