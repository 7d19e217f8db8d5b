package gavel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// A round's request copies and contexts are reused by later auctions
// (round.go), but never while a bidder of the round may still read them: a
// bidder that answers long after Run returned still sees its request as it
// was, and its context still done, while other auctions run on the same
// Auction. Under -race, a reuse would also be reported as a data race.
func TestLateBidderNeverSeesAReusedRequest(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []gavel.Option
	}{
		{name: "fan-out deadline"},
		// The late bidder has a timeout of its own, and so a context of
		// its own, shared with the other bidder of the same timeout.
		{name: "own timeout", opts: []gavel.Option{
			gavel.WithBidderTimeout("late", 30*time.Millisecond), gavel.WithBidderTimeout("b", 30*time.Millisecond)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { checkLateBidder(t, tt.opts) })
		})
	}
}

func checkLateBidder(t *testing.T, opts []gavel.Option) {
	release := make(chan struct{})
	lateDone := make(chan error, 1)
	var calls atomic.Int32
	var lateTMax atomic.Int64
	late := gavel.BidderFunc("late", func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		if calls.Add(1) != 1 {
			return auctiontest.Response(req.ID, "late", auctiontest.Bid("late-"+req.ID, "1", 1.50)), nil
		}
		want, err := json.Marshal(req)
		if err != nil {
			lateDone <- err
			return nil, err
		}
		lateTMax.Store(req.TMax)
		deadline, _ := ctx.Deadline()
		<-ctx.Done()
		<-release // Run has returned; other auctions are running
		lateDone <- readWhileOthersRun(ctx, req, want, deadline)
		return nil, ctx.Err()
	})
	a := mustAuction(t, append([]gavel.Option{gavel.WithBidders(late, echoBidder("b", 2.00), echoBidder("c", 2.50))}, opts...)...)

	first := bannerRequest("first", 100)
	res, _ := timedRun(t, context.Background(), a, first)
	br := bidderResultOf(t, res, "late")
	assert.Equal(t, gavel.StatusTimeout, br.Status)
	assert.Equal(t, br.TMax, lateTMax.Load(), "the late bidder's copy has the tmax it was sent")
	assert.Equal(t, int64(100), first.TMax, "Run never modifies the caller's request")

	// Auctions with other ids, tmax and imps, from two goroutines, while
	// the late bidder reads its copy of the first request.
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := range 20 {
				if g == 0 && i == 5 {
					close(release)
				}
				id := fmt.Sprintf("next-%d-%d", g, i)
				req := auctiontest.Request(id, auctiontest.BannerImp("1", 0.50, [2]int64{300, 250}),
					auctiontest.BannerImp(fmt.Sprint("extra-", i), 0.10, [2]int64{728, 90}))
				req.TMax = int64(40 + i)
				res, err := a.Run(context.Background(), req)
				if !assert.NoError(t, err) {
					return
				}
				if w := res.Winner("1"); assert.NotNil(t, w, id) {
					assert.Equal(t, "c-"+id, w.Bid.ID)
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, <-lateDone)
}

// readWhileOthersRun reads req again and again, yielding to the auctions
// running meanwhile, and returns an error unless it stays the JSON want and
// ctx stays done with the deadline it had.
func readWhileOthersRun(ctx context.Context, req *openrtb2.BidRequest, want []byte, deadline time.Time) error {
	for range 50 {
		got, err := json.Marshal(req)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("the late bidder's request changed:\n%s\nwas\n%s", got, want)
		}
		if d, _ := ctx.Deadline(); !d.Equal(deadline) || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("the late bidder's context changed: deadline %v (was %v), err %v", d, deadline, ctx.Err())
		}
		runtime.Gosched()
	}
	return nil
}

// A bidder's goroutine checks the bids of its response as soon as the
// bidder returns, reading the caller's request (fanout.go), but never once
// Run stopped waiting for it: the caller may change or reuse its request as
// soon as Run returns. The late bidder here answers with bids after Run
// returned, while the test rewrites every part of the request the checks
// read; under -race a check would be reported as a data race. A bidder that
// answers at the fan-out's very deadline is either checked and kept (Run
// waits for its check) or timed out, never half-checked.
func TestLateResponseIsNeverChecked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		answer := make(chan struct{})
		late := gavel.BidderFunc("late", func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
			<-answer
			return auctiontest.Response(req.ID, "late", auctiontest.Bid("late-1", "1", 5.00), auctiontest.Bid("late-2", "1", 6.00)), nil
		})
		a := mustAuction(t, gavel.WithBidders(late, echoBidder("b", 2.00)))
		req := bannerRequest("r1", 50)
		req.BAdv, req.BCat = []string{"blocked.example"}, []string{"IAB25"}
		res, _ := timedRun(t, context.Background(), a, req)
		assert.Equal(t, gavel.StatusTimeout, bidderResultOf(t, res, "late").Status)
		assert.Equal(t, "b-r1", winnerOf(t, res, "1").Bid.ID)

		close(answer)
		// No synchronisation with the late goroutine from here on.
		req.ID = "reused"
		req.Imp[0].ID, req.Imp[0].BidFloor = "2", 9.99
		req.Imp[0].Banner.Format[0].W = 728
		req.BAdv[0], req.BCat[0], req.Cur = "other.example", "IAB1", []string{"EUR"}
		synctest.Wait()
	})
}

func TestResponseAtTheDeadline(t *testing.T) {
	for i := range 20 {
		synctest.Test(t, func(t *testing.T) {
			at := gavel.BidderFunc("at", func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
				d, _ := ctx.Deadline()
				time.Sleep(time.Until(d))
				return auctiontest.Response(req.ID, "at", auctiontest.Bid("at-1", "1", 5.00)), nil
			})
			a := mustAuction(t, gavel.WithBidders(at, echoBidder("b", 2.00)))
			res, _ := timedRun(t, context.Background(), a, bannerRequest(fmt.Sprint("r", i), 50))
			switch br := bidderResultOf(t, res, "at"); br.Status {
			case gavel.StatusBid:
				assert.Equal(t, 1, br.Bids)
				assert.Equal(t, "at-1", winnerOf(t, res, "1").Bid.ID)
			case gavel.StatusTimeout:
				assert.Equal(t, 0, br.Bids)
				assert.Equal(t, "b-"+res.AuctionID, winnerOf(t, res, "1").Bid.ID)
			default:
				t.Errorf("status %v", br.Status)
			}
			synctest.Wait()
		})
	}
}
