package gavel

import (
	"context"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// A Profile is what the exchange knows about a user beyond the request:
// audience segments, extra identifiers and keywords. Run merges it into the
// copy of req.user that bidders see. A Profile returned by a ProfileStore is
// shared by concurrent auctions and must not be modified.
type Profile struct {
	UserID string

	// Segments are added to user.data: each Data whose id is not already in
	// the request is appended; the request's own entries win.
	Segments []openrtb2.Data
	// EIDs are added to user.eids when their source is not already there.
	EIDs []openrtb2.EID
	// Keywords are added to user.kwarray, without duplicates.
	Keywords []string
	// Attributes are free key-value pairs, sent to bidders as the object
	// "profile_attrs" in user.ext (left out when user.ext already has it).
	Attributes map[string]string
}

// A ProfileStore looks up user profiles. Profile returns ErrNoProfile when it
// has none for the key; it must honour ctx, since Run gives it only a few
// milliseconds (WithProfileTimeout), and be safe for concurrent use. A store
// that answers from memory may mark itself NonBlocking.
type ProfileStore interface {
	Profile(ctx context.Context, key string) (*Profile, error)
}

// ProfileStoreFunc adapts a function to a ProfileStore.
type ProfileStoreFunc func(ctx context.Context, key string) (*Profile, error)

// Profile returns f(ctx, key).
func (f ProfileStoreFunc) Profile(ctx context.Context, key string) (*Profile, error) {
	return f(ctx, key)
}

// A ProfileKey picks the key to look a request's user up by; "" means the
// request has none. See WithProfileKeys.
type ProfileKey func(req *openrtb2.BidRequest) string

// ProfileKeyUserID keys profiles by user.id, the exchange's own user id.
func ProfileKeyUserID(req *openrtb2.BidRequest) string {
	if req.User == nil {
		return ""
	}
	return req.User.ID
}

// ProfileKeyBuyerUID keys profiles by user.buyeruid.
func ProfileKeyBuyerUID(req *openrtb2.BidRequest) string {
	if req.User == nil {
		return ""
	}
	return req.User.BuyerUID
}

// ProfileKeyEID keys profiles by the first id of the user's EID from source,
// e.g. "liveramp.com".
func ProfileKeyEID(source string) ProfileKey {
	return func(req *openrtb2.BidRequest) string {
		if req.User == nil {
			return ""
		}
		for i := range req.User.EIDs {
			if e := &req.User.EIDs[i]; e.Source == source && len(e.UIDs) > 0 {
				return e.UIDs[0].ID
			}
		}
		return ""
	}
}

// ProfileOutcome says how a profile lookup went.
type ProfileOutcome uint8

// The profile outcomes.
const (
	ProfileHit     ProfileOutcome = iota + 1 // found and merged
	ProfileMiss                              // the store has no profile (ErrNoProfile)
	ProfileNoKey                             // the request has no key to look up
	ProfileError                             // the store failed
	ProfileTimeout                           // the store did not answer in time
)

var profileOutcomeNames = [...]string{"", "hit", "miss", "no_key", "error", "timeout"}

// String returns the outcome in snake case.
func (o ProfileOutcome) String() string {
	if int(o) < len(profileOutcomeNames) && o != 0 {
		return profileOutcomeNames[o]
	}
	return "unknown"
}
