package benchmarks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// serverClients are the numbers of concurrent keep-alive clients of
// BenchmarkServer.
var serverClients = []int{1, 16}

// BenchmarkServer measures a whole exchange over loopback: a net/http
// server on 127.0.0.1 serving gavelhttp.AuctionHandler with Notices (every
// winner's burl rewritten to a signed billing URL) over an Auction of 8
// in-process bidders with prebuilt responses (server=gavel), against the
// same server with the bare handler of BenchmarkAuctionHandler, which only
// decodes the request and encodes a fixed response (server=bare). N
// clients, each with a connection of its own kept alive, post the
// fixture's 3-imp request as JSON (no gzip) as fast as they are answered.
//
// ns/op is wall time per request over all clients, so req/s is their
// throughput; cpu-ns/op is the process's CPU per request, the clients'
// share (building the request, reading the answer) and the server's alike;
// req/cpu-s = 1e9 / cpu-ns/op, the requests one fully busy core would
// serve, clients included. Every answer's status is counted and must be
// 200, and the last body must be the expected response.
func BenchmarkServer(b *testing.B) { benchServers(b, false, benchNetServer) }

// BenchmarkServerNonBlocking is BenchmarkServer with the 8 bidders marked
// gavel.NonBlocking (auctiontest.NonBlocking), as an exchange's in-memory
// house bidders may be: Run calls them on its own goroutine, and an
// auction starts no goroutine and wakes no thread.
func BenchmarkServerNonBlocking(b *testing.B) { benchServers(b, true, benchNetServer) }

// benchNetServer serves one case of benchServers on net/http.
func benchNetServer(b *testing.B, c serverCase) {
	h := http.Handler(c.gavel)
	if c.bare {
		h = bareHandler(c.fixed)
	}
	benchServer(b, h, c.body, c.clients, c.check)
}

// A serverCase is one sub-benchmark of benchServers: the exchange
// (gavel) or the bare server (bare, answering fixed), clients, the body
// they post, and the check of an answer.
type serverCase struct {
	gavel   *gavelhttp.AuctionHandler
	bare    bool
	fixed   *openrtb2.BidResponse
	body    []byte
	clients int
	check   func(*openrtb2.BidResponse) error
}

// benchServers is what BenchmarkServer and BenchmarkServerFast share: the
// exchange over an Auction of 8 in-process bidders on the fixture's 3-imp
// request, its answer as the bare server's fixed response, and a
// sub-benchmark per count of clients and server, which bench serves.
// Every auction the exchange ran (none when -bench picked the bare server
// alone) must have won. With nonBlocking, the bidders are marked
// gavel.NonBlocking.
func benchServers(b *testing.B, nonBlocking bool, bench func(*testing.B, serverCase)) {
	f := newFixture(b, 8, 3)
	bidders := f.Bidders()
	if nonBlocking {
		for i := range bidders {
			bidders[i] = auctiontest.NonBlocking(bidders[i])
		}
	}
	a, err := gavel.New(f.Options(bidders)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close(context.Background()) })
	requireStdCodec(b, a)
	body, err := json.Marshal(f.Request)
	if err != nil {
		b.Fatal(err)
	}
	res, err := a.Run(context.Background(), f.Request)
	if err != nil {
		b.Fatal(err)
	}
	fixed := res.BidResponse()
	gavelH, base := gavelServerHandler(b, a)
	for _, clients := range serverClients {
		for _, server := range []string{"bare", "gavel"} {
			b.Run(fmt.Sprintf("bidders=8/imps=3/clients=%d/server=%s", clients, server), func(b *testing.B) {
				c := serverCase{gavel: gavelH, fixed: fixed, body: body, clients: clients,
					check: func(got *openrtb2.BidResponse) error { return checkRewritten(got, fixed, base) }}
				if server == "bare" {
					c.bare = true
					c.check = func(got *openrtb2.BidResponse) error { return sameResponse(got, fixed) }
				}
				bench(b, c)
			})
		}
	}
	if st := gavelH.Stats(); st.Won != st.Decoded {
		b.Fatalf("stats %+v: not every auction won", st)
	}
}

// requireStdCodec fails b unless a decodes and encodes with encoding/json,
// as the bare servers do: each server is measured against a bare one of
// the same kind, the same server and the same codec.
func requireStdCodec(b *testing.B, a *gavel.Auction) {
	b.Helper()
	if a.Codec() != gavel.StdCodec() {
		b.Fatalf("the auction's codec is %T: the bare servers use encoding/json", a.Codec())
	}
}

// gavelServerHandler returns the AuctionHandler over a with Notices whose
// billing URLs start with the returned base; it closes the notifier when b
// ends.
func gavelServerHandler(b testing.TB, a *gavel.Auction) (*gavelhttp.AuctionHandler, string) {
	b.Helper()
	notifier, err := gavelhttp.NewNotifier()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = notifier.Close(context.Background()) })
	keys, err := gavelhttp.NewKeys(gavelhttp.Key{ID: "k1", Secret: bytes.Repeat([]byte("s"), gavelhttp.MinKeyBytes)})
	if err != nil {
		b.Fatal(err)
	}
	const base = "http://127.0.0.1/notice/billing"
	notices, err := gavelhttp.NewNotices(a, keys, base, notifier)
	if err != nil {
		b.Fatal(err)
	}
	h, err := gavelhttp.NewAuctionHandler(a, gavelhttp.WithNotices(notices))
	if err != nil {
		b.Fatal(err)
	}
	return h, base
}

// startServer serves h on 127.0.0.1 until tb ends and returns its auction
// URL and a client keeping up to clients connections alive.
func startServer(tb testing.TB, h http.Handler, clients int) (string, *http.Client) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	tr := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
	tb.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = srv.Shutdown(context.Background())
	})
	return "http://" + ln.Addr().String() + "/openrtb2/auction", &http.Client{Transport: tr}
}

// benchServer serves h on 127.0.0.1 and has clients goroutines post body
// b.N times in all, each on a connection of its own. It fails b unless
// every answer was a 200 and check accepts the last one.
func benchServer(b *testing.B, h http.Handler, body []byte, clients int, check func(*openrtb2.BidResponse) error) {
	url, client := startServer(b, h, clients)
	// One request per client before the clock starts: the connections open.
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for i := range clients {
		wg.Go(func() { _, errs[i] = post(client, url, body, nil) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	var next, ok, notOK atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	start := time.Now()
	for range clients {
		wg.Go(func() {
			buf := new(bytes.Buffer)
			for next.Add(1) <= int64(b.N) {
				if _, err := post(client, url, body, buf); err != nil {
					notOK.Add(1)
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu.report(b)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	if n := ok.Load(); n != int64(b.N) || notOK.Load() != 0 {
		b.Fatalf("%d answers of %d were 200, %d were not", n, b.N, notOK.Load())
	}
	if err := postChecked(client, url, body, check); err != nil {
		b.Fatal(err)
	}
}

// postChecked posts body to url and checks the answer, which must be a 200.
func postChecked(client *http.Client, url string, body []byte, check func(*openrtb2.BidResponse) error) error {
	last, err := post(client, url, body, nil)
	if err != nil {
		return err
	}
	var got openrtb2.BidResponse
	if err := json.Unmarshal(last, &got); err != nil {
		return err
	}
	return check(&got)
}

// post sends body to url and returns the answer's body, read into buf
// (nil: a new one); an answer other than 200 is an error.
func post(client *http.Client, url string, body []byte, buf *bytes.Buffer) ([]byte, error) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if _, err := io.Copy(buf, resp.Body); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, buf.Bytes())
	}
	return buf.Bytes(), nil
}

// sameResponse fails unless got is want.
func sameResponse(got, want *openrtb2.BidResponse) error {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		return fmt.Errorf("response\n%s\nwant\n%s", g, w)
	}
	return nil
}

// checkRewritten fails unless got is want with every burl rewritten to a
// billing URL under base.
func checkRewritten(got, want *openrtb2.BidResponse, base string) error {
	bids := 0
	for s := range got.SeatBid {
		for i := range got.SeatBid[s].Bid {
			bid := &got.SeatBid[s].Bid[i]
			if !strings.HasPrefix(bid.BURL, base+"?t=") {
				return fmt.Errorf("bid %q: burl %q is not a billing URL under %s", bid.ID, bid.BURL, base)
			}
			bids++
		}
	}
	if bids != 3 {
		return fmt.Errorf("%d winning bids, want 3", bids)
	}
	// The rest of the response is the auction's.
	strip := func(r *openrtb2.BidResponse) *openrtb2.BidResponse {
		c := *r
		c.SeatBid = make([]openrtb2.SeatBid, len(r.SeatBid))
		for s := range r.SeatBid {
			c.SeatBid[s] = r.SeatBid[s]
			c.SeatBid[s].Bid = append([]openrtb2.Bid(nil), r.SeatBid[s].Bid...)
			for i := range c.SeatBid[s].Bid {
				c.SeatBid[s].Bid[i].BURL = ""
			}
		}
		return &c
	}
	return sameResponse(strip(got), strip(want))
}

// TestServer checks that the servers of BenchmarkServer answer what its
// checks expect, and that the checks catch a wrong answer.
func TestServer(t *testing.T) {
	f := newFixture(t, 8, 3)
	a, err := gavel.New(f.Options(f.Bidders())...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	body, err := json.Marshal(f.Request)
	require.NoError(t, err)
	res, err := a.Run(context.Background(), f.Request)
	require.NoError(t, err)
	fixed := res.BidResponse()
	gavelH, base := gavelServerHandler(t, a)

	gavelURL, client := startServer(t, gavelH, 2)
	bareURL, _ := startServer(t, bareHandler(fixed), 2)
	rewritten := func(got *openrtb2.BidResponse) error { return checkRewritten(got, fixed, base) }
	same := func(got *openrtb2.BidResponse) error { return sameResponse(got, fixed) }
	for range 3 {
		require.NoError(t, postChecked(client, gavelURL, body, rewritten))
		require.NoError(t, postChecked(client, bareURL, body, same))
	}
	assert.Error(t, postChecked(client, bareURL, body, rewritten), "burls not rewritten")
	assert.Error(t, postChecked(client, gavelURL, body, same), "burls rewritten")
	_, err = post(client, gavelURL, []byte(`{}`), nil)
	assert.ErrorContains(t, err, "status 400")
	assert.Equal(t, int64(4), gavelH.Stats().Won)
}
