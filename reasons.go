package gavel

import "github.com/prebid/openrtb/v20/openrtb3"

// gavel's own loss reasons, in the exchange-specific range (500+) that OpenRTB
// leaves to exchanges. Every other loss reason gavel reports is an OpenRTB 3
// code from openrtb3.LossReason (100 below floor, 102 lost to a higher bid,
// 205 advertiser exclusions, and so on).
const (
	// LossOpenBidInPrivateAuction: the imp is a private auction
	// (pmp.private_auction=1) and the bid names no deal.
	LossOpenBidInPrivateAuction openrtb3.LossReason = 500
	// LossCurrency: the bid's currency is not one the request allows, or no
	// converter can bring it to the auction currency.
	LossCurrency openrtb3.LossReason = 501
	// LossPriceAboveMax: the price is above the auction's maximum (WithMaxPrice).
	LossPriceAboveMax openrtb3.LossReason = 502
	// LossDuplicateBid: the seat already sent a bid with this id in this auction.
	LossDuplicateBid openrtb3.LossReason = 503
	// LossBudget: the bid would have won but its account's budget cannot
	// cover its cost (the Ledger returned ErrBudgetExhausted).
	LossBudget openrtb3.LossReason = 504
	// LossSeatNotAllowed: the bid is for a seat that its bidder may not bid
	// for (WithBidderSeats). It never reaches the Ledger.
	LossSeatNotAllowed openrtb3.LossReason = 505
	// LossUnknownAccount: the bid would have won but the Ledger has no
	// budget for its account (ErrUnknownAccount), and WithUnknownAccounts
	// says to refuse such accounts, as it does by default.
	LossUnknownAccount openrtb3.LossReason = 506
	// LossLedgerUnavailable: the bid would have won but the Ledger failed
	// to reserve its cost (a store down or erring). Nothing was spent: the
	// auction fails closed.
	LossLedgerUnavailable openrtb3.LossReason = 507
	// LossNoTimeToReserve: the bid would have won but the auction's deadline
	// came before its cost could be reserved. No reservation is tried on a
	// Ledger that is not NonBlocking once the deadline has passed.
	LossNoTimeToReserve openrtb3.LossReason = 508
	// LossDealCurrency: the bid is for a deal whose floor is in a currency
	// that cannot be converted to the auction currency (its bidfloorcur, USD
	// when absent, OpenRTB 2.6 §3.2.12). The deal cannot be judged, so it is
	// unusable; the request and the imp's open market are not affected.
	LossDealCurrency openrtb3.LossReason = 509
	// LossCategoryTaxonomy: the request blocks or allows categories (bcat,
	// acat) in one taxonomy (its cattax, 1 when absent) and the bid declares
	// its categories in another (the bid's cattax), so they cannot be judged
	// (OpenRTB 2.6 §3.2.1, §4.2.3).
	LossCategoryTaxonomy openrtb3.LossReason = 510
	// LossCompetitiveSeparation: the bid shares an advertiser domain or an
	// IAB category with a winner of its ad pod (WithPodSeparation, OpenRTB
	// 2.6 §7.6). It never reaches the Ledger.
	LossCompetitiveSeparation openrtb3.LossReason = 511
	// LossPodDuration: the bid is for a dynamic pod (video.poddur) and its
	// dur is missing, longer than the pod, not one of rqddurs, or outside
	// minduration..maxduration (OpenRTB 2.6 §3.2.7, §7.6).
	LossPodDuration openrtb3.LossReason = 512
	// LossPodPosition: the bid's slotinpod asks for a position in a dynamic
	// pod (first, last, first or last) that the imp's slotinpod does not
	// offer, or is not a position of AdCOM's list (OpenRTB 2.6 §4.2.3, §7.6).
	LossPodPosition openrtb3.LossReason = 513
	// LossBudgetPending: the bid would have won but the Ledger could not
	// reserve its cost yet, though the budget may cover it: its local share
	// of the budget is held and not refilled yet (ErrBudgetPending). Nothing
	// was spent.
	LossBudgetPending openrtb3.LossReason = 514
)

// gavel's own no-bid reasons, in the exchange-specific range (500+). Result.NBR
// and the no-bid response use them when no OpenRTB code fits.
const (
	// NoBidNoDemand: every bidder that was called answered with no bid.
	NoBidNoDemand openrtb3.NoBidReason = 500
	// NoBidNoEligibleBids: bids arrived but every one was rejected or lost
	// (below floor, blocked, refused by the budget, ...).
	NoBidNoEligibleBids openrtb3.NoBidReason = 501
	// NoBidNoBidders: no bidder could take part (none configured, all
	// blocked by wseat/bseat, throttled or paced out).
	NoBidNoBidders openrtb3.NoBidReason = 502
)
