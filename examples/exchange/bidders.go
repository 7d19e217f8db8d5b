package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
)

// demoBidder describes one in-process demo bidder. Its behaviour for a
// request is drawn from a generator seeded by the request id, so the same
// request meets the same behaviour.
type demoBidder struct {
	name     string
	seed     uint64
	latency  time.Duration // usual time to answer
	slow     float64       // share of requests answered after slowDelay instead
	fail     float64       // share of requests answered with an error
	low, top float64       // bid price between low and top times the floor
}

// Behaviour of the demo bidders.
const (
	slowDelay     = 300 * time.Millisecond // past any demo deadline
	bidderTimeout = 80 * time.Millisecond  // each demo bidder's deadline
)

var demoBidders = []demoBidder{
	{name: "swift", seed: 1, latency: 2 * time.Millisecond, low: 1.1, top: 1.8},
	{name: "premium", seed: 2, latency: 20 * time.Millisecond, slow: 0.2, low: 1.5, top: 3},
	{name: "flaky", seed: 3, latency: 8 * time.Millisecond, fail: 0.25, low: 1.2, top: 2.4},
}

var errDemoUpstream = errors.New("demo bidder: upstream unavailable")

// bidder returns d as a gavel.Bidder whose bids carry a burl at noticeURL,
// the demo's own notice endpoint on the exchange.
func (d demoBidder) bidder(noticeURL string) gavel.Bidder {
	burl := noticeURL + "?bidder=" + d.name + "&price=${AUCTION_PRICE}&ts=${AUCTION_IMP_TS}"
	return gavel.BidderFunc(d.name, func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		rng := rand.New(rand.NewPCG(d.seed, hash(req.ID)))
		delay, fail := d.latency, rng.Float64() < d.fail
		if rng.Float64() < d.slow {
			delay = slowDelay
		}
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if fail {
			return nil, errDemoUpstream
		}
		resp := &openrtb2.BidResponse{ID: req.ID, SeatBid: []openrtb2.SeatBid{{Seat: d.name}}}
		for _, imp := range req.Imp {
			floor := max(imp.BidFloor, 0.10)
			price := floor * (d.low + (d.top-d.low)*rng.Float64())
			resp.SeatBid[0].Bid = append(resp.SeatBid[0].Bid, openrtb2.Bid{
				ID: d.name + "-" + imp.ID, ImpID: imp.ID, Price: float64(int(price*100+0.5)) / 100,
				AdM: "<div>" + d.name + "</div>", ADomain: []string{d.name + ".example"},
				CrID: d.name + "-creative", BURL: burl,
			})
		}
		return resp, nil
	})
}

func hash(s string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// demoNotices is the demo bidders' own billing endpoint, where the
// exchange's notifier fires their burls once an impression is billed. It
// counts them and answers 204.
type demoNotices struct{ received atomic.Int64 }

func (n *demoNotices) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	n.received.Add(1)
	w.WriteHeader(http.StatusNoContent)
}
