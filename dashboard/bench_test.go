package dashboard

import (
	"context"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb3"

	"github.com/gavelrtb/gavel"
)

// BenchmarkHooks is the hooks' cost for one auction of three bidders with
// a bid each and a winner, from many goroutines at once.
func BenchmarkHooks(b *testing.B) {
	d, err := New()
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	names := []string{"alpha", "beta", "gamma"}
	results := make([]gavel.BidderResult, len(names))
	outcomes := make([]gavel.BidOutcome, len(names))
	for i, n := range names {
		results[i] = gavel.BidderResult{Bidder: n, Status: gavel.StatusBid, Latency: time.Duration(i+1) * 7 * time.Millisecond, Bids: 1}
		outcomes[i] = gavel.BidOutcome{Bidder: n, PriceMicros: int64(i+1) * 1_000_000, Loss: openrtb3.LossLostToHigherBid}
	}
	outcomes[2].Won, outcomes[2].Loss, outcomes[2].ClearMicros = true, 0, 2_010_000
	hold := gavel.Hold{Account: "gamma", Amount: 2010}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for i := range results {
				d.OnBidderResponse(ctx, "a", &results[i])
			}
			for i := range outcomes {
				d.OnBidOutcome(ctx, "a", &outcomes[i])
			}
			d.OnReserve(ctx, "a", hold, nil)
			d.OnAuctionEnd(ctx, nil, wonResult, nil)
		}
	})
	if d.auctions.won.Load() != int64(b.N) {
		b.Fatalf("counted %d auctions of %d", d.auctions.won.Load(), b.N)
	}
}
