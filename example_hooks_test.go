package gavel_test

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// tally is a hook, as a metrics adapter would write one: it implements
// BidderResponseHook and BidOutcomeHook, and counts with atomics because
// Run calls it from many goroutines at once.
type tally struct {
	noBids     atomic.Int64
	wins       atomic.Int64
	costMicros atomic.Int64 // what the impressions won cost
}

func (t *tally) OnBidderResponse(_ context.Context, _ string, r *gavel.BidderResult) {
	if r.Status == gavel.StatusNoBid {
		t.noBids.Add(1)
	}
}

func (t *tally) OnBidOutcome(_ context.Context, _ string, b *gavel.BidOutcome) {
	if b.Won {
		t.wins.Add(1)
		t.costMicros.Add(b.CostMicros())
	}
}

func ExampleWithHooks() {
	t := new(tally)
	a, err := gavel.New(
		gavel.WithBidders(
			auctiontest.Fixed("alpha", auctiontest.Bid("a1", "1", 2.50)),
			auctiontest.Fixed("beta", auctiontest.Bid("b1", "1", 3.10)),
			auctiontest.NoBid("gamma"),
		),
		gavel.WithHooks(t),
	)
	if err != nil {
		panic(err)
	}
	for _, floor := range []float64{1.00, 2.00, 3.00} {
		req := auctiontest.Request(fmt.Sprint("auction-", floor), auctiontest.BannerImp("1", floor))
		if _, err := a.Run(context.Background(), req); err != nil {
			panic(err)
		}
	}
	fmt.Println("wins:", t.wins.Load(), "no-bids:", t.noBids.Load())
	// Second price: 2.51, 2.51 and 3.01 CPM; each impression costs a thousandth.
	fmt.Println("revenue:", gavel.FormatMicros(t.costMicros.Load()))

	// A value that implements none of the hook interfaces is refused.
	_, err = gavel.New(gavel.WithHooks("not a hook"))
	fmt.Println(err)
	// Output:
	// wins: 3 no-bids: 3
	// revenue: 0.00803
	// gavel: invalid option: hook string implements no hook interface
}
