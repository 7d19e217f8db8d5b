package gavel_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

func TestRunEmitsEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &auctiontest.EventRecorder{}
		ledger := must(gavel.NewMemoryLedger())
		require.NoError(t, ledger.SetBudget(t.Context(), gavel.Budget{Account: "b", Amount: 1_000_000}))
		a, err := gavel.New(
			gavel.WithBidders(
				auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 2.00)),
				auctiontest.Fixed("b", auctiontest.Bid("b1", "1", 3.00)),
				auctiontest.NoBid("c"),
				auctiontest.Error("d", errors.New("boom")),
			),
			gavel.WithEventSink(rec), gavel.WithLedger(ledger),
			gavel.WithAccounts(func(bidder, _ string) string {
				if bidder == "b" {
					return "b"
				}
				return ""
			}),
		)
		require.NoError(t, err)
		ctx := context.Background()
		res, err := a.Run(ctx, auctiontest.Request("r1", auctiontest.BannerImp("1", 0.5)))
		require.NoError(t, err)
		require.NoError(t, a.Commit(ctx, must(res.Billing(res.Imps[0].Winner)), 2000))
		require.NoError(t, a.Close(ctx), "Close delivers what the owned sink queued")

		evs := rec.Events()
		var got []string
		for _, e := range evs {
			assert.Equal(t, gavel.EventSchemaVersion, e.Version)
			assert.Equal(t, "r1", e.AuctionID)
			got = append(got, fmt.Sprintf("%s %s %s", e.Type, e.Bidder, e.BidID))
		}
		assert.Equal(t, []string{
			"auction  ", "bid a ", "bid b ", "no_bid c ", "error d ", "loss a a1", "win b b1", "billing b b1",
		}, got)
		au := evs[0]
		assert.Equal(t, 2, au.Bids)
		assert.Equal(t, 1, au.Imps)
		assert.Equal(t, 1, au.Winners)
		assert.Equal(t, "USD", au.Currency)
		assert.Equal(t, "boom", evs[4].Error)
		loss, win, bill := evs[5], evs[6], evs[7]
		assert.Equal(t, int(openrtb3.LossLostToHigherBid), loss.LossReason)
		assert.Equal(t, int64(2_000_000), loss.PriceMicros)
		assert.Equal(t, int64(2_010_000), win.ClearMicros)
		assert.Equal(t, int64(2010), win.CostMicros)
		assert.Equal(t, "b", win.Account)
		assert.Equal(t, int64(2000), bill.CostMicros)
		assert.Equal(t, int64(2_010_000), bill.ClearMicros)
		assert.Equal(t, "1", bill.ImpID)
	})
}

func TestRunNoWinnerEventCarriesTheReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &auctiontest.EventRecorder{}
		s, err := gavel.NewAsyncSink(rec)
		require.NoError(t, err)
		defer func() { require.NoError(t, s.Close(context.Background())) }()
		a, err := gavel.New(gavel.WithBidders(auctiontest.NoBid("a")), gavel.WithEventSink(s))
		require.NoError(t, err)
		_, err = a.Run(context.Background(), auctiontest.Request("r1", auctiontest.BannerImp("1", 0.5)))
		require.NoError(t, err)
		require.NoError(t, s.Flush(context.Background()))
		require.NoError(t, a.Close(context.Background()), "an *AsyncSink stays the caller's")
		assert.Equal(t, int(gavel.NoBidNoDemand), rec.Events()[0].NBR)
	})
}

// TestSlowSinkDoesNotSlowRun runs auctions whose events go to a sink that
// takes 20ms per batch: no Run waits for it, not one.
func TestSlowSinkDoesNotSlowRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		req := auctiontest.Request("r1", auctiontest.BannerImp("1", 0.5), auctiontest.BannerImp("2", 0.5))
		bidders := make([]gavel.Bidder, 8)
		for i := range bidders {
			name := fmt.Sprintf("b%d", i)
			bidders[i] = auctiontest.Prebuilt(name, auctiontest.Response("r1", name,
				auctiontest.Bid(name+"-1", "1", 1+float64(i)), auctiontest.Bid(name+"-2", "2", 2+float64(i))))
		}
		a := mustAuction(t, gavel.WithBidders(bidders...), gavel.WithEventSink(slowSink(20*time.Millisecond)))
		assertNeverWaits(t, 500, func() {
			res, err := a.Run(context.Background(), req)
			if err != nil || !res.HasWinner() {
				t.Errorf("run: %v", err)
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_ = a.Close(ctx) // the slow sink cannot drain in time; that is fine here
	})
}

type nonBlocking struct{ auctiontest.EventRecorder }

func (*nonBlocking) NonBlocking() {}

func TestNonBlockingSinkIsUsedAsIs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &nonBlocking{}
		a, err := gavel.New(gavel.WithBidders(auctiontest.NoBid("a")), gavel.WithEventSink(sink))
		require.NoError(t, err)
		_, err = a.Run(context.Background(), auctiontest.Request("r1", auctiontest.BannerImp("1", 0.5)))
		require.NoError(t, err)
		assert.Equal(t, 2, sink.Len(), "written during Run, with no queue in between")
		require.NoError(t, a.Close(context.Background()))
	})
}
