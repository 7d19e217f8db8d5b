package gavel

import (
	"context"
	"net/http"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// WatchHTTPBodies makes b call watch with every request body it encodes,
// before sending it: the bytes that encodeRequest returned, which the
// auction's HTTP bidders share.
func WatchHTTPBodies(b *HTTPBidder, watch func(body []byte)) {
	enc := b.encode
	b.encode = func(ctx context.Context, req *openrtb2.BidRequest) ([]byte, error) {
		body, err := enc(ctx, req)
		watch(body)
		return body, err
	}
}

// UseRoundTripper makes b, built without WithHTTPClient, send its requests
// with rt instead of its own transport, as it does its own transport:
// without an http.Client.
func UseRoundTripper(b *HTTPBidder, rt http.RoundTripper) {
	if b.client != nil {
		panic("UseRoundTripper: the bidder has a client")
	}
	b.rt = rt
}
