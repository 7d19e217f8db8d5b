package campaign

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// A Campaign is one line of an ad server's own demand. The Bidder copies
// nothing out of it lazily: once given to the Bidder (Set, Replace), a
// Campaign and what its slices hold must not be changed; give a new value
// instead. The zero Campaign is not valid; see Validate.
type Campaign struct {
	ID         string // unique within a Bidder; no '.'
	Account    string // the gavel budget account it spends from; also its seat
	Advertiser string // for advertiser-level frequency caps

	Flight    Flight
	Targeting Targeting
	Creatives []Creative // at least one
	Goal      Goal

	// BidCapMicros caps the bid, in CPM micros. It must be positive.
	BidCapMicros int64
	// Caps are the campaign's frequency caps, counted on billed
	// impressions per user; a campaign with caps needs a Bidder with a
	// FrequencyStore, and does not bid on a request without a user.
	Caps []FrequencyCap

	Paused bool // a paused campaign never bids
}

// A Flight is when a campaign may bid. The zero Flight is always.
type Flight struct {
	// Start and End bound the flight, End excluded; a zero Start has no
	// beginning and a zero End no end.
	Start, End time.Time
	// Location is the time zone of Hours and Weekdays. Default (nil): UTC.
	Location *time.Location
	// Hours and Weekdays restrict bidding to the hours of the day and the
	// days of the week (indexed by time.Weekday) that are true, in
	// Location. All false (the zero value): every hour, every day.
	Hours    [24]bool
	Weekdays [7]bool
}

// Active reports whether the flight allows bidding at t.
func (f Flight) Active(t time.Time) bool {
	if !f.Start.IsZero() && t.Before(f.Start) {
		return false
	}
	if !f.End.IsZero() && !t.Before(f.End) {
		return false
	}
	if f.Hours == ([24]bool{}) && f.Weekdays == ([7]bool{}) {
		return true
	}
	loc := f.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	if f.Hours != ([24]bool{}) && !f.Hours[lt.Hour()] {
		return false
	}
	return f.Weekdays == ([7]bool{}) || f.Weekdays[lt.Weekday()]
}

// Targeting says which requests a campaign bids on. Every field is a
// condition; an empty field is no condition. Countries, regions, OS,
// domains and bundles match without regard to case; segments and deals
// exactly. Media type and size are the creatives' (see
// Creative): a campaign bids on an imp only with a creative that fits it.
type Targeting struct {
	// Countries are the countries the user may be in (geo.country,
	// ISO-3166-1 alpha-3, from device.geo or else user.geo).
	Countries []string
	// Regions are the regions the user may be in (geo.region, ISO-3166-2),
	// from the same geo as the country.
	Regions []string
	// DeviceTypes are the device types (device.devicetype) it may bid on.
	DeviceTypes []adcom1.DeviceType
	// OS are the operating systems (device.os) it may bid on.
	OS []string
	// Domains and Bundles are the inventory it may bid on: a site whose
	// site.domain is in Domains, or an app whose app.bundle is in Bundles.
	// Both empty: any inventory.
	Domains []string
	Bundles []string
	// BlockedDomains and BlockedBundles are inventory it never bids on.
	BlockedDomains []string
	BlockedBundles []string
	// Segments: the user must be in one of them (a segment id of
	// user.data[].segment[], as the profile store fills them).
	Segments []string
	// Deals: the campaign bids only on imps that offer one of these deals
	// (imp.pmp.deals[].id), on the first of the imp's deals that it names
	// and whose wseat, if any, holds its account; the bid must clear that
	// deal's floor. Empty: it bids only in the open auction, never on an
	// imp whose pmp is a private auction.
	Deals []string
}

// A Creative is an ad a campaign can show. Its media type and size decide
// the imps it fits: a banner fits an imp whose banner has a format (or
// w×h) of its W×H; a video an imp whose video allows its Duration (minduration
// and maxduration) and Protocol (protocols); audio and native creatives fit
// any imp of their media type.
type Creative struct {
	ID    string              // unique within its campaign; no '.'
	MType openrtb2.MarkupType // banner, video, audio or native

	W, H     int64                       // banner size; both positive for a banner
	Duration int64                       // video or audio length in seconds
	Protocol adcom1.MediaCreativeSubtype // video protocol (VAST version); 0: any imp's

	// Markup is the bid's adm. ClickMacro in it is replaced with the click
	// URL (see WithClickURL), or with Landing without one: HTML-escaped in
	// banner, video and audio markup, unless the macro opens a CDATA
	// section ("<![CDATA[{{CLICK_URL}}"), and as it is in native markup. A
	// creative whose markup loads an http:// URL never serves a secure imp.
	Markup  string
	Landing string // the landing page; required when Markup has ClickMacro

	ADomain []string                   // the advertiser's domains (bid adomain, badv)
	Cat     []string                   // IAB categories (bid cat, bcat)
	Attr    []adcom1.CreativeAttribute // attributes (bid attr, battr)
	Lang    string                     // language (ISO-639-1); checked against wlang
}

// ClickMacro in a Creative's Markup is replaced with the click URL.
const ClickMacro = "{{CLICK_URL}}"

// GoalKind is what a campaign pays for.
type GoalKind uint8

const (
	// GoalCPM bids Goal.Value, a CPM in micros, on every imp.
	GoalCPM GoalKind = iota
	// GoalCPC bids Goal.Value (micros per click) × predicted CTR × 1000.
	GoalCPC
	// GoalCPA bids Goal.Value (micros per action) × CTR × CVR × 1000.
	GoalCPA
)

func (k GoalKind) String() string {
	switch k {
	case GoalCPM:
		return "cpm"
	case GoalCPC:
		return "cpc"
	case GoalCPA:
		return "cpa"
	}
	return fmt.Sprintf("GoalKind(%d)", uint8(k))
}

// A Goal is what a campaign pays and how its bid per impression follows.
// The bid is always capped by the campaign's BidCapMicros.
type Goal struct {
	Kind  GoalKind
	Value int64 // micros: a CPM (GoalCPM), per click (GoalCPC), per action (GoalCPA); positive

	// FallbackCTR and FallbackCVR are the rates used without a Predictor,
	// or when it fails and OnPredictorError is FallbackOnError. In [0, 1].
	FallbackCTR, FallbackCVR float64

	OnPredictorError PredictorErrorPolicy
}

// PredictorErrorPolicy says what a CPC or CPA campaign does when the
// Predictor fails. Either way the failure is counted (Stats).
type PredictorErrorPolicy uint8

const (
	// SkipOnError: the campaign does not bid on the imp. The default.
	SkipOnError PredictorErrorPolicy = iota
	// FallbackOnError: the campaign bids with FallbackCTR and FallbackCVR.
	FallbackOnError
)

// Validate reports what makes c unusable, every problem at once, each
// wrapping gavel.ErrInvalidOption; nil when c is usable.
func (c *Campaign) Validate() error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: campaign %q: "+format, append([]any{gavel.ErrInvalidOption, c.ID}, args...)...))
	}
	if c.ID == "" || strings.Contains(c.ID, ".") {
		fail("id must be non-empty and without '.'")
	}
	if c.Account == "" {
		fail("account must not be empty")
	}
	if !c.Flight.Start.IsZero() && !c.Flight.End.IsZero() && !c.Flight.End.After(c.Flight.Start) {
		fail("flight end %v must be after its start %v", c.Flight.End, c.Flight.Start)
	}
	if c.BidCapMicros <= 0 {
		fail("bid cap must be positive, got %d", c.BidCapMicros)
	}
	c.Goal.validate(fail)
	c.Targeting.validate(fail)
	for i, fc := range c.Caps {
		if err := fc.Validate(); err != nil {
			fail("frequency cap %d: %w", i, err)
		}
	}
	if len(c.Creatives) == 0 {
		fail("no creatives")
	}
	seen := make(map[string]bool, len(c.Creatives))
	for i := range c.Creatives {
		cr := &c.Creatives[i]
		if seen[cr.ID] {
			fail("creative id %q used twice", cr.ID)
		}
		seen[cr.ID] = true
		cr.validate(fail)
	}
	return errors.Join(errs...)
}

func (t *Targeting) validate(fail func(string, ...any)) {
	for _, l := range []struct {
		name string
		vals []string
	}{
		{"countries", t.Countries}, {"regions", t.Regions}, {"os", t.OS}, {"domains", t.Domains},
		{"bundles", t.Bundles}, {"blocked domains", t.BlockedDomains}, {"blocked bundles", t.BlockedBundles},
		{"segments", t.Segments}, {"deals", t.Deals},
	} {
		if slices.Contains(l.vals, "") {
			fail("targeting %s hold an empty value", l.name)
		}
	}
}

func (g Goal) validate(fail func(string, ...any)) {
	if g.Kind > GoalCPA {
		fail("unknown goal kind %d", uint8(g.Kind))
	}
	if g.Value <= 0 {
		fail("goal value must be positive, got %d", g.Value)
	}
	if !(g.FallbackCTR >= 0 && g.FallbackCTR <= 1) {
		fail("fallback ctr must be in [0, 1], got %v", g.FallbackCTR)
	}
	if !(g.FallbackCVR >= 0 && g.FallbackCVR <= 1) {
		fail("fallback cvr must be in [0, 1], got %v", g.FallbackCVR)
	}
	if g.OnPredictorError > FallbackOnError {
		fail("unknown predictor error policy %d", uint8(g.OnPredictorError))
	}
}

func (cr *Creative) validate(fail func(string, ...any)) {
	if cr.ID == "" || strings.Contains(cr.ID, ".") {
		fail("creative id %q must be non-empty and without '.'", cr.ID)
	}
	switch cr.MType {
	case openrtb2.MarkupBanner:
		if cr.W <= 0 || cr.H <= 0 {
			fail("banner creative %q needs a positive size, got %dx%d", cr.ID, cr.W, cr.H)
		}
	case openrtb2.MarkupVideo, openrtb2.MarkupAudio:
		if cr.Duration <= 0 {
			fail("creative %q needs a positive duration, got %d", cr.ID, cr.Duration)
		}
	case openrtb2.MarkupNative:
	default:
		fail("creative %q has unknown mtype %d", cr.ID, cr.MType)
	}
	if cr.Markup == "" {
		fail("creative %q has no markup", cr.ID)
	}
	if strings.Contains(cr.Markup, ClickMacro) && cr.Landing == "" {
		fail("creative %q has a click macro but no landing page", cr.ID)
	}
}

// A BidID is what the Bidder encodes in the id of each bid it makes, so
// that a billing notice (gavel.Billing.BidID) can be traced back to the
// campaign, the creative and the user: the string form is
// "<campaign id>.<creative id>.<user>.<nonce>".
type BidID struct {
	Campaign string
	Creative string
	// User is the hash of the user key as 16 hex digits, the user
	// argument of the FrequencyStore; NoUser when the request had none.
	User  string
	Nonce string // 16 hex digits that make the id unique
}

// NoUser is BidID.User for a request without a user key.
const NoUser = "0000000000000000"

// ErrBidID is returned by ParseBidID for an id the Bidder did not make.
var ErrBidID = errors.New("campaign: malformed bid id")

// String returns the id in its wire form.
func (b BidID) String() string {
	return b.Campaign + "." + b.Creative + "." + b.User + "." + b.Nonce
}

// ParseBidID decodes a bid id made by a Bidder. It returns an error
// wrapping ErrBidID for any other string.
func ParseBidID(id string) (BidID, error) {
	parts := strings.Split(id, ".")
	if len(parts) != 4 || parts[0] == "" || parts[1] == "" || !isHex16(parts[2]) || !isHex16(parts[3]) {
		return BidID{}, fmt.Errorf("%w: %q", ErrBidID, id)
	}
	return BidID{Campaign: parts[0], Creative: parts[1], User: parts[2], Nonce: parts[3]}, nil
}

func isHex16(s string) bool {
	if len(s) != 16 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
