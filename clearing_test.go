package gavel_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// offer is one bid of one bidder.
type offer struct {
	bidder string
	bid    openrtb2.Bid
}

// bidOn returns an offer by the bidder named after the bid's first letter
// ("a1" is bidder "a"), for deal when deal is not empty.
func bidOn(id, imp string, price float64, deal string) offer {
	b := auctiontest.Bid(id, imp, price)
	b.DealID = deal
	return offer{bidder: id[:1], bid: b}
}

// offerBidders turns offers into Fixed bidders, one per bidder name, in the
// order the names first appear.
func offerBidders(offers []offer) gavel.Option {
	var names []string
	bids := map[string][]openrtb2.Bid{}
	for _, o := range offers {
		if _, ok := bids[o.bidder]; !ok {
			names = append(names, o.bidder)
		}
		bids[o.bidder] = append(bids[o.bidder], o.bid)
	}
	bidders := make([]gavel.Bidder, len(names))
	for i, n := range names {
		bidders[i] = auctiontest.Fixed(n, bids[n]...)
	}
	return gavel.WithBidders(bidders...)
}

func TestClearingPrice(t *testing.T) {
	tests := []struct {
		name     string
		at       int64
		floor    float64
		deal     *openrtb2.Deal // deal "d" of the imp
		opts     []gavel.Option
		offers   []offer
		winner   string // bid id
		clear    int64
		minToWin int64
		losses   map[string]openrtb3.LossReason
	}{
		{name: "first price pays its bid", at: 1, floor: 0.5,
			offers: []offer{bidOn("a1", "1", 3, ""), bidOn("b1", "1", 2, "")},
			winner: "a1", clear: 3_000_000, minToWin: 2_000_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToHigherBid}},
		{name: "first price alone pays its bid", at: 1, floor: 0.5,
			offers: []offer{bidOn("a1", "1", 3, "")},
			winner: "a1", clear: 3_000_000, minToWin: 500_000},
		{name: "second price pays the second bid plus increment", at: 2, floor: 0.5,
			offers: []offer{bidOn("b1", "1", 2, ""), bidOn("a1", "1", 3, ""), bidOn("c1", "1", 1, "")},
			winner: "a1", clear: 2_010_000, minToWin: 2_000_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToHigherBid, "c1": openrtb3.LossLostToHigherBid}},
		{name: "no at is second price", at: 0, floor: 0.5,
			offers: []offer{bidOn("a1", "1", 3, ""), bidOn("b1", "1", 2, "")},
			winner: "a1", clear: 2_010_000, minToWin: 2_000_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToHigherBid}},
		{name: "second price alone pays the floor plus increment", at: 2, floor: 0.5,
			offers: []offer{bidOn("a1", "1", 3, "")},
			winner: "a1", clear: 510_000, minToWin: 500_000},
		{name: "second price alone without floor pays the increment", at: 2,
			offers: []offer{bidOn("a1", "1", 3, "")},
			winner: "a1", clear: 10_000, minToWin: 0},
		{name: "second price, floor above the only other bid", at: 2, floor: 2.5,
			offers: []offer{bidOn("a1", "1", 3, ""), bidOn("b1", "1", 2, "")},
			winner: "a1", clear: 2_510_000, minToWin: 2_500_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossBelowAuctionFloor}},
		{name: "second price, second bid above the floor", at: 2, floor: 2.5,
			offers: []offer{bidOn("a1", "1", 3, ""), bidOn("b1", "1", 2.6, "")},
			winner: "a1", clear: 2_610_000, minToWin: 2_600_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToHigherBid}},
		{name: "second price capped at the own bid", at: 2,
			offers: []offer{bidOn("a1", "1", 2.005, ""), bidOn("b1", "1", 2, "")},
			winner: "a1", clear: 2_005_000, minToWin: 2_000_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToHigherBid}},
		{name: "second price alone at the floor pays the floor", at: 2, floor: 0.5,
			offers: []offer{bidOn("a1", "1", 0.5, "")},
			winner: "a1", clear: 500_000, minToWin: 500_000},
		{name: "custom increment", at: 2, opts: []gavel.Option{gavel.WithPriceIncrement(50_000)},
			offers: []offer{bidOn("a1", "1", 3, ""), bidOn("b1", "1", 2, "")},
			winner: "a1", clear: 2_050_000, minToWin: 2_000_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToHigherBid}},
		{name: "zero increment pays the second bid", at: 2, opts: []gavel.Option{gavel.WithPriceIncrement(0)},
			offers: []offer{bidOn("a1", "1", 3, ""), bidOn("b1", "1", 2, "")},
			winner: "a1", clear: 2_000_000, minToWin: 2_000_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToHigherBid}},
		{name: "zero increment alone pays the floor", at: 2, floor: 0.5, opts: []gavel.Option{gavel.WithPriceIncrement(0)},
			offers: []offer{bidOn("a1", "1", 3, "")},
			winner: "a1", clear: 500_000, minToWin: 500_000},
		{name: "large increment capped at the own bid", at: 2, opts: []gavel.Option{gavel.WithPriceIncrement(1_000_000)},
			offers: []offer{bidOn("a1", "1", 3, ""), bidOn("b1", "1", 2.5, "")},
			winner: "a1", clear: 3_000_000, minToWin: 2_500_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToHigherBid}},

		{name: "deal at=1 in a second-price auction", at: 2, floor: 0.5, deal: &openrtb2.Deal{AT: 1, BidFloor: 1},
			offers: []offer{bidOn("a1", "1", 3, "d"), bidOn("b1", "1", 2, "")},
			winner: "a1", clear: 3_000_000, minToWin: 2_000_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToDealBid}},
		{name: "deal at=2 in a first-price auction", at: 1, floor: 0.5, deal: &openrtb2.Deal{AT: 2, BidFloor: 1},
			offers: []offer{bidOn("a1", "1", 3, "d"), bidOn("b1", "1", 2, "")},
			winner: "a1", clear: 2_010_000, minToWin: 2_000_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToDealBid}},
		{name: "deal at=2 pays at least the deal floor", at: 1, floor: 0.5, deal: &openrtb2.Deal{AT: 2, BidFloor: 2.5},
			offers: []offer{bidOn("a1", "1", 3, "d"), bidOn("b1", "1", 2, "")},
			winner: "a1", clear: 2_510_000, minToWin: 2_500_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToDealBid}},
		{name: "deal at=2 pays the deal floor, not the imp floor", at: 2, floor: 0.5, deal: &openrtb2.Deal{BidFloor: 0.2},
			offers: []offer{bidOn("a1", "1", 0.3, "d")},
			winner: "a1", clear: 210_000, minToWin: 200_000},
		{name: "deal without at follows the request", at: 1, deal: &openrtb2.Deal{BidFloor: 1},
			offers: []offer{bidOn("a1", "1", 3, "d"), bidOn("b1", "1", 2, "")},
			winner: "a1", clear: 3_000_000, minToWin: 2_000_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToDealBid}},
		{name: "deal at=3 pays the deal price", at: 2, deal: &openrtb2.Deal{AT: 3, BidFloor: 2.5},
			offers: []offer{bidOn("a1", "1", 4, "d"), bidOn("b1", "1", 3, "")},
			winner: "a1", clear: 2_500_000, minToWin: 3_000_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToDealBid}},
		{name: "deal at=3 in a first-price auction", at: 1, deal: &openrtb2.Deal{AT: 3, BidFloor: 2.5},
			offers: []offer{bidOn("a1", "1", 4, "d")},
			winner: "a1", clear: 2_500_000, minToWin: 2_500_000},
		{name: "open bid beats a lower deal bid", at: 2, deal: &openrtb2.Deal{BidFloor: 1},
			offers: []offer{bidOn("a1", "1", 2, "d"), bidOn("b1", "1", 3, "")},
			winner: "b1", clear: 2_010_000, minToWin: 2_000_000,
			losses: map[string]openrtb3.LossReason{"a1": openrtb3.LossLostToHigherBid}},
		{name: "deal bid loses to a higher deal bid", at: 2, deal: &openrtb2.Deal{BidFloor: 1},
			offers: []offer{bidOn("a1", "1", 2, "d"), bidOn("b1", "1", 3, "d"), bidOn("c1", "1", 1.5, "")},
			winner: "b1", clear: 2_010_000, minToWin: 2_000_000,
			losses: map[string]openrtb3.LossReason{"a1": openrtb3.LossLostToHigherBid, "c1": openrtb3.LossLostToDealBid}},

		{name: "prefer deals: a deal bid beats higher open bids", at: 2, deal: &openrtb2.Deal{BidFloor: 1},
			opts:   []gavel.Option{gavel.WithPreferDeals(true)},
			offers: []offer{bidOn("b1", "1", 5, ""), bidOn("a1", "1", 2, "d"), bidOn("c1", "1", 4, "")},
			winner: "a1", clear: 1_010_000, minToWin: 1_000_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToDealBid, "c1": openrtb3.LossLostToDealBid}},
		{name: "prefer deals: deal bids rank among themselves by price", at: 2, deal: &openrtb2.Deal{BidFloor: 1},
			opts:   []gavel.Option{gavel.WithPreferDeals(true)},
			offers: []offer{bidOn("b1", "1", 5, ""), bidOn("a1", "1", 2, "d"), bidOn("d1", "1", 1.5, "d")},
			winner: "a1", clear: 1_510_000, minToWin: 1_500_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToDealBid, "d1": openrtb3.LossLostToHigherBid}},
		{name: "prefer deals: first price", at: 1, deal: &openrtb2.Deal{BidFloor: 1},
			opts:   []gavel.Option{gavel.WithPreferDeals(true)},
			offers: []offer{bidOn("b1", "1", 5, ""), bidOn("a1", "1", 2, "d")},
			winner: "a1", clear: 2_000_000, minToWin: 1_000_000,
			losses: map[string]openrtb3.LossReason{"b1": openrtb3.LossLostToDealBid}},
		{name: "prefer deals: without an eligible deal bid the open bids compete", at: 2, deal: &openrtb2.Deal{BidFloor: 1},
			opts:   []gavel.Option{gavel.WithPreferDeals(true)},
			offers: []offer{bidOn("a1", "1", 0.5, "d"), bidOn("b1", "1", 5, ""), bidOn("c1", "1", 4, "")},
			winner: "b1", clear: 4_010_000, minToWin: 4_000_000,
			losses: map[string]openrtb3.LossReason{"a1": openrtb3.LossBelowDealFloor, "c1": openrtb3.LossLostToHigherBid}},
		{name: "without prefer deals the same bids rank by price", at: 2, deal: &openrtb2.Deal{BidFloor: 1},
			offers: []offer{bidOn("b1", "1", 5, ""), bidOn("a1", "1", 2, "d"), bidOn("c1", "1", 4, "")},
			winner: "b1", clear: 4_010_000, minToWin: 4_000_000,
			losses: map[string]openrtb3.LossReason{"a1": openrtb3.LossLostToHigherBid, "c1": openrtb3.LossLostToHigherBid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imp := auctiontest.BannerImp("1", tt.floor)
			if tt.deal != nil {
				d := *tt.deal
				d.ID = "d"
				imp.PMP = &openrtb2.PMP{Deals: []openrtb2.Deal{d}}
			}
			req := rulesRequest("req-1", imp)
			req.AT = tt.at
			res := runAuction(t, req, append([]gavel.Option{offerBidders(tt.offers)}, tt.opts...)...)

			w := res.Winner("1")
			require.NotNil(t, w)
			assert.Equal(t, tt.winner, w.Bid.ID, "winner")
			assert.True(t, w.Won)
			assert.Equal(t, openrtb3.LossWon, w.Loss)
			assert.Equal(t, tt.clear, w.ClearMicros, "clearing price")
			assert.Equal(t, tt.minToWin, w.MinToWinMicros, "winner's minimum to win")
			require.Len(t, res.Bids, len(tt.offers))
			for i := range res.Bids {
				b := &res.Bids[i]
				if b == w {
					continue
				}
				want, ok := tt.losses[b.Bid.ID]
				require.True(t, ok, "no expected loss for %s", b.Bid.ID)
				assert.Equal(t, want, b.Loss, "loss of %s", b.Bid.ID)
				assert.False(t, b.Won)
				assert.Zero(t, b.ClearMicros)
				switch want {
				case openrtb3.LossLostToHigherBid, openrtb3.LossLostToDealBid:
					assert.Equal(t, w.PriceMicros, b.MinToWinMicros, "loser's minimum to win of %s", b.Bid.ID)
				case openrtb3.LossBelowAuctionFloor:
					// Price decided the loss (OpenRTB 2.6 §4.4.1): the bid
					// keeps the floor it missed.
					assert.Equal(t, int64(math.Round(tt.floor*1e6)), b.MinToWinMicros, "floor missed by %s", b.Bid.ID)
				case openrtb3.LossBelowDealFloor:
					assert.Equal(t, int64(math.Round(tt.deal.BidFloor*1e6)), b.MinToWinMicros, "deal floor missed by %s", b.Bid.ID)
				default:
					assert.Equal(t, int64(-1), b.MinToWinMicros, "invalid bid %s has no minimum to win", b.Bid.ID)
				}
			}
		})
	}
}

// tieAuction runs an auction with the given id among bidders that all bid
// the same price.
func tieAuction(t *testing.T, a *gavel.Auction, id string) *gavel.BidOutcome {
	t.Helper()
	res, err := a.Run(context.Background(), rulesRequest(id, auctiontest.BannerImp("1", 0)))
	require.NoError(t, err)
	w := res.Winner("1")
	require.NotNil(t, w, "bidders: %+v, bids: %+v", res.Bidders, res.Bids)
	return w
}

func tieBidders(names ...string) []gavel.Bidder {
	bs := make([]gavel.Bidder, len(names))
	for i, n := range names {
		bs[i] = auctiontest.Fixed(n, auctiontest.Bid("bid", "1", 2))
	}
	return bs
}

func TestClearingTies(t *testing.T) {
	t.Run("deterministic", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := mustAuction(t, gavel.WithBidders(tieBidders("a", "b", "c")...))
			first := tieAuction(t, a, "req-1")
			assert.Equal(t, int64(2_000_000), first.ClearMicros, "a tie pays the tied price")
			assert.Equal(t, int64(2_000_000), first.MinToWinMicros)
			for range 100 {
				assert.Equal(t, first.Seat, tieAuction(t, a, "req-1").Seat)
			}
		})
	})

	t.Run("independent of the bidders' order", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			fwd := mustAuction(t, gavel.WithBidders(tieBidders("a", "b", "c")...))
			rev := mustAuction(t, gavel.WithBidders(tieBidders("c", "b", "a")...))
			for i := range 50 {
				id := fmt.Sprintf("req-%d", i)
				assert.Equal(t, tieAuction(t, fwd, id).Seat, tieAuction(t, rev, id).Seat, id)
			}
		})
	})

	t.Run("fair", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := mustAuction(t, gavel.WithBidders(tieBidders("a", "b")...))
			wins := map[string]int{}
			for i := range 1000 {
				wins[tieAuction(t, a, fmt.Sprintf("auction-%d", i)).Seat]++
			}
			assert.InDelta(t, 500, wins["a"], 100, "wins: %v", wins)
			assert.InDelta(t, 500, wins["b"], 100, "wins: %v", wins)
		})
	})

	t.Run("same seat and bid id by the bidders' order", func(t *testing.T) {
		req := rulesRequest("req-1", auctiontest.BannerImp("1", 0))
		for _, order := range [][]string{{"p", "q"}, {"q", "p"}} {
			var bidders []gavel.Bidder
			for _, name := range order {
				bidders = append(bidders, auctiontest.Prebuilt(name, auctiontest.Response(req.ID, "shared", auctiontest.Bid("same", "1", 2))))
			}
			res := runAuction(t, req, gavel.WithBidders(bidders...),
				gavel.WithBidderSeats("p", "shared"), gavel.WithBidderSeats("q", "shared"))
			require.NotNil(t, res.Winner("1"))
			assert.Equal(t, order[0], res.Winner("1").Bidder)
		}
	})

	t.Run("same seat by bid id", func(t *testing.T) {
		for _, order := range [][]string{{"x2", "x1", "x3"}, {"x3", "x1", "x2"}} {
			var bids []openrtb2.Bid
			for _, id := range order {
				bids = append(bids, auctiontest.Bid(id, "1", 2))
			}
			req := rulesRequest("req-1", auctiontest.BannerImp("1", 0))
			res := runAuction(t, req, gavel.WithBidders(auctiontest.Fixed("dsp", bids...)))
			require.NotNil(t, res.Winner("1"))
			assert.Equal(t, "x1", res.Winner("1").Bid.ID)
		}
	})
}

func TestClearingImps(t *testing.T) {
	req := rulesRequest("req-1",
		auctiontest.BannerImp("1", 0.5), auctiontest.BannerImp("2", 0.5),
		auctiontest.BannerImp("3", 0.5), auctiontest.BannerImp("4", 5))
	req.AT = 2
	res := runAuction(t, req, offerBidders([]offer{
		bidOn("a1", "1", 3, ""), bidOn("a2", "2", 1, ""), bidOn("a3", "3", 2, ""), bidOn("a4", "4", 4, ""),
		bidOn("b1", "1", 2, ""), bidOn("b2", "2", 2, ""),
	}))

	require.Len(t, res.Imps, 4)
	type won struct {
		bid          string
		clear, floor int64
	}
	var got []won
	for _, ir := range res.Imps {
		w := won{floor: ir.FloorMicros}
		if ir.Winner >= 0 {
			w.bid, w.clear = res.Bids[ir.Winner].Bid.ID, res.Bids[ir.Winner].ClearMicros
		}
		got = append(got, w)
	}
	assert.Equal(t, []won{
		{"a1", 2_010_000, 500_000}, // b1 is the second price
		{"b2", 1_010_000, 500_000}, // a2 is the second price
		{"a3", 510_000, 500_000},   // alone: the floor
		{"", 0, 5_000_000},         // a4 below the floor
	}, got)
	assert.Nil(t, res.Winner("4"))
	assert.Equal(t, openrtb3.LossBelowAuctionFloor, res.Bids[3].Loss)

	resp := res.BidResponse()
	assert.Equal(t, "req-1", resp.ID)
	assert.Equal(t, "USD", resp.Cur)
	assert.Nil(t, resp.NBR)
	require.Len(t, resp.SeatBid, 2, "one seatbid per seat with a winner")
	type sold struct {
		id, imp string
		price   float64
	}
	seats := map[string][]sold{}
	for _, sb := range resp.SeatBid {
		for _, b := range sb.Bid {
			seats[sb.Seat] = append(seats[sb.Seat], sold{b.ID, b.ImpID, b.Price})
		}
	}
	assert.Equal(t, map[string][]sold{
		"a": {{"a1", "1", 2.01}, {"a3", "3", 0.51}},
		"b": {{"b2", "2", 1.01}},
	}, seats)
	assert.Equal(t, "a", resp.SeatBid[0].Seat, "seatbids in the order of the imps")
	assert.Equal(t, 3.0, res.Bids[0].Bid.Price, "the bidder's bid keeps its price")
}

func TestClearingNoBidReason(t *testing.T) {
	tests := []struct {
		name    string
		bidders func() []gavel.Bidder
		opts    []gavel.Option
		tmax    int64
		bseat   []string
		want    openrtb3.NoBidReason
	}{
		{name: "no bidders", want: gavel.NoBidNoBidders,
			bidders: func() []gavel.Bidder { return nil }},
		{name: "all seats blocked", want: gavel.NoBidNoBidders, bseat: []string{"a", "b"},
			bidders: func() []gavel.Bidder { return []gavel.Bidder{auctiontest.NoBid("a"), auctiontest.NoBid("b")} }},
		{name: "no time for any bidder", want: openrtb3.NoBidInsufficientTime, tmax: 20,
			opts: []gavel.Option{gavel.WithMinBidderTime(50 * time.Millisecond)},
			bidders: func() []gavel.Bidder {
				return []gavel.Bidder{auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 1)), auctiontest.NoBid("b")}
			}},
		{name: "no time, others blocked", want: openrtb3.NoBidInsufficientTime, tmax: 20, bseat: []string{"b"},
			opts: []gavel.Option{gavel.WithMinBidderTime(50 * time.Millisecond)},
			bidders: func() []gavel.Bidder {
				return []gavel.Bidder{auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 1)), auctiontest.NoBid("b")}
			}},
		{name: "all called failed", want: openrtb3.NoBidTechnicalError,
			bidders: func() []gavel.Bidder {
				return []gavel.Bidder{auctiontest.Error("a", errors.New("boom")), auctiontest.Panic("b", "boom"),
					auctiontest.Error("c", fmt.Errorf("%w: unreadable", gavel.ErrInvalidResponse))}
			}},
		// OpenRTB 2.6 §7.1: a response without bids is a no-bid whatever
		// its id, for an in-process bidder as for an HTTP one (it used to
		// be an invalid response, and so a technical failure).
		{name: "no bids for another auction is no bid", want: gavel.NoBidNoDemand,
			bidders: func() []gavel.Bidder {
				return []gavel.Bidder{auctiontest.Prebuilt("c", &openrtb2.BidResponse{ID: "another auction"}),
					auctiontest.Prebuilt("d", &openrtb2.BidResponse{})}
			}},
		{name: "all timed out", want: openrtb3.NoBidTechnicalError, tmax: 15,
			opts:    []gavel.Option{gavel.WithMinBidderTime(time.Millisecond), gavel.WithReserve(time.Millisecond)},
			bidders: func() []gavel.Bidder { return []gavel.Bidder{auctiontest.Hang("a")} }},
		{name: "failed and skipped", want: openrtb3.NoBidTechnicalError,
			opts: []gavel.Option{gavel.WithBidderTimeout("b", time.Millisecond)},
			bidders: func() []gavel.Bidder {
				return []gavel.Bidder{auctiontest.Error("a", errors.New("boom")), auctiontest.NoBid("b")}
			}},
		{name: "no bids", want: gavel.NoBidNoDemand,
			bidders: func() []gavel.Bidder { return []gavel.Bidder{auctiontest.NoBid("a"), auctiontest.NoBid("b")} }},
		{name: "no bids and failures", want: gavel.NoBidNoDemand,
			bidders: func() []gavel.Bidder {
				return []gavel.Bidder{auctiontest.NoBid("a"), auctiontest.Error("b", errors.New("boom"))}
			}},
		{name: "empty seatbid is no bid", want: gavel.NoBidNoDemand,
			bidders: func() []gavel.Bidder {
				return []gavel.Bidder{auctiontest.Prebuilt("a", &openrtb2.BidResponse{ID: "req-1", SeatBid: []openrtb2.SeatBid{{}}})}
			}},
		{name: "no eligible bids", want: gavel.NoBidNoEligibleBids,
			bidders: func() []gavel.Bidder {
				return []gavel.Bidder{auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 0.1)), auctiontest.Error("b", errors.New("boom"))}
			}},
		{name: "only bids for another auction", want: gavel.NoBidNoEligibleBids,
			bidders: func() []gavel.Bidder {
				return []gavel.Bidder{auctiontest.Prebuilt("a", auctiontest.Response("req-0", "a", auctiontest.Bid("a1", "1", 9)))}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bidders := tt.bidders()
			req := rulesRequest("req-1", auctiontest.BannerImp("1", 0.5))
			if tt.tmax > 0 {
				req.TMax = tt.tmax
			}
			req.BSeat = tt.bseat
			res := runAuction(t, req, append([]gavel.Option{gavel.WithBidders(bidders...)}, tt.opts...)...)
			assert.False(t, res.HasWinner())
			assert.Equal(t, tt.want, res.NBR)
			for _, br := range res.Bidders {
				if tt.want == openrtb3.NoBidInsufficientTime && br.Status != gavel.StatusSeatBlocked {
					assert.Equal(t, gavel.StatusSkippedNoTime, br.Status, br.Bidder)
				}
			}
			if tt.want == openrtb3.NoBidInsufficientTime {
				for _, b := range bidders {
					assert.Zero(t, b.(*auctiontest.Bidder).Calls(), "skipped bidder %s was called", b.Name())
				}
			}

			resp := res.BidResponse()
			assert.Equal(t, "req-1", resp.ID)
			assert.Empty(t, resp.SeatBid)
			require.NotNil(t, resp.NBR)
			assert.Equal(t, tt.want, *resp.NBR)
		})
	}
}

// TestClearingMoney checks that prices are exact integer micros, whatever
// the float the bidder sent.
func TestClearingMoney(t *testing.T) {
	tests := []struct {
		name   string
		price  float64
		micros int64
		resp   float64 // the price in the response, at=1
	}{
		{name: "0.1+0.2", price: 0.1 + 0.2, micros: 300_000, resp: 0.3},
		{name: "1.15", price: 1.15, micros: 1_150_000, resp: 1.15},
		{name: "2.675", price: 2.675, micros: 2_675_000, resp: 2.675},
		{name: "1.005", price: 1.005, micros: 1_005_000, resp: 1.005},
		{name: "19.99", price: 19.99, micros: 19_990_000, resp: 19.99},
		{name: "one micro", price: 0.000001, micros: 1, resp: 0.000001},
		{name: "below half a micro", price: 0.0000004, micros: 0, resp: 0},
		{name: "999.999999", price: 999.999999, micros: 999_999_999, resp: 999.999999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := rulesRequest("req-1", auctiontest.BannerImp("1", 0))
			req.AT = 1
			res := runAuction(t, req, gavel.WithBidders(auctiontest.Fixed("a", auctiontest.Bid("a1", "1", tt.price))))
			require.Len(t, res.Bids, 1)
			b := res.Bids[0]
			assert.Equal(t, tt.micros, b.PriceMicros)
			if tt.micros == 0 {
				assert.Equal(t, openrtb3.LossMissingBidPrice, b.Loss, "a price that rounds to 0 micros is no price")
				return
			}
			require.True(t, b.Won)
			assert.Equal(t, tt.micros, b.ClearMicros)
			assert.Equal(t, tt.resp, res.BidResponse().SeatBid[0].Bid[0].Price)
		})
	}

	t.Run("floor and bid compare in micros", func(t *testing.T) {
		req := rulesRequest("req-1", auctiontest.BannerImp("1", 0.1+0.2)) // 0.30000000000000004
		res := runAuction(t, req, gavel.WithBidders(auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 0.3))))
		w := res.Winner("1")
		require.NotNil(t, w, "0.3 is not below a floor of 0.1+0.2")
		assert.Equal(t, int64(300_000), w.ClearMicros)
	})

	t.Run("second price in micros", func(t *testing.T) {
		req := rulesRequest("req-1", auctiontest.BannerImp("1", 0))
		res := runAuction(t, req, offerBidders([]offer{bidOn("a1", "1", 0.7, ""), bidOn("b1", "1", 0.6, "")}))
		w := res.Winner("1")
		require.NotNil(t, w)
		assert.Equal(t, int64(610_000), w.ClearMicros)
		assert.Equal(t, 0.61, res.BidResponse().SeatBid[0].Bid[0].Price)
		assert.Equal(t, int64(610), w.CostMicros())
	})

	t.Run("cost", func(t *testing.T) {
		for _, c := range []struct{ clear, cost int64 }{
			{0, 0}, {1, 0}, {499, 0}, {500, 1}, {1_499, 1}, {1_500, 2}, {2_010_000, 2010},
			{2_010_499, 2010}, {2_010_500, 2011}, {1_000_000_000, 1_000_000},
		} {
			b := gavel.BidOutcome{ClearMicros: c.clear}
			assert.Equal(t, c.cost, b.CostMicros(), "cost of %d micros CPM", c.clear)
		}
	})
}
