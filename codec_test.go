package gavel_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// countingCodec is encoding/json that counts what goes through it, by type.
type countingCodec struct {
	mu      sync.Mutex
	encoded map[string]int
	decoded map[string]int
}

func newCountingCodec() *countingCodec {
	return &countingCodec{encoded: map[string]int{}, decoded: map[string]int{}}
}

func typeName(v any) string {
	switch v.(type) {
	case *openrtb2.BidRequest:
		return "request"
	case *openrtb2.BidResponse:
		return "response"
	}
	return "other"
}

func (c *countingCodec) AppendJSON(dst []byte, v any) ([]byte, error) {
	c.mu.Lock()
	c.encoded[typeName(v)]++
	c.mu.Unlock()
	return gavel.StdCodec().AppendJSON(dst, v)
}

func (c *countingCodec) Unmarshal(data []byte, v any) error {
	c.mu.Lock()
	c.decoded[typeName(v)]++
	c.mu.Unlock()
	return gavel.StdCodec().Unmarshal(data, v)
}

func (c *countingCodec) counts() (enc, dec map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.encoded, c.decoded
}

func TestStdCodec(t *testing.T) {
	c := gavel.StdCodec()
	assert.Equal(t, c, gavel.StdCodec(), "StdCodec values compare equal")
	req := testRequest()
	want, err := json.Marshal(req)
	require.NoError(t, err)

	got, err := c.AppendJSON(nil, req)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	got, err = c.AppendJSON([]byte("x:"), req)
	require.NoError(t, err)
	assert.Equal(t, append([]byte("x:"), want...), got, "appends to dst")

	_, err = c.AppendJSON([]byte("x"), make(chan int))
	require.Error(t, err)

	var back openrtb2.BidRequest
	require.NoError(t, c.Unmarshal(want, &back))
	assert.Equal(t, req, &back)
	require.Error(t, c.Unmarshal([]byte(`{"id":`), &back))
}

func TestCodecOptionsRefuseNil(t *testing.T) {
	_, err := gavel.New(gavel.WithCodec(nil))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	_, err = gavel.NewHTTPBidder("b", "http://127.0.0.1/", gavel.WithHTTPCodec(nil))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
}

func TestAuctionCodecDefault(t *testing.T) {
	a := mustAuction(t, gavel.WithBidders(echoBidder("a", 1)))
	assert.Equal(t, gavel.StdCodec(), a.Codec())
	_, ok := gavel.CodecFromContext(context.Background())
	assert.False(t, ok)
}

// TestWithCodecReachesHTTPBidders: the auction's codec encodes the request
// once per auction for all its HTTP bidders and decodes their responses;
// a bidder with its own codec decodes with that one.
func TestWithCodecReachesHTTPBidders(t *testing.T) {
	auctionCodec, ownCodec := newCountingCodec(), newCountingCodec()
	var seen []gavel.Codec
	var mu sync.Mutex
	spy := gavel.BidderFunc("spy", func(ctx context.Context, _ *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		c, ok := gavel.CodecFromContext(ctx)
		assert.True(t, ok)
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
		return nil, nil
	})
	a, err := gavel.New(gavel.WithCodec(auctionCodec), gavel.WithBidders(
		newHTTPBidder(t, "low", newServer(t, bidding(t, "low", 2.00)).URL),
		newHTTPBidder(t, "high", newServer(t, bidding(t, "high", 3.00)).URL),
		newHTTPBidder(t, "own", newServer(t, bidding(t, "own", 1.50)).URL, gavel.WithHTTPCodec(ownCodec)),
		spy,
	))
	require.NoError(t, err)
	assert.Same(t, auctionCodec, a.Codec())
	req := testRequest()
	req.TMax = 2000
	const runs = 3
	for range runs {
		res, err := a.Run(context.Background(), req)
		require.NoError(t, err)
		require.NotNil(t, res.Winner("1"))
		assert.Equal(t, "high", res.Winner("1").Bidder)
	}
	enc, dec := auctionCodec.counts()
	assert.Equal(t, map[string]int{"request": runs}, enc, "one shared request body per auction")
	assert.Equal(t, map[string]int{"response": 2 * runs}, dec)
	enc, dec = ownCodec.counts()
	assert.Empty(t, enc, "within an auction the request is the auction's")
	assert.Equal(t, map[string]int{"response": runs}, dec)
	require.Len(t, seen, runs)
	for _, c := range seen {
		assert.Same(t, auctionCodec, c)
	}
}

// TestHTTPCodecOutsideAuction: a bidder called on its own encodes and
// decodes with its own codec.
func TestHTTPCodecOutsideAuction(t *testing.T) {
	own := newCountingCodec()
	b := newHTTPBidder(t, "own", newServer(t, bidding(t, "own", 1.50)).URL, gavel.WithHTTPCodec(own))
	resp, err := b.Bid(context.Background(), testRequest())
	require.NoError(t, err)
	require.NotNil(t, resp)
	enc, dec := own.counts()
	assert.Equal(t, map[string]int{"request": 1}, enc)
	assert.Equal(t, map[string]int{"response": 1}, dec)
}
