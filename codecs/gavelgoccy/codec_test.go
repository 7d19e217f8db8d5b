package gavelgoccy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/codecs/gavelgoccy"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// dsp answers every bid request with one bid per imp, its markup HTML.
func dsp(t *testing.T, seat string, price float64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req openrtb2.BidRequest
		if !assert.NoError(t, json.NewDecoder(r.Body).Decode(&req)) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var bids []openrtb2.Bid
		for _, imp := range req.Imp {
			b := auctiontest.Bid(seat+"-"+imp.ID, imp.ID, price)
			b.AdM = `<a href="https://click.example/?a=1&b=2"><img src="https://cdn.example/` + seat + `.png"></a>`
			b.Ext = json.RawMessage(`{ "dsp" : "` + seat + `" }`)
			bids = append(bids, b)
		}
		w.Header().Set("Content-Type", "application/json")
		assert.NoError(t, json.NewEncoder(w).Encode(auctiontest.Response(req.ID, seat, bids...)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// exchange serves an auction of two HTTP bidders with the given options.
func exchange(t *testing.T, opts ...gavel.Option) *httptest.Server {
	var bidders []gavel.Bidder
	for _, b := range []struct {
		seat  string
		price float64
	}{{"dsp-a", 2.5}, {"dsp-b", 3.25}} {
		hb, err := gavel.NewHTTPBidder(b.seat, dsp(t, b.seat, b.price).URL)
		require.NoError(t, err)
		t.Cleanup(hb.CloseIdleConnections)
		bidders = append(bidders, hb)
	}
	a, err := gavel.New(append(opts, gavel.WithBidders(bidders...))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	h, err := gavelhttp.NewAuctionHandler(a)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url string, body []byte) *openrtb2.BidResponse {
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	var br openrtb2.BidResponse
	require.NoError(t, json.Unmarshal(data, &br))
	return &br
}

// TestAuctionOverHTTP runs the same auction over HTTP, from the exchange's
// request to its bidders and back, with encoding/json and with go-json: the
// answers are the same.
func TestAuctionOverHTTP(t *testing.T) {
	req := auctiontest.Request("req-1",
		auctiontest.BannerImp("1", 0.5, [2]int64{300, 250}),
		auctiontest.BannerImp("2", 0.5, [2]int64{728, 90}))
	req.TMax = 2000
	req.Ext = json.RawMessage(`{"prebid":{"debug":true}}`)
	body, err := json.Marshal(req)
	require.NoError(t, err)

	std := exchange(t)
	fast := exchange(t, gavel.WithCodec(gavelgoccy.Codec()))
	for range 3 {
		want := post(t, std.URL, body)
		got := post(t, fast.URL, body)
		require.Len(t, got.SeatBid, 1)
		assert.Equal(t, "dsp-b", got.SeatBid[0].Seat)
		assert.Equal(t, want, got)
	}
}

func TestCodecIsGavelCodec(t *testing.T) {
	c := gavelgoccy.Codec()
	assert.Equal(t, c, gavelgoccy.Codec())
	a, err := gavel.New(gavel.WithCodec(c))
	require.NoError(t, err)
	assert.Equal(t, c, a.Codec())
	in := map[string]string{"b": "<b>", "a": "\xff"}
	out, err := c.AppendJSON([]byte("x:"), in)
	require.NoError(t, err)
	want, err := json.Marshal(in)
	require.NoError(t, err)
	assert.Equal(t, "x:"+string(want), string(out), "sorted keys, invalid UTF-8 replaced, HTML escaped: as encoding/json")
}

// TestCorpus decodes every document of gavel's conformance corpus with
// go-json and with encoding/json, and encodes it back: same values.
func TestCorpus(t *testing.T) {
	reqs, err := filepath.Glob("../../testdata/corpus/*/request.json")
	require.NoError(t, err)
	resps, err := filepath.Glob("../../testdata/corpus/*/responses/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, reqs)
	require.NotEmpty(t, resps)
	c := gavelgoccy.Codec()
	check := func(path string, mk func() any) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		want, got := mk(), mk()
		require.NoError(t, json.Unmarshal(data, want), path)
		require.NoError(t, c.Unmarshal(data, got), path)
		assert.Equal(t, want, got, path)
		out, err := c.AppendJSON(nil, got)
		require.NoError(t, err, path)
		back, std := mk(), mk()
		stdOut, err := json.Marshal(want)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(out, back), path)
		require.NoError(t, json.Unmarshal(stdOut, std), path)
		assert.Equal(t, std, back, path)
	}
	for _, p := range reqs {
		check(p, func() any { return new(openrtb2.BidRequest) })
	}
	for _, p := range resps {
		check(p, func() any { return new(openrtb2.BidResponse) })
	}
}

// TestUnmarshalKeepsNoInput: decoded values do not share the input's
// memory, which the HTTP bidder reuses.
func TestUnmarshalKeepsNoInput(t *testing.T) {
	data := []byte(`{"id":"resp-1","seatbid":[{"seat":"s","bid":[{"id":"b1","impid":"1","price":1,"adm":"<div>ad</div>","ext":{"k":"v"}}]}]}`)
	var resp openrtb2.BidResponse
	require.NoError(t, gavelgoccy.Codec().Unmarshal(data, &resp))
	for i := range data {
		data[i] = 'x'
	}
	assert.Equal(t, "resp-1", resp.ID)
	assert.Equal(t, "<div>ad</div>", resp.SeatBid[0].Bid[0].AdM)
	assert.JSONEq(t, `{"k":"v"}`, string(resp.SeatBid[0].Bid[0].Ext))

	// go-json decodes from a pooled copy of the input: the next decoding
	// must not show through either.
	var other openrtb2.BidResponse
	require.NoError(t, gavelgoccy.Codec().Unmarshal([]byte(`{"id":"zzzzzz","seatbid":[{"seat":"q","bid":[{"id":"yy","impid":"9","price":2,"adm":"<p>qqqqqqqqqqqq</p>","ext":{"z":"w"}}]}]}`), &other))
	assert.Equal(t, "resp-1", resp.ID)
	assert.Equal(t, "<div>ad</div>", resp.SeatBid[0].Bid[0].AdM)
	assert.JSONEq(t, `{"k":"v"}`, string(resp.SeatBid[0].Bid[0].Ext))
}
