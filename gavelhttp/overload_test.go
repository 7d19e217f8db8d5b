package gavelhttp_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// A request past WithMaxInFlight is shed at once, its body unread, while
// the auctions in flight go on; once they end, requests are served again.
func TestShedding(t *testing.T) {
	for _, tt := range []struct {
		status int
		header string
		value  string
	}{
		{http.StatusNoContent, gavelhttp.HeaderNBR, strconv.Itoa(gavelhttp.ShedNBR)},
		{http.StatusServiceUnavailable, "Retry-After", "1"},
	} {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testShedding(t, tt.status, tt.header, tt.value) })
		})
	}
}

func testShedding(t *testing.T, status int, header, value string) {
	release := make(chan struct{})
	h := newHandler(t,
		[]gavel.Bidder{auctiontest.Stuck("stuck", release), auctiontest.Fixed("dsp-a", auctiontest.Bid("a1", "1", 2.5))},
		gavelhttp.WithMaxInFlight(2), gavelhttp.WithShedStatus(status))
	body := bidRequest(t)

	// Two auctions in flight, each waiting for the stuck bidder.
	var wg sync.WaitGroup
	recs := make([]*httptest.ResponseRecorder, 2)
	for i := range recs {
		recs[i] = httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		wg.Go(func() { h.ServeHTTP(recs[i], r) })
	}
	synctest.Wait()
	require.Equal(t, int64(2), h.Stats().InFlight)

	// The third is shed without a byte of its body read.
	cr := &countingReader{r: bytes.NewReader(body)}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", cr))
	assert.Equal(t, status, rec.Code)
	assert.Equal(t, value, rec.Header().Get(header))
	assert.Equal(t, "2.6", rec.Header().Get(gavelhttp.HeaderOpenRTBVersion))
	assert.Equal(t, "1", rec.Header().Get(gavelhttp.HeaderShed))
	assert.Zero(t, cr.n, "bytes of a shed request's body read")
	assert.Equal(t, int64(1), h.Stats().Shed)
	assert.Equal(t, int64(2), h.Stats().Decoded)

	// The stuck bidder is cut off at tmax; the two auctions end with the
	// other bidder's bid, and the stuck calls end when released.
	wg.Wait()
	close(release)
	for _, rec := range recs {
		assert.Equal(t, http.StatusOK, rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, rec.Header().Get(gavelhttp.HeaderShed), "an auction that ran")
	assert.Equal(t, int64(0), h.Stats().InFlight)
	assert.Equal(t, int64(1), h.Stats().Shed)
	assert.Equal(t, int64(3), h.Stats().Won)
}
