package gavel

import (
	"context"
	"fmt"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// A Hook observes auctions. It is any value that implements one or more of
// the hook interfaces below; register hooks with WithHooks. Hooks are called
// synchronously from Run, possibly from many goroutines at once, so they must
// be fast and safe for concurrent use. They receive pointers into the
// auction's own values (no copy is made for them) and must not modify them
// or keep them after returning. With no hook of a kind registered, Run
// builds nothing for it.
type Hook any

// AuctionStartHook is called when Run has accepted a request, before the
// fan-out.
type AuctionStartHook interface {
	OnAuctionStart(ctx context.Context, req *openrtb2.BidRequest)
}

// AuctionEndHook is called when Run is about to return, for every call of
// Run: res is nil when err is not.
type AuctionEndHook interface {
	OnAuctionEnd(ctx context.Context, req *openrtb2.BidRequest, res *Result, err error)
}

// BidderResponseHook is called once per bidder of the auction, called or
// not, with its status and latency.
type BidderResponseHook interface {
	OnBidderResponse(ctx context.Context, auctionID string, r *BidderResult)
}

// BidOutcomeHook is called once per bid received, after clearing, with its
// outcome: won at its clearing price, or lost with a loss reason.
type BidOutcomeHook interface {
	OnBidOutcome(ctx context.Context, auctionID string, b *BidOutcome)
}

type hookSet struct {
	start   []AuctionStartHook
	end     []AuctionEndHook
	bidder  []BidderResponseHook
	outcome []BidOutcomeHook
	profile []ProfileHook
	budget  []BudgetHook
}

func (hs *hookSet) add(h Hook) error {
	known := false
	if x, ok := h.(AuctionStartHook); ok {
		hs.start, known = append(hs.start, x), true
	}
	if x, ok := h.(AuctionEndHook); ok {
		hs.end, known = append(hs.end, x), true
	}
	if x, ok := h.(BidderResponseHook); ok {
		hs.bidder, known = append(hs.bidder, x), true
	}
	if x, ok := h.(BidOutcomeHook); ok {
		hs.outcome, known = append(hs.outcome, x), true
	}
	if x, ok := h.(ProfileHook); ok {
		hs.profile, known = append(hs.profile, x), true
	}
	if x, ok := h.(BudgetHook); ok {
		hs.budget, known = append(hs.budget, x), true
	}
	if !known {
		return fmt.Errorf("%w: hook %T implements no hook interface", ErrInvalidOption, h)
	}
	return nil
}

// ProfileHook is called after every profile lookup of Run, including the
// ones that found nothing or failed; a failed lookup never fails the auction.
type ProfileHook interface {
	OnProfile(ctx context.Context, auctionID string, outcome ProfileOutcome, latency time.Duration, err error)
}

// BudgetHook is called for every reservation Run attempts: err is nil when
// the ledger reserved the hold, wraps ErrBudgetExhausted when the account
// is out of money, and is anything else when the ledger failed.
type BudgetHook interface {
	OnReserve(ctx context.Context, auctionID string, h Hold, err error)
}
