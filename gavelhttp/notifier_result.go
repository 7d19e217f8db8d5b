package gavelhttp

import (
	"github.com/gavelrtb/gavel"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// NotifyResult queues the notices of an auction: the win notice (nurl) of
// each winning bid in resp, the response built by res.BidResponse() (its
// nurls are macro-expanded there), and the loss notice (lurl) of each
// losing bid of res, expanded by res.LossURL. It returns how many were
// queued; the others are counted by Stats. Fire win notices this way only
// for bids whose nurl the exchange calls itself, not for markup that the
// page calls.
func (n *Notifier) NotifyResult(res *gavel.Result, resp *openrtb2.BidResponse) int {
	queued := 0
	for s := range resp.SeatBid {
		for b := range resp.SeatBid[s].Bid {
			bid := &resp.SeatBid[s].Bid[b]
			if w := winnerOf(res, resp.SeatBid[s].Seat, bid); w >= 0 && bid.NURL != "" && n.Win(res.Bids[w].Bidder, bid.NURL) {
				queued++
			}
		}
	}
	for i := range res.Bids {
		if u := res.LossURL(i); u != "" && n.Loss(res.Bids[i].Bidder, u) {
			queued++
		}
	}
	return queued
}
