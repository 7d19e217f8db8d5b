package gavelhttp

import (
	"github.com/gavelrtb/gavel"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// NotifyResult queues the notices of an auction: the win notice (nurl) of
// each winning bid in resp, the response built by res.BidResponse() (its
// nurls are macro-expanded there), and the loss notice (lurl) of each
// losing bid of res, expanded by res.LossURL. resp may be nil when nothing
// won: only loss notices are queued then. It returns how many were queued;
// the others are counted by Stats.
//
// A winning bid without markup (adm) is left alone: OpenRTB has its nurl
// answer with the markup, so whoever serves the ad must call it, and the
// exchange must not. Fire win notices this way only for bids whose nurl
// the exchange calls itself, not for markup that the page calls.
func (n *Notifier) NotifyResult(res *gavel.Result, resp *openrtb2.BidResponse) int {
	return n.notifyResult(res, resp, false)
}

// notifyResult is NotifyResult; with clear, it also empties the nurl of
// each bid whose win notice it fired, so that the response does not ask
// its reader to fire it a second time.
func (n *Notifier) notifyResult(res *gavel.Result, resp *openrtb2.BidResponse, clear bool) int {
	queued := 0
	if resp != nil {
		for s := range resp.SeatBid {
			for b := range resp.SeatBid[s].Bid {
				bid := &resp.SeatBid[s].Bid[b]
				if bid.NURL == "" || bid.AdM == "" {
					continue
				}
				w := winnerOf(res, resp.SeatBid[s].Seat, bid)
				if w < 0 {
					continue
				}
				if n.Win(res.Bids[w].Bidder, bid.NURL) {
					queued++
				}
				if clear {
					bid.NURL = ""
				}
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
