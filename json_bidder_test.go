package gavel_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// jsonBidder is a JSONBidder that notes, when it is called, how many
// requests the codec had encoded, and then the body EncodeBidRequest
// gives it. It answers no bid.
type jsonBidder struct {
	name  string
	codec *countingCodec

	mu      sync.Mutex
	atEntry int    // requests encoded when Bid was entered
	body    []byte // from EncodeBidRequest
}

func (b *jsonBidder) Name() string       { return b.name }
func (b *jsonBidder) EncodesBidRequest() {}

func (b *jsonBidder) Bid(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	n := b.codec.encodedRequests()
	body, err := gavel.EncodeBidRequest(ctx, req)
	b.mu.Lock()
	b.atEntry, b.body = n, body
	b.mu.Unlock()
	return nil, err
}

// encodedRequests is how many requests c encoded.
func (c *countingCodec) encodedRequests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.encoded["request"]
}

var _ gavel.JSONBidder = (*jsonBidder)(nil)

func TestJSONBiddersFindTheirBodyEncoded(t *testing.T) {
	codec := newCountingCodec()
	a := &jsonBidder{name: "a", codec: codec}
	b := &jsonBidder{name: "b", codec: codec}
	c := &jsonBidder{name: "c", codec: codec} // a timeout of its own: a tmax, so a body, of its own
	auction := mustAuction(t, gavel.WithCodec(codec), gavel.WithBidders(a, b, c),
		gavel.WithBidderTimeout("c", 50*time.Millisecond))
	req := testRequest()
	req.TMax = 500

	res, err := auction.Run(context.Background(), req)
	require.NoError(t, err)
	for _, br := range res.Bidders {
		require.Equal(t, gavel.StatusNoBid, br.Status, br.Bidder)
	}
	assert.Equal(t, 2, codec.encodedRequests(), "one body for a and b, one for c")
	for _, bd := range []*jsonBidder{a, b, c} {
		bd.mu.Lock()
		assert.NotEmpty(t, bd.body, bd.name)
		assert.Positive(t, bd.atEntry, "%s: its body was encoded before it was called", bd.name)
		bd.mu.Unlock()
	}
	assert.Equal(t, 2, c.atEntry, "c's body was encoded before c was called")
	assert.Same(t, &a.body[0], &b.body[0], "a and b share their body")
	assert.NotSame(t, &a.body[0], &c.body[0])
}

func TestNoBodyWithoutJSONBidders(t *testing.T) {
	codec := newCountingCodec()
	auction := mustAuction(t, gavel.WithCodec(codec), gavel.WithBidders(auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 2.00))))
	_, err := auction.Run(context.Background(), testRequest())
	require.NoError(t, err)
	assert.Zero(t, codec.encodedRequests())
}
