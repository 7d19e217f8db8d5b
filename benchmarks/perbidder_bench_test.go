package benchmarks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/benchmarks"
)

// The per-bidder benchmark reproduces the workload of Prebid Server's
// exchange benchmarks, so that what each added bidder costs can be set
// against Prebid Server's figures: one secure 300x250 banner imp, N HTTP
// bidders, the request sent to each as JSON and a JSON response with one
// bid decoded from each, through a transport that answers from memory (no
// network, no server). It is BenchmarkPerBidder/path=P/bidders=N, and
// cmd/table (section perbidder) turns the rows into what each added bidder
// costs: (N=20 − N=1) / 19, in cpu-ns, bytes and allocations.
//
// A path is one way of reaching the bidders: "nethttp+std" is
// gavel.NewHTTPBidder over net/http with encoding/json, gavel's default.
// Other paths plug in as rows from their own files, with an init function:
//
//	func init() { addPerBidderPath("fasthttp+fast", newFastBidder) }
//
// where newFastBidder(tb, i, calls) returns bidder i: named perBidderName(i),
// answering every request with the JSON perBidderResponse(i) (status 200)
// from memory, after reading the request body to its end and passing its
// length to calls.add. BenchmarkPerBidder then runs every path for every N
// with runPerBidder and checks that each bidder got one request per
// auction. A path with a benchmark of its own can call runPerBidder
// directly.
var perBidderCounts = []int{1, 5, 8, 20}

// perBidderPath is one row of BenchmarkPerBidder.
type perBidderPath struct {
	name      string
	newBidder func(tb testing.TB, i int, calls *httpCalls) gavel.Bidder
	opts      []gavel.Option // of the Auction, besides its bidders
}

var perBidderPaths []perBidderPath

// addPerBidderPath adds a path to BenchmarkPerBidder; call it from init.
// The paths run in the order they were added: files in name order.
// opts are the Auction's options besides its bidders (gavel.WithCodec).
func addPerBidderPath(name string, newBidder func(tb testing.TB, i int, calls *httpCalls) gavel.Bidder, opts ...gavel.Option) {
	perBidderPaths = append(perBidderPaths, perBidderPath{name, newBidder, opts})
}

func init() { addPerBidderPath("nethttp+std", newNetHTTPBidder) }

// BenchmarkPerBidder measures Run on the per-bidder workload for every
// path and every count of perBidderCounts.
func BenchmarkPerBidder(b *testing.B) {
	for _, p := range perBidderPaths {
		b.Run("path="+p.name, func(b *testing.B) {
			for _, n := range perBidderCounts {
				b.Run("bidders="+strconv.Itoa(n), func(b *testing.B) {
					calls := new(httpCalls)
					runs := runPerBidder(b, n, func(i int) gavel.Bidder { return p.newBidder(b, i, calls) }, p.opts...)
					if err := checkPerBidderCalls(calls, runs*int64(n)); err != nil {
						b.Fatal(err)
					}
				})
			}
		})
	}
}

// runPerBidder runs auctions of the per-bidder workload among n bidders
// made by newBidder(0) ... newBidder(n-1) in a b.Loop, reporting cpu-ns/op,
// B/op and allocs/op, and returns how many auctions it ran. It fails b
// unless the first and the last auction had the expected outcome: every
// bidder answered with its one bid, and the last bidder, the highest,
// won at its own price (first price). opts are the Auction's options
// besides its bidders.
func runPerBidder(b *testing.B, n int, newBidder func(i int) gavel.Bidder, opts ...gavel.Option) int64 {
	b.Helper()
	req := perBidderRequest(b)
	bidders := make([]gavel.Bidder, n)
	for i := range bidders {
		bidders[i] = newBidder(i)
	}
	a, err := gavel.New(append([]gavel.Option{gavel.WithBidders(bidders...)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close(context.Background()) })
	ctx := context.Background()
	res, err := a.Run(ctx, req)
	if err == nil {
		err = checkPerBidder(res, n)
	}
	if err != nil {
		b.Fatal(err)
	}
	runs := int64(1)
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		res, err = a.Run(ctx, req)
		runs++
	}
	cpu.report(b)
	if err == nil {
		err = checkPerBidder(res, n)
	}
	if err != nil {
		b.Fatal(err)
	}
	return runs
}

// perBidderImp is the id of the workload's one imp, the fixture request's
// secure banner.
const perBidderImp = "2"

var perBidderReq struct {
	once sync.Once
	req  *openrtb2.BidRequest
	err  error
}

// perBidderRequest returns the workload's request: the fixture's, with
// only its secure banner imp, open market, floor 0.50 USD, offering
// 300x250 alone; first price, tmax benchmarks.TMax. It is shared and must
// not be modified.
func perBidderRequest(tb testing.TB) *openrtb2.BidRequest {
	tb.Helper()
	p := &perBidderReq
	p.once.Do(func() {
		req, err := auctiontest.LoadRequest("testdata/bidrequest-3imp.json")
		if err != nil {
			p.err = err
			return
		}
		for _, imp := range req.Imp {
			if imp.ID == perBidderImp {
				req.Imp = []openrtb2.Imp{imp}
			}
		}
		imp := &req.Imp[0]
		if imp.ID != perBidderImp || imp.Banner == nil || imp.Secure == nil || *imp.Secure != 1 || imp.PMP != nil {
			p.err = fmt.Errorf("benchmarks: the request has no open secure banner imp %q", perBidderImp)
			return
		}
		imp.Banner.Format = []openrtb2.Format{{W: 300, H: 250}}
		req.TMax = benchmarks.TMax
		p.req = req
	})
	if p.err != nil {
		tb.Fatal(p.err)
	}
	return p.req
}

// perBidderName is the name of bidder i.
func perBidderName(i int) string { return "bidder" + strconv.Itoa(i) }

// perBidderPrice is bidder i's bid, micros of CPM: above the floor, higher
// for each bidder, so that the last one wins.
func perBidderPrice(i int) int64 { return 1_000_000 + int64(i)*10_000 }

// perBidderResponse returns the JSON response of bidder i: one valid bid
// for the imp, a 300x250 banner with secure markup.
func perBidderResponse(tb testing.TB, i int) []byte {
	tb.Helper()
	req := perBidderRequest(tb)
	name := perBidderName(i)
	resp := openrtb2.BidResponse{
		ID: req.ID, BidID: name + "-resp", Cur: "USD",
		SeatBid: []openrtb2.SeatBid{{Seat: name, Bid: []openrtb2.Bid{{
			ID: name + "-bid", ImpID: perBidderImp, Price: float64(perBidderPrice(i)) / 1e6,
			AdM:     `<a href="https://click.example/` + name + `"><img src="https://cdn.example/300x250.png" width="300" height="250"></a>`,
			ADomain: []string{"advertiser" + strconv.Itoa(i) + ".example"},
			CrID:    "cr-" + name, Cat: []string{"IAB12"},
			NURL: "https://win.example/" + name + "?p=${AUCTION_PRICE}",
			W:    300, H: 250, MType: openrtb2.MarkupBanner,
		}}}},
	}
	body, err := json.Marshal(resp)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// newNetHTTPBidder is bidder i of the path nethttp+std: gavel's HTTP bidder
// with its defaults but for its transport, one that answers from memory
// (memoryTransport), which it calls directly as it does its default
// transport (WithHTTPTransport): no http.Client in between.
func newNetHTTPBidder(tb testing.TB, i int, calls *httpCalls) gavel.Bidder {
	tb.Helper()
	name := perBidderName(i)
	rt := &memoryTransport{body: perBidderResponse(tb, i), calls: calls}
	hb, err := gavel.NewHTTPBidder(name, "http://"+name+".invalid/openrtb2", gavel.WithHTTPTransport(rt))
	if err != nil {
		tb.Fatal(err)
	}
	return hb
}

// checkPerBidder returns an error unless every one of the n bidders of res
// bid once and the last won at its price.
func checkPerBidder(res *gavel.Result, n int) error {
	for _, br := range res.Bidders {
		if br.Status != gavel.StatusBid || br.Bids != 1 {
			return fmt.Errorf("bidder %s: status %v with %d bids (err %v), want 1 bid", br.Bidder, br.Status, br.Bids, br.Err)
		}
	}
	if len(res.Bidders) != n {
		return fmt.Errorf("%d bidders in the result, want %d", len(res.Bidders), n)
	}
	w := res.Winner(perBidderImp)
	if want := perBidderName(n - 1); w == nil || w.Bidder != want || w.ClearMicros != perBidderPrice(n-1) {
		return fmt.Errorf("winner %+v, want %s at %d", w, want, perBidderPrice(n-1))
	}
	return nil
}

// minPerBidderRequest is less than the JSON of the workload's request.
const minPerBidderRequest = 1500

// checkPerBidderCalls returns an error unless want requests reached the
// bidders, each with a body of the request's size.
func checkPerBidderCalls(c *httpCalls, want int64) error {
	calls, n := c.calls.Load(), c.bytes.Load()
	if calls != want || n < calls*minPerBidderRequest {
		return fmt.Errorf("%d requests with %d bytes in all, want %d requests of at least %d bytes", calls, n, want, minPerBidderRequest)
	}
	return nil
}

// TestPerBidder runs every path of BenchmarkPerBidder for a few auctions
// in go test, so that a broken path fails the tests, not only the tables.
func TestPerBidder(t *testing.T) {
	for _, p := range perBidderPaths {
		t.Run("path="+p.name, func(t *testing.T) {
			for _, n := range []int{1, 3} {
				calls := new(httpCalls)
				bidders := make([]gavel.Bidder, n)
				for i := range bidders {
					bidders[i] = p.newBidder(t, i, calls)
				}
				a, err := gavel.New(append([]gavel.Option{gavel.WithBidders(bidders...)}, p.opts...)...)
				if err != nil {
					t.Fatal(err)
				}
				for range 3 {
					res, err := a.Run(context.Background(), perBidderRequest(t))
					if err == nil {
						err = checkPerBidder(res, n)
					}
					if err != nil {
						t.Fatalf("%d bidders: %v", n, err)
					}
				}
				if err := checkPerBidderCalls(calls, 3*int64(n)); err != nil {
					t.Fatalf("%d bidders: %v", n, err)
				}
				a.Close(context.Background())
			}
		})
	}
}
