package campaign

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A Period is the span over which a frequency cap counts impressions. The
// zero value is not a period: FrequencyCap.Validate and the stores reject
// it.
//
// Hours and days are calendar periods: an hour starts on the hour and a day
// at midnight, on the wall clock of the store's location (UTC unless the
// store is configured otherwise). A count ends with its period; the next
// period starts from 0. A lifetime count never rolls over; a store keeps it
// for a bounded time after the first impression it counts (its lifetime
// TTL), then starts again from 0.
type Period uint8

// The periods.
const (
	PeriodHour Period = iota + 1
	PeriodDay
	PeriodLifetime
)

// String returns "hour", "day", "lifetime", or "period(n)" for an invalid
// period.
func (p Period) String() string {
	switch p {
	case PeriodHour:
		return "hour"
	case PeriodDay:
		return "day"
	case PeriodLifetime:
		return "lifetime"
	}
	return fmt.Sprintf("period(%d)", uint8(p))
}

func (p Period) valid() bool { return p >= PeriodHour && p <= PeriodLifetime }

// Bounds returns the start of the period that holds t and the start of the
// next one, on the wall clock of loc (nil means UTC), both in loc. An hour
// starts when loc's wall clock reads a whole hour, so every hour lasts 60
// minutes, also when the clocks change; a day starts at local midnight and
// lasts 23, 24 or 25 hours. For PeriodLifetime and invalid periods both
// times are zero.
func (p Period) Bounds(t time.Time, loc *time.Location) (start, end time.Time) {
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	switch p {
	case PeriodHour:
		into := time.Duration(lt.Minute())*time.Minute + time.Duration(lt.Second())*time.Second + time.Duration(lt.Nanosecond())
		start = lt.Add(-into)
		return start, start.Add(time.Hour)
	case PeriodDay:
		y, m, d := lt.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, loc), time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	}
	return time.Time{}, time.Time{}
}

// A CapScope says what a frequency cap counts: the impressions of one
// campaign (the zero value) or of all campaigns of one advertiser.
type CapScope uint8

// The scopes.
const (
	ScopeCampaign CapScope = iota
	ScopeAdvertiser
)

// String returns "campaign", "advertiser", or "scope(n)" for an invalid
// scope.
func (s CapScope) String() string {
	switch s {
	case ScopeCampaign:
		return "campaign"
	case ScopeAdvertiser:
		return "advertiser"
	}
	return fmt.Sprintf("scope(%d)", uint8(s))
}

func (s CapScope) valid() bool { return s <= ScopeAdvertiser }

// A FrequencyCap allows a user at most Max billed impressions per Period,
// counted per campaign or per advertiser (Scope). Max must be positive.
type FrequencyCap struct {
	Scope  CapScope
	Max    int64
	Period Period
}

// Validate returns nil, or an error wrapping ErrInvalidCap that names every
// problem of c.
func (c FrequencyCap) Validate() error {
	var errs []error
	if !c.Scope.valid() {
		errs = append(errs, fmt.Errorf("%w: unknown scope %d", ErrInvalidCap, uint8(c.Scope)))
	}
	if !c.Period.valid() {
		errs = append(errs, fmt.Errorf("%w: unknown period %d", ErrInvalidCap, uint8(c.Period)))
	}
	if c.Max <= 0 {
		errs = append(errs, fmt.Errorf("%w: max must be positive, got %d", ErrInvalidCap, c.Max))
	}
	return errors.Join(errs...)
}

// Key returns the key that counts c's impressions for a campaign with id
// campaignID of advertiser: ID is campaignID for ScopeCampaign and
// advertiser for ScopeAdvertiser.
func (c FrequencyCap) Key(campaignID, advertiser string) CapKey {
	id := campaignID
	if c.Scope == ScopeAdvertiser {
		id = advertiser
	}
	return CapKey{Scope: c.Scope, ID: id, Period: c.Period}
}

// A CapKey names one counter of a user: the impressions of the campaign or
// advertiser ID (by Scope) in the current Period. CapKeys are comparable
// with ==.
type CapKey struct {
	Scope  CapScope
	ID     string // campaign id for ScopeCampaign, advertiser for ScopeAdvertiser
	Period Period
}

func (k CapKey) String() string { return k.Scope.String() + ":" + k.ID + ":" + k.Period.String() }

// checkKeys returns nil, or an error wrapping ErrInvalidCap naming every
// invalid key.
func checkKeys(keys []CapKey) error {
	var errs []error
	for i, k := range keys {
		if !k.Scope.valid() || !k.Period.valid() {
			errs = append(errs, fmt.Errorf("%w: key %d (%s)", ErrInvalidCap, i, k))
		}
	}
	return errors.Join(errs...)
}

// CheckKeys returns nil when every key has a known scope and period, or an
// error wrapping ErrInvalidCap that names each invalid key. Stores call it
// before counting.
func CheckKeys(keys []CapKey) error {
	for _, k := range keys { // the common case without allocating
		if !k.Scope.valid() || !k.Period.valid() {
			return checkKeys(keys)
		}
	}
	return nil
}

// ErrInvalidCap is wrapped by the errors about a FrequencyCap or CapKey with
// an unknown scope or period, or a cap whose Max is not positive.
var ErrInvalidCap = errors.New("gavel: invalid frequency cap")

// A FrequencyStore counts each user's billed impressions per CapKey. The
// user is the hash the campaign bidder derives from the request's user id,
// never the raw id. Implementations are safe for concurrent use.
//
// Counts and Record take the time instead of reading a clock, so that the
// caller (and a test) decides which period an impression falls in.
// Counts-then-Record is not atomic: auctions for one user that read a
// count under the cap before the impressions of the others are recorded
// may each win and bill. With at most N auctions for a user in flight at
// once (in any number of processes), the user exceeds a cap by at most
// N-1 per period.
type FrequencyStore interface {
	// Counts returns the impressions counted for user under each key in the
	// period that contains now, one per key in order, in one round trip.
	// It returns an error, and no counts, if ctx is done first (ctx.Err()
	// or a cause), if a key is invalid (ErrInvalidCap) or if the store
	// fails.
	Counts(ctx context.Context, user string, keys []CapKey, now time.Time) ([]int64, error)

	// Record counts one impression for user under each key at now. Keys
	// repeated in one call are counted once each time they appear. On an
	// error nothing may have been counted, or, for a remote store whose
	// answer was lost, everything.
	Record(ctx context.Context, user string, keys []CapKey, now time.Time) error
}
