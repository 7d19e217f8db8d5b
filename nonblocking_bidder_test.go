package gavel_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// inlineBidder is a NonBlocking bidder: it answers with f, and records
// the goroutine it was called on.
type inlineBidder struct {
	name string
	f    func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error)
	on   *string
}

func (b inlineBidder) Name() string { return b.name }
func (b inlineBidder) NonBlocking() {}
func (b inlineBidder) Bid(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	*b.on = goroutineID()
	return b.f(ctx, req)
}

// goroutineID is the id of the calling goroutine, from its stack's header.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := bytes.Cut(bytes.TrimPrefix(buf, []byte("goroutine ")), []byte(" "))
	return string(id)
}

func echoFunc(name string, price float64) func(context.Context, *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	return func(_ context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		return auctiontest.Response(req.ID, name, auctiontest.Bid(name+"-"+req.ID, "1", price)), nil
	}
}

// A NonBlocking bidder is called on Run's goroutine, beside bidders on
// goroutines of their own, and its answer counts like theirs.
func TestNonBlockingBidderRunsOnRunsGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var inlineOn, otherOn string
		other := gavel.BidderFunc("other", func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
			otherOn = goroutineID()
			return echoFunc("other", 2.00)(ctx, req)
		})
		a := mustAuction(t, gavel.WithBidders(other, inlineBidder{name: "inline", f: echoFunc("inline", 3.00), on: &inlineOn}))
		runOn := goroutineID()
		res, _ := timedRun(t, context.Background(), a, bannerRequest("r1", 100))
		assert.Equal(t, runOn, inlineOn, "the NonBlocking bidder runs on Run's goroutine")
		assert.NotEqual(t, runOn, otherOn, "the other bidder runs on its own")
		assert.Equal(t, gavel.StatusBid, bidderResultOf(t, res, "inline").Status)
		assert.Equal(t, gavel.StatusBid, bidderResultOf(t, res, "other").Status)
		assert.Equal(t, "inline-r1", winnerOf(t, res, "1").Bid.ID)
	})
}

// A NonBlocking bidder that panics is reported like any other, and one
// that blocks all the same, past its deadline, is timed out (and delays
// Run, as NonBlocking warns).
func TestNonBlockingBidderFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var on string
		panics := inlineBidder{name: "panics", on: &on, f: func(context.Context, *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
			panic("boom")
		}}
		slow := inlineBidder{name: "slow", on: &on, f: func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
			d, _ := ctx.Deadline()
			time.Sleep(time.Until(d) + time.Millisecond)
			return echoFunc("slow", 5.00)(ctx, req)
		}}
		a := mustAuction(t, gavel.WithBidders(panics, slow, echoBidder("b", 2.00)))
		res, err := a.Run(context.Background(), bannerRequest("r1", 100))
		require.NoError(t, err)
		br := bidderResultOf(t, res, "panics")
		assert.Equal(t, gavel.StatusError, br.Status)
		var pe *gavel.PanicError
		if assert.True(t, errors.As(br.Err, &pe)) {
			assert.Equal(t, "boom", pe.Value)
		}
		assert.Equal(t, gavel.StatusTimeout, bidderResultOf(t, res, "slow").Status)
		assert.Equal(t, "b-r1", winnerOf(t, res, "1").Bid.ID)
	})
}
