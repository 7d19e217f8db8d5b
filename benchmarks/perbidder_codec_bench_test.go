package benchmarks_test

import (
	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/codecs/gavelgoccy"
)

// The fast-codec paths of BenchmarkPerBidder: the same bidders as
// nethttp+std and fasthttp+std in an Auction with gavel.WithCodec of the
// opt-in codec (codecs/gavelgoccy, the fastest codec that passed every
// correctness check: see "JSON codecs" in README.md), which encodes the
// auction's request once for all its HTTP bidders and decodes every
// bidder's response.
func init() {
	addPerBidderPath("nethttp+goccy", newNetHTTPBidder, gavel.WithCodec(gavelgoccy.Codec()))
	addPerBidderPath("fasthttp+goccy", newFastHTTPBidder, gavel.WithCodec(gavelgoccy.Codec()))
}
