package dashboard

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"

	"github.com/gavelrtb/gavel"
)

var (
	_ gavel.AuctionEndHook     = (*Dashboard)(nil)
	_ gavel.BidderResponseHook = (*Dashboard)(nil)
	_ gavel.BidOutcomeHook     = (*Dashboard)(nil)
	_ gavel.BudgetHook         = (*Dashboard)(nil)
)

// otherReason is the code under which reasons past WithMaxReasons count.
const otherReason = -1

// auctionCounters count every auction by outcome since the Dashboard was
// made.
type auctionCounters struct {
	won, noBid, invalid, failed atomic.Int64
	latency                     histogram // of the auctions that ran, won or not
	bids, bidMicros             atomic.Int64
	wins, clearMicros           atomic.Int64
}

// bidderCounters count one bidder's part in auctions.
type bidderCounters struct {
	statuses          [int(gavel.StatusBudgetExhausted) + 1]atomic.Int64 // by status; 0 for an unknown one
	latency           histogram                                          // of the calls made
	bids, bidMicros   atomic.Int64                                       // bids with an outcome, and their prices
	wins, clearMicros atomic.Int64
}

// accountCounters count one account's reservations and billings.
type accountCounters struct {
	reserved, reservedMicros, refused, failed atomic.Int64
	billed, billedMicros                      atomic.Int64 // impressions billed (Billed), and their cost
}

// OnAuctionEnd implements gavel.AuctionEndHook: it counts the auction by
// outcome (won; no bid, with its reason; invalid, with its reason; failed:
// canceled or any other error) and the latency of those that ran. A
// request no currency can hold is a no-bid with reason 1.
func (d *Dashboard) OnAuctionEnd(_ context.Context, _ *openrtb2.BidRequest, res *gavel.Result, err error) {
	a := &d.auctions
	switch {
	case err == nil && res.HasWinner():
		a.won.Add(1)
		a.latency.observe(res.Duration)
	case err == nil:
		a.noBid.Add(1)
		a.latency.observe(res.Duration)
		d.noBids.get(int(res.NBR)).Add(1)
	case errors.Is(err, gavel.ErrInvalidRequest):
		a.invalid.Add(1)
		nbr := openrtb3.NoBidInvalidRequest
		if re, ok := err.(*gavel.RequestError); ok {
			nbr = re.Reason
		}
		d.noBids.get(int(nbr)).Add(1)
	case errors.Is(err, gavel.ErrNoCurrency): // refused before it ran: a technical no-bid
		a.noBid.Add(1)
		d.noBids.get(int(openrtb3.NoBidTechnicalError)).Add(1)
	default:
		a.failed.Add(1)
	}
}

// OnBidderResponse implements gavel.BidderResponseHook: it counts the
// bidder's part by status and, when it was called, the call's latency.
func (d *Dashboard) OnBidderResponse(_ context.Context, _ string, r *gavel.BidderResult) {
	b := d.bidders.get(r.Bidder)
	s := int(r.Status)
	if s >= len(b.statuses) {
		s = 0
	}
	b.statuses[s].Add(1)
	if r.Status.Called() {
		b.latency.observe(max(r.Latency, 0))
	}
}

// OnBidOutcome implements gavel.BidOutcomeHook: it counts the bid and its
// price and, for a winner, its clearing price, for a loser its reason.
func (d *Dashboard) OnBidOutcome(_ context.Context, _ string, o *gavel.BidOutcome) {
	b := d.bidders.get(o.Bidder)
	a := &d.auctions
	b.bids.Add(1)
	b.bidMicros.Add(o.PriceMicros)
	a.bids.Add(1)
	a.bidMicros.Add(o.PriceMicros)
	if !o.Won {
		d.losses.get(int(o.Loss)).Add(1)
		return
	}
	b.wins.Add(1)
	b.clearMicros.Add(o.ClearMicros)
	a.wins.Add(1)
	a.clearMicros.Add(o.ClearMicros)
}

// OnReserve implements gavel.BudgetHook: it counts the account's
// reservations and the money they hold, and its refusals (ErrBudgetExhausted)
// and failures (anything else) apart.
func (d *Dashboard) OnReserve(_ context.Context, _ string, h gavel.Hold, err error) {
	var a *accountCounters
	if h.Account != "" {
		a = d.accounts.get(h.Account)
	} else {
		a = d.accounts.getOther() // a failure may name no account
	}
	switch {
	case err == nil:
		a.reserved.Add(1)
		a.reservedMicros.Add(h.Amount)
	case errors.Is(err, gavel.ErrBudgetExhausted):
		a.refused.Add(1)
	default:
		a.failed.Add(1)
	}
}
