package gavel

import (
	"context"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// A Bidder is one source of demand: one seat that answers bid requests.
//
// Bid is called once per auction, from its own goroutine, concurrently with
// the other bidders of the auction and with other auctions (a bidder that
// never blocks may say so and be called on Run's goroutine: see
// NonBlocking). The request is
// shared by all bidders of the auction and must not be modified, nor
// retained after Bid returns (like http.RoundTripper). Its TMax is the time
// the bidder really has, in milliseconds, and ctx carries the same deadline.
//
// Bid returns a nil response, or one with no bids, for a no-bid. A bidder
// should return promptly when ctx is done: Run never waits for it past its
// deadline, but a bidder that ignores ctx keeps its goroutine alive until it
// returns. The response is owned by the auction after Bid returns; the
// Result refers to its bids, so a bidder must not reuse or change a response
// it has returned, although it may return the same immutable response to
// many auctions.
type Bidder interface {
	// Name is the bidder's seat. It must be non-empty and unique within an
	// Auction; it is matched against wseat and bseat and names the bidder in
	// the Result, in hooks and in health.
	Name() string
	Bid(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error)
}

// BidderFunc adapts a function to a Bidder with the given name.
func BidderFunc(name string, f func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error)) Bidder {
	return funcBidder{name: name, f: f}
}

type funcBidder struct {
	name string
	f    func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error)
}

func (b funcBidder) Name() string { return b.name }

func (b funcBidder) Bid(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	return b.f(ctx, req)
}
