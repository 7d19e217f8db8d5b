package gavelhttp

import (
	"sync"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
)

// The handler runs its auctions with Auction.RunInto on pooled Results,
// so that an auction leaves almost no garbage behind. The rule that makes
// it safe: a Result is the handler's from RunInto until ServeRequest has
// written its answer, and goes back to the pool only then. Until then it
// is read by the handler alone (BidResponse, Notices.Rewrite,
// Notifier.notifyResult), on ServeRequest's goroutine. Nothing keeps it
// after that:
//
//   - the response was built by Result.BidResponseInto into a pooled
//     BidResponse, whose bids are copies (sharing only the bidders' own
//     slices, which the Result does not own); it is written, and pooled
//     in turn, before the Result is pooled;
//   - the notifier is handed strings (bidder names, expanded URLs) and
//     Notices.URL a Billing, a plain value: neither keeps the Result;
//   - the Auction's hooks get pointers into the Result (*Result,
//     *BidOutcome, *BidderResult) but, as gavel.Hook says, must not keep
//     them after returning, and they return before RunInto does; its event
//     sink is given copies (gavel.Event values).
//
// A hook that broke that rule would see a later auction's outcomes: a hook
// that must keep something copies it. A Result is emptied before it is
// pooled, so that the pool keeps no request nor bid alive.

// maxPooledBids is the most bids a pooled Result keeps room for: a rare
// huge auction does not pin its memory for good.
const maxPooledBids = 256

var resultPool = sync.Pool{New: func() any { return new(gavel.Result) }}

func getResult() *gavel.Result { return resultPool.Get().(*gavel.Result) }

// putResult empties res, keeping the memory of its slices, and pools it.
func putResult(res *gavel.Result) {
	if cap(res.Bids) > maxPooledBids || cap(res.Imps) > maxPooledBids || cap(res.Bidders) > maxPooledBids {
		return
	}
	bids, imps, bidders := res.Bids[:cap(res.Bids)], res.Imps[:cap(res.Imps)], res.Bidders[:cap(res.Bidders)]
	clear(bids)
	clear(imps)
	clear(bidders)
	*res = gavel.Result{Bids: bids[:0], Imps: imps[:0], Bidders: bidders[:0]}
	resultPool.Put(res)
}

var responsePool = sync.Pool{New: func() any { return new(openrtb2.BidResponse) }}

func getResponse() *openrtb2.BidResponse { return responsePool.Get().(*openrtb2.BidResponse) }

// putResponse empties resp, keeping the memory of its seatbids and of
// their bid slices for Result.BidResponseInto, and pools it. The bids are
// cleared, so that the pool keeps none of the bidders' strings alive.
func putResponse(resp *openrtb2.BidResponse) {
	seats := resp.SeatBid[:cap(resp.SeatBid)]
	if len(seats) > maxPooledBids {
		return
	}
	for i := range seats {
		bids := seats[i].Bid[:cap(seats[i].Bid)]
		if len(bids) > maxPooledBids {
			return
		}
		clear(bids)
		seats[i] = openrtb2.SeatBid{Bid: bids[:0]}
	}
	*resp = openrtb2.BidResponse{SeatBid: seats[:0]}
	responsePool.Put(resp)
}
