package gavelprom_test

import (
	"context"
	"testing"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/stretchr/testify/require"
)

// BenchmarkRun measures what registering a Metrics adds to an auction of
// four bidders: compare hooks=none with hooks=metrics.
func BenchmarkRun(b *testing.B) {
	for _, hooks := range []string{"none", "metrics"} {
		b.Run("hooks="+hooks, func(b *testing.B) {
			req := auctiontest.Request("auction-1", auctiontest.BannerImp("1", 0.5, [2]int64{300, 250}))
			opts := []gavel.Option{gavel.WithBidders(
				auctiontest.Prebuilt("a", auctiontest.Response("auction-1", "a", auctiontest.Bid("a1", "1", 2))),
				auctiontest.Prebuilt("b", auctiontest.Response("auction-1", "b", auctiontest.Bid("b1", "1", 3))),
				auctiontest.Prebuilt("c", auctiontest.Response("auction-1", "c", auctiontest.Bid("c1", "1", 1))),
				auctiontest.NoBid("d"),
			)}
			if hooks == "metrics" {
				m, err := gavelprom.New()
				require.NoError(b, err)
				opts = append(opts, gavel.WithHooks(m))
			}
			a, err := gavel.New(opts...)
			require.NoError(b, err)
			ctx := context.Background()
			b.ReportAllocs()
			won := 0
			for b.Loop() {
				res, err := a.Run(ctx, req)
				require.NoError(b, err)
				if res.HasWinner() {
					won++
				}
			}
			// On a loaded machine an auction may now and then time out
			// whole; most must have a winner, or this measures no-bids.
			require.Greater(b, won, b.N*9/10, "auctions with a winner")
			b.ReportMetric(float64(won)/float64(b.N), "winners/op")
		})
	}
}
