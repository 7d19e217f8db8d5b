// Command quickstart runs a few auctions against in-process demo bidders
// and prints what happened: the winner of each imp with its clearing price,
// and how every bidder took part.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"text/tabwriter"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
)

func main() {
	auction, err := gavel.New(
		gavel.WithBidders(
			demoBidder("alpha", 1, 2*time.Millisecond),
			demoBidder("beta", 2, 5*time.Millisecond),
			demoBidder("gamma", 3, 8*time.Millisecond),
			demoBidder("sleepy", 4, 300*time.Millisecond), // always too late
			gavel.BidderFunc("broken", func(context.Context, *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
				return nil, errors.New("upstream unavailable")
			}),
		),
		gavel.WithBidderTimeout("gamma", 40*time.Millisecond),
	)
	if err != nil {
		log.Fatal(err)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	for i := range 3 {
		req := request(fmt.Sprintf("auction-%d", i+1))
		res, err := auction.Run(context.Background(), req)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(w, "auction %s (%v, currency %s)\n", res.AuctionID, res.Duration.Round(time.Millisecond), res.Currency)
		for _, imp := range res.Imps {
			if imp.Winner < 0 {
				fmt.Fprintf(w, "  imp %s\tno winner\tfloor %s\n", imp.ImpID, gavel.FormatMicros(imp.FloorMicros))
				continue
			}
			b := res.Bids[imp.Winner]
			fmt.Fprintf(w, "  imp %s\twon by %s\tbid %s\tclears at %s\tfloor %s\n", imp.ImpID, b.Seat,
				gavel.FormatMicros(b.PriceMicros), gavel.FormatMicros(b.ClearMicros), gavel.FormatMicros(imp.FloorMicros))
		}
		for _, br := range res.Bidders {
			fmt.Fprintf(w, "  bidder %s\t%s\t%v\tbids %d\t%v\n", br.Bidder, br.Status, br.Latency.Round(time.Millisecond), br.Bids, errText(br.Err))
		}
		w.Flush()
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// demoBidder bids on every imp at a random price around 2x its floor after
// the given latency, honouring ctx.
func demoBidder(name string, seed uint64, latency time.Duration) gavel.Bidder {
	return gavel.BidderFunc(name, func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		select {
		case <-time.After(latency):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		var h uint64
		for _, c := range req.ID {
			h = h*31 + uint64(c)
		}
		rng := rand.New(rand.NewPCG(seed, h))
		resp := &openrtb2.BidResponse{ID: req.ID, SeatBid: []openrtb2.SeatBid{{Seat: name}}}
		for _, imp := range req.Imp {
			price := imp.BidFloor * (1 + 2*rng.Float64())
			resp.SeatBid[0].Bid = append(resp.SeatBid[0].Bid, openrtb2.Bid{
				ID: name + "-" + imp.ID, ImpID: imp.ID, Price: float64(int(price*100)) / 100,
				AdM: "<div>" + name + "</div>", ADomain: []string{name + ".example"},
				NURL: "https://" + name + ".example/win?price=${AUCTION_PRICE}&auction=${AUCTION_ID}",
			})
		}
		return resp, nil
	})
}

func request(id string) *openrtb2.BidRequest {
	return &openrtb2.BidRequest{
		ID:   id,
		TMax: 100,
		Cur:  []string{"USD"},
		Imp: []openrtb2.Imp{
			{ID: "1", BidFloor: 0.50, BidFloorCur: "USD", Banner: &openrtb2.Banner{Format: []openrtb2.Format{{W: 300, H: 250}}}},
			{ID: "2", BidFloor: 1.25, BidFloorCur: "USD", Banner: &openrtb2.Banner{Format: []openrtb2.Format{{W: 728, H: 90}}}},
		},
		Site: &openrtb2.Site{Domain: "news.example"},
		BAdv: []string{"blocked.example"},
	}
}
