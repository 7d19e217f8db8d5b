package gavel

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
)

// BidderStatus says how a bidder took part in an auction.
type BidderStatus uint8

// The bidder statuses.
const (
	StatusBid             BidderStatus = iota + 1 // answered with at least one bid
	StatusNoBid                                   // answered with no bid
	StatusTimeout                                 // did not answer by its deadline
	StatusError                                   // returned an error or panicked
	StatusInvalidResponse                         // answered with an unusable response
	StatusSkippedNoTime                           // not called: less than the minimum time left
	StatusThrottled                               // not called: unhealthy and throttled
	StatusSeatBlocked                             // not called: excluded by wseat or bseat
	StatusPaced                                   // not called: held back by the Pacer
	StatusBudgetExhausted                         // not called: its account cannot afford the imps' floors
)

var statusNames = [...]string{"", "bid", "no_bid", "timeout", "error", "invalid_response", "skipped_no_time", "throttled", "seat_blocked", "paced", "budget_exhausted"}

// String returns the status in snake case, as hooks and metrics label it.
func (s BidderStatus) String() string {
	if int(s) < len(statusNames) && s != 0 {
		return statusNames[s]
	}
	return "unknown"
}

// Called reports whether the bidder was called in the auction.
func (s BidderStatus) Called() bool { return s >= StatusBid && s <= StatusInvalidResponse }

// Result is the outcome of one auction. Slices are in request order: Imps
// follow req.imp, Bidders the order of WithBidders, and Bids the bidders'
// order, then each response's order. A Result is not modified after Run
// returns and may be read from many goroutines.
type Result struct {
	AuctionID string    // the request id
	Currency  string    // the auction currency: prices are in it
	Start     time.Time // when Run started
	Deadline  time.Time // when Run had to return by
	FanoutEnd time.Time // when Run stopped waiting for bidders: Deadline less WithClearingTime
	Duration  time.Duration

	Imps    []ImpResult
	Bids    []BidOutcome
	Bidders []BidderResult

	// NBR is the no-bid reason when no imp has a winner: 15 when no bidder
	// had time, 1 when every bidder called failed, or gavel's own
	// NoBidNoBidders, NoBidNoDemand, NoBidNoEligibleBids.
	NBR openrtb3.NoBidReason

	req *openrtb2.BidRequest // the caller's request, for macros
}

// ImpResult is the outcome of one imp.
//
// Most imps have at most one winning bid: Winner, with its Hold. A dynamic
// ad pod (video.poddur, OpenRTB 2.6 §7.6, see WithPodSeparation) has
// several: its Pod lists them all in play order, and Winner and Hold are
// those of the first, Pod.Winners[0] and Pod.Holds[0]. For any other imp
// Pod is nil, and Winner is all there is. To visit every winning bid of a
// Result whatever its imp, range over Result.Bids and take those that Won.
type ImpResult struct {
	ImpID       string
	FloorMicros int64 // the imp floor in the auction currency, micros of CPM
	Winner      int   // index into Result.Bids; -1 when no bid won

	// Hold is the money the winner reserved on the Ledger (WithLedger);
	// the zero Hold when there is no ledger or no winner.
	Hold Hold

	// Pod is the outcome of a dynamic pod; nil for any other imp.
	Pod *PodResult
}

// PodResult is the outcome of a dynamic ad pod: its winners in play order
// (the bid that takes the first position first, the one that takes the
// last position last, the others by rank between them), each with the
// hold that pays for it.
type PodResult struct {
	Winners []int  // indexes into Result.Bids, in play order; empty when nothing won
	Holds   []Hold // Holds[k] is the hold of Winners[k]; the zero Hold without a ledger
	Seconds int64  // the winners' durations (bid.dur) added up
}

// BidOutcome is one bid and what became of it.
type BidOutcome struct {
	Bidder string        // the bidder's Name
	Seat   string        // seatbid.seat, or the bidder's Name when the seat is empty
	Bid    *openrtb2.Bid // the bid as the bidder sent it; not modified
	Imp    int           // index into the request's imps; -1 when impid is unknown

	// ResponseBidID is the response's bidid, for ${AUCTION_BID_ID}.
	ResponseBidID string

	// PriceMicros is the bid price in the auction currency, micros of CPM.
	PriceMicros int64
	// BidCurrency is the currency the bidder priced the bid in (the
	// response's cur, or USD), and BidPriceMicros the price in it, micros
	// of CPM; they equal Result.Currency and PriceMicros when no
	// conversion took place. Macros are in this currency (OpenRTB 2.6 §4.4).
	BidCurrency    string
	BidPriceMicros int64
	// ClearMicros is what the winner pays, micros of CPM; 0 for a loser.
	ClearMicros int64
	// MinToWinMicros is the least bid that would have won: for the winner
	// the larger of the best other eligible bid and the floor, for a loser
	// the winning bid's price, for a bid below its floor that floor. -1
	// when unknown (other invalid bids). The ${AUCTION_MIN_TO_WIN} of a
	// loser follows OpenRTB 2.6 §4.4.1 instead (see Result.Macros).
	MinToWinMicros int64

	// Deal is the deal the bid is for, from the request; nil for open market.
	Deal *openrtb2.Deal

	Won  bool
	Loss openrtb3.LossReason // why it lost; openrtb3.LossWon (0) for the winner
}

// CostMicros is what the winning impression costs: the clearing price per
// thousand, in micros of the auction currency (CPM/1000), rounded half up.
func (b *BidOutcome) CostMicros() int64 {
	return (b.ClearMicros + 500) / 1000
}

// inBidCurrency converts micros of the auction currency into the bid's
// currency at the rate its price was converted at. Negative amounts (-1:
// unknown) are kept as they are.
func (b *BidOutcome) inBidCurrency(micros int64) int64 {
	if micros <= 0 || b.BidPriceMicros == b.PriceMicros || b.PriceMicros <= 0 || b.BidPriceMicros <= 0 {
		return micros
	}
	return int64(math.Round(float64(micros) * float64(b.BidPriceMicros) / float64(b.PriceMicros)))
}

// BidderResult is one bidder's part in the auction.
type BidderResult struct {
	Bidder  string
	Status  BidderStatus
	Latency time.Duration // from the call to its answer; 0 when not called
	TMax    int64         // the tmax the bidder was sent, ms; 0 when not called
	Bids    int           // bids received
	Err     error         // with StatusError, StatusTimeout, StatusInvalidResponse
}

// Winner returns the winning bid of the imp with the given id, or nil; for
// a dynamic pod, the first of its winners.
func (r *Result) Winner(impID string) *BidOutcome {
	for i := range r.Imps {
		if r.Imps[i].ImpID == impID && r.Imps[i].Winner >= 0 {
			return &r.Bids[r.Imps[i].Winner]
		}
	}
	return nil
}

// HasWinner reports whether any imp has a winning bid.
func (r *Result) HasWinner() bool {
	for i := range r.Imps {
		if r.Imps[i].Winner >= 0 {
			return true
		}
	}
	return false
}

// Macros returns the macro values of Bids[i], for ExpandMacros: the auction
// data of a winner, or of a loser with its loss reason (for its lurl).
// Prices and the currency are the bid's own (OpenRTB 2.6 §4.4): amounts of
// the auction currency are converted back at the rate the bid's price was
// converted at, so a first-price winner sees exactly its own price.
//
// The prices follow the tables of §4.4.1. The winner's ${AUCTION_PRICE} is
// its clearing price and its ${AUCTION_MIN_TO_WIN} the next bid or the
// floor (MinToWinMicros). A loser has no ${AUCTION_PRICE}; when price
// decided its loss (lost to a higher or a deal bid, or below its floor) its
// ${AUCTION_MIN_TO_WIN} is what ties the winner: the winner's clearing
// price, which is its bid at first price and below it at second price (the
// least of them where an imp has several winners; or the floor it missed,
// when that is higher or no bid won). Any other loser (an invalid or
// blocked bid, one the budget refused) has none. A winner's ImpTS is left
// unknown and kept (KeepImpTS): set it when the impression is billed.
func (r *Result) Macros(i int) MacroValues {
	b := &r.Bids[i]
	v := MacroValues{
		AuctionID: r.AuctionID,
		BidID:     b.ResponseBidID,
		SeatID:    b.Seat,
		AdID:      b.Bid.AdID,
		ImpID:     b.Bid.ImpID,
		Price:     -1,
		BidPrice:  b.BidPriceMicros,
		Currency:  b.BidCurrency,
		Loss:      b.Loss,
		MinToWin:  b.inBidCurrency(r.minToWin(b)),
		KeepImpTS: b.Won,
	}
	if b.Won {
		v.Price = b.inBidCurrency(b.ClearMicros)
	}
	if v.Currency == "" { // an outcome not built by Run
		v.Currency, v.BidPrice = r.Currency, b.PriceMicros
	}
	if b.Imp >= 0 && r.req != nil {
		if q := r.req.Imp[b.Imp].Qty; q != nil {
			v.Multiplier = q.Multiplier
		}
	}
	return v
}

// minToWin is the ${AUCTION_MIN_TO_WIN} of b in micros of the auction
// currency, -1 for none (see Macros).
func (r *Result) minToWin(b *BidOutcome) int64 {
	if b.Won {
		return b.MinToWinMicros
	}
	switch b.Loss {
	case openrtb3.LossLostToHigherBid, openrtb3.LossLostToDealBid:
		if w := r.lowestWinningPrice(b.Imp); w >= 0 {
			return w
		}
		return b.MinToWinMicros
	case openrtb3.LossBelowAuctionFloor, openrtb3.LossBelowDealFloor:
		return max(b.MinToWinMicros, r.lowestWinningPrice(b.Imp))
	}
	return -1
}

// lowestWinningPrice is the least clearing price among the winners of imp,
// what a bid had to tie to win a place; -1 when nothing won it.
func (r *Result) lowestWinningPrice(imp int) int64 {
	lowest := int64(-1)
	for i := range r.Bids {
		if w := &r.Bids[i]; w.Won && w.Imp == imp && (lowest < 0 || w.ClearMicros < lowest) {
			lowest = w.ClearMicros
		}
	}
	return lowest
}

// LossURL returns the lurl of the losing Bids[i] with its macros expanded,
// or "" when the bid won or has no lurl. The exchange calls it to notify
// bidders of their losses.
func (r *Result) LossURL(i int) string {
	b := &r.Bids[i]
	if b.Won || b.Bid.LURL == "" {
		return ""
	}
	v := r.Macros(i)
	return ExpandMacros(b.Bid.LURL, &v)
}

// BidResponse builds the response to send back: one seatbid per seat with a
// winner, each winning bid a copy of the bidder's with the clearing price
// and with its macros expanded in nurl, burl and adm. Every winner of a
// dynamic pod is there with its own price and macros; a seatbid lists its
// bids imp by imp, and a pod's in play order (PodResult.Winners). ${AUCTION_IMP_TS} is
// left for the billing stage. The lurl is passed on as the bidder sent it,
// macros and all: the bid won here, so only whoever decides later that it
// lost can fill in a loss. With no winner the response has no seatbid
// and nbr set to r.NBR.
func (r *Result) BidResponse() *openrtb2.BidResponse {
	resp := new(openrtb2.BidResponse)
	r.BidResponseInto(resp)
	return resp
}

// BidResponseInto writes the response BidResponse builds into resp,
// reusing the memory of resp's seatbids and of their bid slices: a server
// that pools its responses, as it pools its Results for RunInto, builds
// each answer without garbage but for the strings of expanded macros.
// Whatever resp held is overwritten, and nothing may use it or its slices
// any more; the bids past the lengths of the reused slices are left as
// they were (a pool that must not keep them alive clears them).
func (r *Result) BidResponseInto(resp *openrtb2.BidResponse) {
	*resp = openrtb2.BidResponse{ID: r.AuctionID, Cur: r.Currency, SeatBid: resp.SeatBid[:0]}
	if !r.HasWinner() {
		nbr := r.NBR
		resp.NBR = &nbr
		return
	}
	for i := range r.Imps {
		switch ir := &r.Imps[i]; {
		case ir.Pod != nil:
			for _, w := range ir.Pod.Winners {
				r.appendWinner(resp, w)
			}
		case ir.Winner >= 0:
			r.appendWinner(resp, ir.Winner)
		}
	}
}

// appendWinner adds the winning Bids[w] to resp, priced and with its
// macros expanded.
func (r *Result) appendWinner(resp *openrtb2.BidResponse, w int) {
	b := &r.Bids[w]
	sb := seatBid(resp, b.Seat)
	sb.Bid = append(sb.Bid, *b.Bid)
	bid := &sb.Bid[len(sb.Bid)-1]
	v := r.Macros(w)
	bid.Price = float64(b.ClearMicros) / 1e6
	bid.NURL = ExpandMacros(bid.NURL, &v)
	bid.BURL = ExpandMacros(bid.BURL, &v)
	bid.AdM = ExpandMacros(bid.AdM, &v)
}

// seatBid returns the seatbid of seat in resp, adding it (in the room a
// reused slice has, with its bid slice emptied) when it is not there.
func seatBid(resp *openrtb2.BidResponse, seat string) *openrtb2.SeatBid {
	for i := range resp.SeatBid {
		if resp.SeatBid[i].Seat == seat {
			return &resp.SeatBid[i]
		}
	}
	if n := len(resp.SeatBid); n < cap(resp.SeatBid) {
		resp.SeatBid = resp.SeatBid[:n+1]
		sb := &resp.SeatBid[n]
		*sb = openrtb2.SeatBid{Seat: seat, Bid: sb.Bid[:0]}
		return sb
	}
	resp.SeatBid = append(resp.SeatBid, openrtb2.SeatBid{Seat: seat})
	return &resp.SeatBid[len(resp.SeatBid)-1]
}

// Billing returns the Billing of the winner Bids[i], with the Hold that
// the winner reserved (each winner of a dynamic pod has its own).
// It returns an error wrapping ErrNotWinner when i is out of range or
// Bids[i] did not win.
func (r *Result) Billing(i int) (Billing, error) {
	if i < 0 || i >= len(r.Bids) || !r.Bids[i].Won {
		return Billing{}, fmt.Errorf("%w: bid %d of %d", ErrNotWinner, i, len(r.Bids))
	}
	b := &r.Bids[i]
	bl := Billing{AuctionID: r.AuctionID, Bidder: b.Bidder, Seat: b.Seat, BidID: b.Bid.ID,
		Currency: r.Currency, ClearMicros: b.ClearMicros, Hold: r.holdOf(i)}
	bl.ImpID = b.Bid.ImpID
	if b.Deal != nil {
		bl.DealID = b.Deal.ID
	}
	return bl, nil
}

// holdOf returns the hold of the winning Bids[i].
func (r *Result) holdOf(i int) Hold {
	ir := &r.Imps[r.Bids[i].Imp]
	if ir.Pod != nil {
		if k := slices.Index(ir.Pod.Winners, i); k >= 0 {
			return ir.Pod.Holds[k]
		}
	}
	return ir.Hold
}
