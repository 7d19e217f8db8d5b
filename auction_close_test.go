package gavel_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// idleBidder is a bidder that keeps connections, as an HTTPBidder does.
type idleBidder struct{ closed atomic.Int64 }

func (*idleBidder) Name() string { return "idle" }
func (*idleBidder) Bid(context.Context, *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	return nil, nil
}
func (b *idleBidder) CloseIdleConnections() { b.closed.Add(1) }

// Close closes the idle connections of the bidders that keep some, once.
func TestCloseClosesIdleConnections(t *testing.T) {
	b := &idleBidder{}
	a, err := gavel.New(gavel.WithBidders(b, gavel.BidderFunc("plain", func(context.Context, *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		return nil, nil
	})))
	require.NoError(t, err)
	require.NoError(t, a.Close(context.Background()))
	require.NoError(t, a.Close(context.Background()))
	assert.Equal(t, int64(1), b.closed.Load())
}
