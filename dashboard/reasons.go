package dashboard

import (
	"github.com/prebid/openrtb/v20/openrtb3"

	"github.com/gavelrtb/gavel"
)

// noBidNames names the no-bid reasons an auction of gavel ends with.
var noBidNames = map[int]string{
	int(openrtb3.NoBidUnknownError):     "unknown error",
	int(openrtb3.NoBidTechnicalError):   "technical error",
	int(openrtb3.NoBidInvalidRequest):   "invalid request",
	int(openrtb3.NoBidInsufficientTime): "insufficient time",
	int(gavel.NoBidNoDemand):            "no demand",
	int(gavel.NoBidNoEligibleBids):      "no eligible bids",
	int(gavel.NoBidNoBidders):           "no bidders",
	otherReason:                         "(other)",
}

// lossNames names the loss reasons a bid of gavel loses with.
var lossNames = map[int]string{
	int(openrtb3.LossInternalError):           "internal error",
	int(openrtb3.LossExpired):                 "expired",
	int(openrtb3.LossInvalidResponse):         "invalid response",
	int(openrtb3.LossInvalidDealID):           "invalid deal id",
	int(openrtb3.LossInvalidAuctionID):        "invalid auction id",
	int(openrtb3.LossInvalidAdvertiserDomain): "invalid advertiser domain",
	int(openrtb3.LossMissingMarkup):           "missing markup",
	int(openrtb3.LossMissingCreativeID):       "missing creative id",
	int(openrtb3.LossMissingBidPrice):         "missing bid price",
	int(openrtb3.LossBelowAuctionFloor):       "below floor",
	int(openrtb3.LossBelowDealFloor):          "below deal floor",
	int(openrtb3.LossLostToHigherBid):         "lost to higher bid",
	int(openrtb3.LossLostToDealBid):           "lost to deal bid",
	int(openrtb3.LossSeatBlocked):             "seat blocked",
	int(openrtb3.LossCreativeFiltered):        "creative filtered",
	int(openrtb3.LossSizeNotAllowed):          "size not allowed",
	int(openrtb3.LossIncorrectFormat):         "incorrect format",
	int(openrtb3.LossAdvertiserExclusions):    "advertiser excluded",
	int(openrtb3.LossAppBundleExclusions):     "app excluded",
	int(openrtb3.LossNotSecure):               "not secure",
	int(openrtb3.LossCategoryExclusions):      "category excluded",
	int(openrtb3.LossAttributeExclusions):     "attribute excluded",
	int(openrtb3.LossNotAllowedInDeal):        "not allowed in deal",
	int(gavel.LossOpenBidInPrivateAuction):    "open bid in private auction",
	int(gavel.LossCurrency):                   "currency",
	int(gavel.LossPriceAboveMax):              "price above max",
	int(gavel.LossDuplicateBid):               "duplicate bid",
	int(gavel.LossBudget):                     "budget",
	int(gavel.LossSeatNotAllowed):             "seat not allowed",
	int(gavel.LossUnknownAccount):             "unknown account",
	int(gavel.LossLedgerUnavailable):          "ledger unavailable",
	int(gavel.LossNoTimeToReserve):            "no time to reserve",
	int(gavel.LossDealCurrency):               "deal currency",
	int(gavel.LossCategoryTaxonomy):           "category taxonomy",
	int(gavel.LossCompetitiveSeparation):      "competitive separation",
	int(gavel.LossPodDuration):                "pod duration",
	int(gavel.LossPodPosition):                "pod position",
	int(gavel.LossBudgetPending):              "budget pending",
	otherReason:                               "(other)",
}
