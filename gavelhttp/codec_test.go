package gavelhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// countingCodec is encoding/json, counting its calls.
type countingCodec struct{ encoded, decoded atomic.Int64 }

func (c *countingCodec) AppendJSON(dst []byte, v any) ([]byte, error) {
	c.encoded.Add(1)
	return gavel.StdCodec().AppendJSON(dst, v)
}

func (c *countingCodec) Unmarshal(data []byte, v any) error {
	c.decoded.Add(1)
	return gavel.StdCodec().Unmarshal(data, v)
}

// TestHandlerUsesAuctionCodec: the handler decodes the request and encodes
// its answers (a bid response, an error body) with the auction's codec.
func TestHandlerUsesAuctionCodec(t *testing.T) {
	c := new(countingCodec)
	a, err := gavel.New(gavel.WithBidders(twoBidders()...), gavel.WithCodec(c))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	h, err := gavelhttp.NewAuctionHandler(a)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(bidRequest(t)))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, byte('\n'), body[len(body)-1], "one JSON value per line, as json.Encoder writes")
	var br openrtb2.BidResponse
	require.NoError(t, json.Unmarshal(body, &br))
	assert.Equal(t, "dsp-b", br.SeatBid[0].Seat)
	assert.Equal(t, int64(1), c.decoded.Load())
	assert.Equal(t, int64(1), c.encoded.Load())

	resp, err = http.Post(srv.URL, "application/json", bytes.NewReader([]byte(`{"id":`)))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, int64(2), c.decoded.Load())
	assert.Equal(t, int64(2), c.encoded.Load(), "the error body too")
}
