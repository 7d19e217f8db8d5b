package gavelfasthttp_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/adapters/gavelfasthttp"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/internal/memconn"
)

// TestBidderAllocs guards the allocations of one call answered in memory:
// the fasthttp call itself allocates nothing (its request, response and
// buffers are pooled); what is left is encoding the request and decoding
// the answer (encoding/json).
func TestBidderAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	body := []byte(`{"id":"req-1","seatbid":[{"seat":"dsp","bid":[{"id":"b1","impid":"1","price":2.5,` +
		`"adm":"<div>an ad of moderate length</div>","crid":"cr-1","adomain":["brand.example"],"w":300,"h":250}]}],"cur":"USD"}`)
	b, err := gavelfasthttp.NewBidder("dsp", "http://dsp.example/bid", gavelfasthttp.WithDial(memconn.Dial(memconn.Response(body), nil)))
	require.NoError(t, err)
	t.Cleanup(b.CloseIdleConnections)
	req := auctiontest.Request("req-1", auctiontest.BannerImp("1", 1.0, [2]int64{300, 250}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	allocs := testing.AllocsPerRun(100, func() {
		r, e := b.Bid(ctx, req)
		if e != nil || r == nil {
			err = fmt.Errorf("answer %v, %w", r, e)
		}
	})
	require.NoError(t, err)
	t.Logf("%.0f allocations per call", allocs)
	assert.LessOrEqual(t, allocs, 30.0)
}
