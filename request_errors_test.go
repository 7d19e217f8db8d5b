package gavel_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// A request with several problems gets one *RequestError naming each of
// them, as New does for options.
func TestRunReportsEveryProblemOfARequest(t *testing.T) {
	a := mustAuction(t, gavel.WithBidders(auctiontest.Fixed("dsp", auctiontest.Bid("b1", "1", 1))))
	req := &openrtb2.BidRequest{
		TMax: -1,
		Imp: []openrtb2.Imp{
			{ID: "1", BidFloor: -2, Banner: &openrtb2.Banner{}},
			{ID: "1", Banner: &openrtb2.Banner{}},
			{Video: &openrtb2.Video{}, PMP: &openrtb2.PMP{Deals: []openrtb2.Deal{{ID: ""}}}},
		},
		Site: &openrtb2.Site{}, App: &openrtb2.App{},
	}
	res, err := a.Run(context.Background(), req)
	assert.Nil(t, res)
	var re *gavel.RequestError
	require.True(t, errors.As(err, &re), "%v", err)
	assert.Equal(t, openrtb3.NoBidInvalidRequest, re.Reason)
	assert.Equal(t, []string{
		"missing id",
		"negative tmax -1",
		"more than one of site, app and dooh: site, app",
		"imp[0]: bidfloor: -2 is not a price",
		`imp[1]: duplicate id "1"`,
		"imp[2]: missing id",
		"imp[2]: video.mimes: missing",
		"imp[2]: deal[0]: missing id",
	}, re.Problems)
	assert.Equal(t, "gavel: invalid bid request: missing id; negative tmax -1; more than one of site, app and dooh: site, app; "+
		`imp[0]: bidfloor: -2 is not a price; imp[1]: duplicate id "1"; imp[2]: missing id; imp[2]: video.mimes: missing; `+
		"imp[2]: deal[0]: missing id", err.Error())
}

// After Close, Run refuses at once with ErrClosed rather than running an
// auction whose events nobody would deliver.
func TestRunAfterCloseReturnsErrClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bidder := auctiontest.Fixed("dsp", auctiontest.Bid("b1", "1", 1))
		a := mustAuction(t, gavel.WithBidders(bidder), gavel.WithEventSink(gavel.EventSinkFunc(func(context.Context, []gavel.Event) error { return nil })))
		_, err := a.Run(context.Background(), auctiontest.Request("r1", auctiontest.BannerImp("1", 0)))
		require.NoError(t, err)
		require.NoError(t, a.Close(context.Background()))
		require.NoError(t, a.Close(context.Background()), "a second Close does nothing")

		res, err := a.Run(context.Background(), auctiontest.Request("r2", auctiontest.BannerImp("1", 0)))
		assert.Nil(t, res)
		require.ErrorIs(t, err, gavel.ErrClosed)
		assert.Equal(t, int64(1), bidder.Calls(), "no bidder is called after Close")
		assert.Equal(t, int64(1), a.Stats().Auctions)
	})
}
