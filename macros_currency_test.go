package gavel_test

import (
	"context"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// OpenRTB 2.6 §4.4: ${AUCTION_PRICE}, ${AUCTION_MIN_TO_WIN} and
// ${AUCTION_CURRENCY} are in the currency of the bid. A bid priced in EUR in
// a USD auction gets its notice macros in EUR, converted back at the rate
// its price was converted at.
func TestMacrosAreInTheBidsCurrency(t *testing.T) {
	rates := gavel.RateFunc(func(from, to string) (float64, error) {
		switch {
		case from == "EUR" && to == "USD":
			return 1.25, nil
		case from == "USD" && to == "EUR":
			return 0.8, nil
		}
		return 0, gavel.ErrNoRate
	})
	const notice = "https://dsp.example/win?p=${AUCTION_PRICE}&m=${AUCTION_MIN_TO_WIN}&c=${AUCTION_CURRENCY}"
	eur := gavel.BidderFunc("eur-dsp", func(_ context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		bid := auctiontest.Bid("e1", "1", 2.00) // 2.50 USD
		bid.NURL = notice
		resp := auctiontest.Response(req.ID, "eur-dsp", bid)
		resp.Cur = "EUR"
		return resp, nil
	})
	usdBid := auctiontest.Bid("u1", "1", 2.00)
	usdBid.LURL = "https://usd.example/loss?m=${AUCTION_MIN_TO_WIN}&c=${AUCTION_CURRENCY}"
	usd := auctiontest.Fixed("usd-dsp", usdBid)

	for _, tt := range []struct {
		name       string
		at         int64
		wantNotice string
		wantLoss   string
	}{
		// First price: the winner pays its own 2.00 EUR; the least it
		// needed was the other bid, 2.00 USD = 1.60 EUR. The loser needed
		// the winning price, 2.50 USD.
		{"first price", 1, "https://dsp.example/win?p=2&m=1.6&c=EUR", "https://usd.example/loss?m=2.5&c=USD"},
		// Second price: 2.00 USD + 0.01 = 2.01 USD = 1.608 EUR. The loser
		// sees the winner's clearing price, 2.01 USD, as in the
		// second-price table of OpenRTB 2.6 §4.4.1.
		{"second price", 2, "https://dsp.example/win?p=1.608&m=1.6&c=EUR", "https://usd.example/loss?m=2.01&c=USD"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := auctiontest.Request("r1", auctiontest.BannerImp("1", 0))
			req.AT = tt.at
			req.Cur = []string{"USD", "EUR"}
			res := runAuction(t, req, gavel.WithBidders(eur, usd), gavel.WithCurrencyConverter(rates))
			w := res.Winner("1")
			require.NotNil(t, w)
			assert.Equal(t, "eur-dsp", w.Bidder)
			assert.Equal(t, "EUR", w.BidCurrency)
			assert.Equal(t, int64(2_000_000), w.BidPriceMicros)
			assert.Equal(t, int64(2_500_000), w.PriceMicros, "auction currency")

			resp := res.BidResponse()
			assert.Equal(t, "USD", resp.Cur, "the response is in the auction currency")
			assert.Equal(t, tt.wantNotice, resp.SeatBid[0].Bid[0].NURL)

			for i := range res.Bids {
				if res.Bids[i].Bidder == "usd-dsp" {
					assert.Equal(t, tt.wantLoss, res.LossURL(i), "a USD loser sees the winning price in USD")
				}
			}
		})
	}
}

// The winner's lurl in the response is not expanded as a loss: the bid won
// this auction, so the loss macros are left for whoever decides it lost.
func TestResponseLeavesTheWinnersLossURLUnexpanded(t *testing.T) {
	bid := auctiontest.Bid("b1", "1", 2)
	bid.LURL = "https://dsp.example/loss?r=${AUCTION_LOSS}&p=${AUCTION_PRICE}"
	bid.NURL = "https://dsp.example/win?p=${AUCTION_PRICE}"
	req := auctiontest.Request("r1", auctiontest.BannerImp("1", 0))
	req.AT = 1
	got := runAuction(t, req, gavel.WithBidders(auctiontest.Fixed("dsp", bid))).BidResponse().SeatBid[0].Bid[0]
	assert.Equal(t, bid.LURL, got.LURL)
	assert.Equal(t, "https://dsp.example/win?p=2", got.NURL)
}
