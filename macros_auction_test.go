package gavel_test

import (
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// TestMacrosSpecTables reproduces the two tables of OpenRTB 2.6 §4.4.1,
// "Notes on the macro ${AUCTION_MIN_TO_WIN}": "assume an auction with a
// floor price of $0.85, and that each row is a competing bid". The macros
// are read where a bidder gets them: the winner's from its win notice in
// the BidResponse, each loser's from its loss notice (Result.LossURL).
// "Invalid" is a bid not allowed into the auction (here a blocked
// advertiser): "the exchange chooses not to provide the value", and it has
// no ${AUCTION_PRICE} either.
func TestMacrosSpecTables(t *testing.T) {
	type row struct {
		bid      string // the bid price, or "Invalid"
		price    string // ${AUCTION_PRICE}; "" is the spec's "Empty string" (and its "n/a")
		minToWin string // ${AUCTION_MIN_TO_WIN}
	}
	tables := []struct {
		name string
		at   int64
		rows []row
	}{
		// For a first-price auction:
		//   Bid Price | ${AUCTION_PRICE} | ${AUCTION_MIN_TO_WIN}
		//   $1.00     | $1.00            | $0.90
		//   $0.90     | Empty string     | $1.00
		//   $0.80     | Empty string     | $1.00
		//   Invalid   | n/a              | Empty string
		{name: "first price", at: 1, rows: []row{
			{"1.00", "1", "0.9"},
			{"0.90", "", "1"},
			{"0.80", "", "1"},
			{"Invalid", "", ""},
		}},
		// For a second-price auction (where, for the sake of the
		// illustration, the clearing price is the second-best price plus
		// $0.01):
		//   Bid Price | ${AUCTION_PRICE} | ${AUCTION_MIN_TO_WIN}
		//   $1.00     | $0.91            | $0.90
		//   $0.90     | Empty string     | $0.91
		//   $0.80     | Empty string     | $0.91
		//   Invalid   | n/a              | Empty string
		{name: "second price", at: 2, rows: []row{
			{"1.00", "0.91", "0.9"},
			{"0.90", "", "0.91"},
			{"0.80", "", "0.91"},
			{"Invalid", "", ""},
		}},
	}
	const notice = "p=${AUCTION_PRICE}&m=${AUCTION_MIN_TO_WIN}"
	for _, tt := range tables {
		t.Run(tt.name, func(t *testing.T) {
			req := rulesRequest("req-1", auctiontest.BannerImp("1", 0.85))
			req.AT = tt.at
			req.BAdv = []string{"blocked.example"}
			var bidders []gavel.Bidder
			for i, r := range tt.rows {
				bid := auctiontest.Bid(r.bid, "1", []float64{1.00, 0.90, 0.80, 1.50}[i])
				if r.bid == "Invalid" {
					bid.ADomain = []string{"blocked.example"}
				}
				bid.NURL, bid.LURL = notice, notice
				bidders = append(bidders, auctiontest.Fixed("dsp-"+r.bid, bid))
			}
			res := runAuction(t, req, gavel.WithBidders(bidders...)) // the default increment is 0.01
			require.EqualValues(t, 10_000, gavel.DefaultPriceIncrement)
			resp := res.BidResponse()
			require.Len(t, resp.SeatBid, 1)
			for i, r := range tt.rows {
				b := &res.Bids[i]
				got := res.LossURL(i)
				if b.Won {
					got = resp.SeatBid[0].Bid[0].NURL
				}
				assert.Equal(t, "p="+r.price+"&m="+r.minToWin, got, "bid %s", r.bid)
			}
			assert.Equal(t, []openrtb3.LossReason{openrtb3.LossWon, openrtb3.LossLostToHigherBid,
				openrtb3.LossBelowAuctionFloor, openrtb3.LossAdvertiserExclusions},
				[]openrtb3.LossReason{res.Bids[0].Loss, res.Bids[1].Loss, res.Bids[2].Loss, res.Bids[3].Loss})
		})
	}
}

// TestMacrosWithoutValueAreRemoved checks OpenRTB 2.6 §4.4: "if the source
// value is an optional parameter that was not specified, the macro will
// simply be removed (i.e., replaced with a zero-length string)". No notice
// that gavel expands keeps a literal ${...} of an auction macro, except
// the winner's ${AUCTION_IMP_TS}, which only the billing stage can fill
// in, and its lurl, which is the bidder's to be expanded by whoever
// decides that it lost.
func TestMacrosWithoutValueAreRemoved(t *testing.T) {
	const all = "a=${AUCTION_ID}&b=${AUCTION_BID_ID}&i=${AUCTION_IMP_ID}&s=${AUCTION_SEAT_ID}&ad=${AUCTION_AD_ID}" +
		"&p=${AUCTION_PRICE}&c=${AUCTION_CURRENCY}&mbr=${AUCTION_MBR}&l=${AUCTION_LOSS}&m=${AUCTION_MIN_TO_WIN}" +
		"&q=${AUCTION_MULTIPLIER}&ts=${AUCTION_IMP_TS}&x=${OTHER}"
	bid := func(id string, price float64) openrtb2.Bid {
		b := auctiontest.Bid(id, "1", price)
		b.NURL, b.BURL, b.LURL = all, all, all
		return b
	}
	invalid := bid("bad", 9)
	invalid.Price = 0 // invalid: no price (9)
	req := rulesRequest("req-1", auctiontest.BannerImp("1", 0.5))
	res := runAuction(t, req, gavel.WithBidders(
		auctiontest.Prebuilt("dsp", &openrtb2.BidResponse{ID: "req-1", BidID: "r-1",
			SeatBid: []openrtb2.SeatBid{{Seat: "dsp", Bid: []openrtb2.Bid{bid("w", 2), invalid, bid("l", 1)}}}}),
	))
	require.Len(t, res.Bids, 3)

	won := res.BidResponse().SeatBid[0].Bid[0]
	const wantWin = "a=req-1&b=r-1&i=1&s=dsp&ad=&p=1.01&c=USD&mbr=0.505&l=0&m=1&q=&ts=${AUCTION_IMP_TS}&x=${OTHER}"
	assert.Equal(t, wantWin, won.NURL)
	assert.Equal(t, wantWin, won.BURL)
	assert.Equal(t, all, won.LURL, "the winner's lurl is passed on as it came")

	assert.Equal(t, "a=req-1&b=r-1&i=1&s=dsp&ad=&p=&c=USD&mbr=&l=9&m=&q=&ts=&x=${OTHER}", res.LossURL(1),
		"an invalid bid: no price, no minimum to win")
	assert.Equal(t, "a=req-1&b=r-1&i=1&s=dsp&ad=&p=&c=USD&mbr=&l=102&m=1.01&q=&ts=&x=${OTHER}", res.LossURL(2),
		"a bid that lost on price")
}
