package gavelfasthttp_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelfasthttp"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/internal/memconn"
)

// countingCodec is the std codec, counting its decodes.
type countingCodec struct{ decodes atomic.Int64 }

func (c *countingCodec) AppendJSON(dst []byte, v any) ([]byte, error) {
	return gavel.StdCodec().AppendJSON(dst, v)
}

func (c *countingCodec) Unmarshal(data []byte, v any) error {
	c.decodes.Add(1)
	return gavel.StdCodec().Unmarshal(data, v)
}

// TestBidderCodec: the fasthttp bidder decodes with the calling auction's
// codec (gavel.WithCodec), or with its own (WithCodec), as the net/http
// bidder does.
func TestBidderCodec(t *testing.T) {
	dial := func(price float64) gavelfasthttp.Option {
		body := fmt.Appendf(nil, `{"id":"req-1","seatbid":[{"bid":[{"id":"b1","impid":"1","price":%v,"adm":"<div>ad</div>","crid":"cr-1"}]}]}`, price)
		return gavelfasthttp.WithDial(memconn.Dial(memconn.Response(body), nil))
	}
	auctionCodec, ownCodec := new(countingCodec), new(countingCodec)
	shared, err := gavelfasthttp.NewBidder("shared", "http://shared.example/bid", dial(2))
	require.NoError(t, err)
	own, err := gavelfasthttp.NewBidder("own", "http://own.example/bid", dial(3), gavelfasthttp.WithCodec(ownCodec))
	require.NoError(t, err)
	t.Cleanup(shared.CloseIdleConnections)
	t.Cleanup(own.CloseIdleConnections)
	a, err := gavel.New(gavel.WithCodec(auctionCodec), gavel.WithBidders(shared, own))
	require.NoError(t, err)
	defer a.Close(context.Background())
	req := auctiontest.Request("req-1", auctiontest.BannerImp("1", 1.0, [2]int64{300, 250}))
	req.TMax = 2000
	const runs = 3
	for range runs {
		res, err := a.Run(context.Background(), req)
		require.NoError(t, err)
		require.NotNil(t, res.Winner("1"))
		assert.Equal(t, "own", res.Winner("1").Bidder)
	}
	assert.Equal(t, int64(runs), auctionCodec.decodes.Load(), "the shared bidder decodes with the auction's codec")
	assert.Equal(t, int64(runs), ownCodec.decodes.Load(), "a bidder with a codec of its own decodes with it")

	// Outside an auction, a bidder without a codec of its own decodes with the std codec.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := shared.Bid(ctx, &openrtb2.BidRequest{ID: "req-1", Imp: req.Imp})
	require.NoError(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, int64(runs), auctionCodec.decodes.Load())

	_, err = gavelfasthttp.NewBidder("nil", "http://x.example/bid", gavelfasthttp.WithCodec(nil))
	assert.ErrorIs(t, err, gavel.ErrInvalidOption)
}
