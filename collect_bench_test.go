package gavel

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// BenchmarkCheckResponse measures the checks of one response of three
// bids, one per imp of testdata/bidrequest-3imp.json (the benchmarks
// module's fixture: two banners, one on a deal, and a video on a private
// deal from a second seat; badv, bcat, secure=1), as a bidder's goroutine
// runs them (checkResponse). Every bid must pass.
func BenchmarkCheckResponse(b *testing.B) {
	data, err := os.ReadFile("testdata/bidrequest-3imp.json")
	if err != nil {
		b.Fatal(err)
	}
	var req openrtb2.BidRequest
	if err := json.Unmarshal(data, &req); err != nil {
		b.Fatal(err)
	}
	resp := &openrtb2.BidResponse{ID: req.ID, BidID: "x-resp", Cur: "USD"}
	own := openrtb2.SeatBid{Seat: "x"}
	for j := range req.Imp {
		bid := openrtb2.Bid{ID: "x-imp" + req.Imp[j].ID, ImpID: req.Imp[j].ID, Price: 13, ADomain: []string{"advertiser1.example"},
			Cat: []string{"IAB12"}, CrID: "cr", NURL: "https://win.example/x?p=${AUCTION_PRICE}", MType: openrtb2.MarkupBanner}
		switch j {
		case 0:
			bid.DealID, bid.W, bid.H = "deal-open-456", 728, 90
			bid.AdM = `<a href="https://click.example/"><img src="https://cdn.example/728x90.png"></a>`
		case 1:
			bid.W, bid.H = 300, 250
			bid.AdM = `<a href="https://click.example/"><img src="https://cdn.example/300x250.png"></a>`
		default:
			bid.DealID, bid.MType, bid.W, bid.H = "deal-video-789", openrtb2.MarkupVideo, 640, 360
			bid.AdM = `<VAST version="4.0"><Ad><InLine><Impression>https://imp.example/</Impression></InLine></Ad></VAST>`
		}
		if j == 2 {
			resp.SeatBid = append(resp.SeatBid, openrtb2.SeatBid{Seat: "seat-v", Bid: []openrtb2.Bid{bid}})
			continue
		}
		own.Bid = append(own.Bid, bid)
	}
	resp.SeatBid = append([]openrtb2.SeatBid{own}, resp.SeatBid...)
	a, err := New(WithBidders(BidderFunc("x", func(context.Context, *openrtb2.BidRequest) (*openrtb2.BidResponse, error) { return resp, nil })),
		WithBidderSeats("x", "seat-v"))
	if err != nil {
		b.Fatal(err)
	}
	r := a.rounds.Get().(*round)
	cur, err := r.prepare(&req)
	if err != nil {
		b.Fatal(err)
	}
	r.cur = cur
	c := &r.calls[0]
	c.r, c.slot, c.req, c.resp = r, a.bidders[0], &req, resp
	b.ReportAllocs()
	for b.Loop() {
		c.reset()
		c.r, c.slot, c.req, c.resp = r, a.bidders[0], &req, resp
		r.checkResponse(c)
	}
	if len(c.bids) != 3 {
		b.Fatalf("%d outcomes, want 3", len(c.bids))
	}
	for _, o := range c.bids {
		if o.Loss != lossPending {
			b.Fatalf("bid %s lost %d", o.Bid.ID, o.Loss)
		}
	}
}
