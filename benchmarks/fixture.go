// Package benchmarks measures gavel's Run against two reference floors on
// the same bidders: Floor, which no engine can beat (the bidders called one
// after another, with no deadline and no goroutines, the best bid of each
// imp kept in a single pass), and FloorGoroutines, which no engine that
// returns on time whatever its bidders do can beat (each bidder on its own
// goroutine under a deadline, then the same single pass).
//
// The benchmarks live in their own module so that the core go.mod stays
// small; run them from this directory (see README.md).
package benchmarks

import (
	"fmt"
	"strconv"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// RequestFile is the realistic request the benchmarks run: three imps (two
// banners and a video), deals, a private auction on the video, secure=1,
// floors, bcat and badv.
const RequestFile = "testdata/bidrequest-3imp.json"

// TMax replaces the request's tmax (120ms). The bidders answer at once, so
// the deadline never matters in a healthy run; the longer one keeps a
// machine that stalls Run for 100ms (a loaded CI runner) from turning a
// benchmark into a measure of the skipped-bidder path, which Check would
// then fail.
const TMax = 1000

// The fixture's bids follow the request: imp 1 is bid on its deal
// "deal-open-456" (at=2 overrides the request's at=1, so it clears at second
// price), imp 2 on the open market (first price, from the request), and
// imp 3 on its private deal "deal-video-789" (at=3: the fixed price 12.00)
// from the deal's only allowed seat.
const (
	imp1Deal  = "deal-open-456"
	imp3Deal  = "deal-video-789"
	imp3Seat  = "seat-v"
	increment = gavel.DefaultPriceIncrement
)

// Win is the expected outcome of one imp.
type Win struct {
	ImpID       string
	Bidder      string
	PriceMicros int64 // the winning bid, micros of CPM
	ClearMicros int64 // what it pays, micros of CPM
}

// Fixture is one benchmark case: a request, bidders that answer it with
// prebuilt responses, and the outcome the auction must have. It is not
// modified by the benchmarks and may be shared by many goroutines.
type Fixture struct {
	Request   *openrtb2.BidRequest
	Responses []*openrtb2.BidResponse // one per bidder, in bidder order
	Names     []string                // the bidders' names
	Want      []Win                   // one per imp, in request order
}

// NewFixture loads the request from path, keeps its first imps imps, sets
// its tmax to TMax, and builds the responses of bidders bidders, each with
// one bid per imp, every bid valid against the request and every price
// distinct, so that the winner of each imp is known: bidder n-1 wins imp 1,
// bidder 0 imp 2 and bidder n/2 imp 3.
func NewFixture(path string, bidders, imps int) (*Fixture, error) {
	req, err := auctiontest.LoadRequest(path)
	if err != nil {
		return nil, err
	}
	if imps < 1 || imps > len(req.Imp) {
		return nil, fmt.Errorf("benchmarks: %d imps asked, the request has %d", imps, len(req.Imp))
	}
	if bidders < 1 {
		return nil, fmt.Errorf("benchmarks: %d bidders asked", bidders)
	}
	req.Imp = req.Imp[:imps]
	req.TMax = TMax
	f := &Fixture{Request: req}
	for i := range bidders {
		name := "bidder" + strconv.Itoa(i)
		f.Names = append(f.Names, name)
		f.Responses = append(f.Responses, response(req, name, i, bidders))
	}
	for j := range imps {
		f.Want = append(f.Want, want(req, f.Names, j))
	}
	return f, nil
}

// Bidders returns fresh in-process bidders that return the fixture's
// responses, in bidder order.
func (f *Fixture) Bidders() []gavel.Bidder {
	out := make([]gavel.Bidder, len(f.Names))
	for i, name := range f.Names {
		out[i] = auctiontest.Prebuilt(name, f.Responses[i])
	}
	return out
}

// winnerOf returns the bidder that wins imp j among n.
func winnerOf(j, n int) int {
	switch j {
	case 0:
		return n - 1
	case 1:
		return 0
	default:
		return n / 2
	}
}

// priceMicros is bidder i's price for imp j among n bidders: the winner of
// the imp bids highest, the others 0.10 CPM apart below it, all above the
// imp's floor and deal floors.
func priceMicros(i, j, n int) int64 {
	rank := (i - winnerOf(j, n) + n) % n // 0 for the winner
	base := [...]int64{2_500_000, 750_000, 12_250_000}[j]
	return base + int64(n-rank)*100_000
}

func response(req *openrtb2.BidRequest, name string, i, n int) *openrtb2.BidResponse {
	resp := &openrtb2.BidResponse{ID: req.ID, BidID: name + "-resp", Cur: "USD"}
	own := openrtb2.SeatBid{Seat: name}
	for j := range req.Imp {
		bid := openrtb2.Bid{
			ID:      name + "-imp" + req.Imp[j].ID,
			ImpID:   req.Imp[j].ID,
			Price:   float64(priceMicros(i, j, n)) / 1e6,
			ADomain: []string{"advertiser" + strconv.Itoa(i) + ".example"},
			Cat:     []string{"IAB12"},
			CrID:    "cr-" + name + "-" + req.Imp[j].ID,
			NURL:    "https://win.example/" + name + "?p=${AUCTION_PRICE}",
			MType:   openrtb2.MarkupBanner,
		}
		switch j {
		case 0:
			bid.DealID, bid.W, bid.H = imp1Deal, 728, 90
			bid.AdM = `<a href="https://click.example/"><img src="https://cdn.example/728x90.png"></a>`
		case 1:
			bid.W, bid.H = 300, 250
			bid.AdM = `<a href="https://click.example/"><img src="https://cdn.example/300x250.png"></a>`
		default:
			bid.DealID, bid.MType, bid.W, bid.H = imp3Deal, openrtb2.MarkupVideo, 640, 360
			bid.AdM = `<VAST version="4.0"><Ad><InLine><Impression>https://imp.example/</Impression></InLine></Ad></VAST>`
		}
		if j == 2 {
			resp.SeatBid = append(resp.SeatBid, openrtb2.SeatBid{Seat: imp3Seat, Bid: []openrtb2.Bid{bid}})
			continue
		}
		own.Bid = append(own.Bid, bid)
	}
	resp.SeatBid = append([]openrtb2.SeatBid{own}, resp.SeatBid...)
	return resp
}

// want is the outcome of imp j, from the pricing rules of the request.
func want(req *openrtb2.BidRequest, names []string, j int) Win {
	n := len(names)
	w := winnerOf(j, n)
	top := priceMicros(w, j, n)
	win := Win{ImpID: req.Imp[j].ID, Bidder: names[w], PriceMicros: top, ClearMicros: top}
	switch j {
	case 0: // deal at=2, deal floor 2.25: the best other bid or the floor, plus the increment
		second := int64(2_250_000)
		if n > 1 {
			second = max(second, top-100_000)
		}
		win.ClearMicros = min(second+increment, top)
	case 2: // deal at=3: the deal's fixed price
		win.ClearMicros = 12_000_000
	}
	return win
}

// Options returns the options of an Auction over bidders, the fixture's
// bidders or stand-ins with their names: the bidders, each allowed to bid
// for imp 3's seat (gavel.WithBidderSeats).
func (f *Fixture) Options(bidders []gavel.Bidder) []gavel.Option {
	opts := []gavel.Option{gavel.WithBidders(bidders...)}
	for _, b := range bidders {
		opts = append(opts, gavel.WithBidderSeats(b.Name(), imp3Seat))
	}
	return opts
}

// Check returns an error unless res is the fixture's expected outcome:
// every bidder bid, every imp has its expected winner at its expected price
// and clearing price, and every other bid lost to a higher bid.
func (f *Fixture) Check(res *gavel.Result) error {
	if res == nil {
		return fmt.Errorf("benchmarks: nil result")
	}
	for _, br := range res.Bidders {
		if br.Status != gavel.StatusBid || br.Bids != len(f.Want) {
			return fmt.Errorf("benchmarks: bidder %s: status %v with %d bids (err %v), want %d bids",
				br.Bidder, br.Status, br.Bids, br.Err, len(f.Want))
		}
	}
	if got, want := len(res.Bids), len(f.Names)*len(f.Want); got != want {
		return fmt.Errorf("benchmarks: %d bids, want %d", got, want)
	}
	for _, w := range f.Want {
		b := res.Winner(w.ImpID)
		if b == nil {
			return fmt.Errorf("benchmarks: imp %s: no winner (nbr %d)", w.ImpID, res.NBR)
		}
		got := Win{ImpID: w.ImpID, Bidder: b.Bidder, PriceMicros: b.PriceMicros, ClearMicros: b.ClearMicros}
		if got != w {
			return fmt.Errorf("benchmarks: imp %s: won by %+v, want %+v", w.ImpID, got, w)
		}
	}
	for i := range res.Bids {
		b := &res.Bids[i]
		if !b.Won && b.Loss != openrtb3.LossLostToHigherBid {
			return fmt.Errorf("benchmarks: bid %s of %s lost with reason %d, want %d (lost to a higher bid)",
				b.Bid.ID, b.Bidder, b.Loss, openrtb3.LossLostToHigherBid)
		}
	}
	return nil
}
