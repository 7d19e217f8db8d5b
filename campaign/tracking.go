package campaign

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// Defaults of the Tracker's options.
const (
	// DefaultClickTTL is how long a click URL stays valid after ClickURL
	// made it (WithClickTTL).
	DefaultClickTTL = 24 * time.Hour
	// DefaultAttributionWindow is how long after a click a conversion is
	// attributed to it (WithAttributionWindow).
	DefaultAttributionWindow = 7 * 24 * time.Hour
	// DefaultClickDedupe is the window within which a replayed click URL
	// is counted once (WithClickDedupe).
	DefaultClickDedupe = 30 * time.Second
	// DefaultDedupeMemory is how many clicks, and separately how many
	// conversions, a Tracker remembers at most to count replays once
	// (WithDedupeMemory).
	DefaultDedupeMemory = 1 << 16
	// DefaultConversionParam is the query parameter that carries the
	// conversion token on the landing URL and on the conversion postback
	// (WithConversionParam).
	DefaultConversionParam = "gavel_click"
	// DefaultTrackerSinkTimeout bounds one write of a click or conversion
	// event to the sink (WithTrackerSinkTimeout).
	DefaultTrackerSinkTimeout = 2 * time.Second
	// MaxOrderIDBytes is the longest order id a conversion postback may
	// carry.
	MaxOrderIDBytes = 256
)

// Errors of the Tracker, beside the token errors of gavelhttp
// (ErrTokenMalformed, ErrTokenUnknownKey, ErrTokenSignature,
// ErrTokenExpired), which its handlers return for the same refusals.
var (
	// ErrBadLanding is returned by CheckLanding for a landing URL that is
	// not an absolute http or https URL with a host.
	ErrBadLanding = errors.New("campaign: landing url is not an absolute http or https url")
	// ErrWrongToken is returned for a well-signed token of another kind:
	// a conversion token at the click endpoint, a click token at the
	// conversion endpoint, or a billing token of gavelhttp signed with the
	// same keys.
	ErrWrongToken = errors.New("campaign: token of the wrong kind")
)

// ClickInfo is what a click URL carries: the impression the ad was shown
// on, whose ad it was, and where the click goes.
type ClickInfo struct {
	AuctionID   string // the bid request's id
	ImpID       string // the imp's id
	BidID       string // the bid's id; optional, joins clicks to win and billing events
	CampaignID  string
	CreativeID  string
	Account     string // the budget account the campaign spends from
	PriceMicros int64  // the bid price, micros of CPM in Currency
	Currency    string // ISO-4217
	Landing     string // absolute http or https URL; see CheckLanding
}

// CheckLanding returns nil if landing can be a click's destination: an
// absolute http or https URL with a host; ErrBadLanding otherwise.
func CheckLanding(landing string) error {
	u, err := url.Parse(landing)
	if err != nil || u.Host == "" || (!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) {
		return fmt.Errorf("%w: %q", ErrBadLanding, landing)
	}
	return nil
}

// Tracker serves click and conversion tracking for campaigns, through
// signed tokens, with no state shared between the bid, the click and the
// conversion.
//
// ClickURL makes the click URL of an ad: base + "/click?t=" + a token that
// carries the ClickInfo, when it was made and when it expires. The
// embedder mounts ClickHandler at base + "/click" and ConversionHandler at
// base + "/conversion".
//
// ClickHandler verifies the token, records a gavel.EventClick and
// redirects (302) to the token's landing URL, with the conversion token
// added as the query parameter "gavel_click" (WithConversionParam). The
// landing URL is inside the signed token, so the endpoint is no open
// redirect. The advertiser posts a conversion back to ConversionHandler
// with that token (parameter "gavel_click" or "t") and an optional
// order_id, within the attribution window after the click; it records a
// gavel.EventConversion with the click's impression, campaign, creative,
// account and price, and the click's id.
//
// Tokens are HMAC-SHA256 signed with gavelhttp Keys (the last key signs,
// any key verifies, for rotation) and tagged with their kind, so that a
// click token, a conversion token and a gavelhttp billing token signed
// with the same keys are never taken for one another. They are signed,
// not encrypted: whoever holds one can read it.
//
// Answers:
//
//	302 click: redirect to the landing URL (a replay too, counted once)
//	204 conversion recorded, now or before (a replay, counted once)
//	400 no token, a malformed token, a token of the wrong kind; for a
//	    conversion, an order id longer than MaxOrderIDBytes or a form
//	    body that does not parse
//	403 token signed with an unknown key, or tampered with
//	405 click: not GET or HEAD; conversion: not GET or POST
//	410 expired token
//
// A refused token records nothing. A HEAD click redirects and records
// nothing. A sink that fails loses the event, counted in Stats, and the
// answer stays the same: a click still lands, and a postback is not asked
// to retry.
//
// Replays. A click URL replayed within the click dedupe window
// (WithClickDedupe) is counted once; a conversion is counted once per
// click and order id (a postback without an order id, once per click)
// while its token is valid. Both are remembered in memory, per process,
// at most WithDedupeMemory of each (past that the oldest are forgotten
// early): behind a balancer, a replay that reaches another process is
// counted again there. Consumers who need exactly once across processes
// dedupe click events on click_id within the dedupe window, and
// conversion events on click_id and order_id.
//
// The zero Tracker is not usable; NewTracker builds one. It is safe for
// concurrent use.
type Tracker struct {
	signer signer
	base   string
	sink   gavel.EventSink
	cfg    trackerConfig
	clicks *dedupe
	convs  *dedupe
	stats  trackerCounters
}

type trackerConfig struct {
	clickTTL, window, dedupe, sinkTimeout time.Duration
	memory                                int
	param                                 string
	now                                   func() time.Time
	clicked                               []ClickHook
	converted                             []ConversionHook
	errs                                  []error
}

// A TrackerOption configures a Tracker.
type TrackerOption interface{ apply(*trackerConfig) }

type trackerOptionFunc func(*trackerConfig)

func (f trackerOptionFunc) apply(c *trackerConfig) { f(c) }

// WithClickTTL sets how long a click URL stays valid after ClickURL made
// it (> 0): past that, a click is refused (410) and not recorded. Default
// DefaultClickTTL.
func WithClickTTL(d time.Duration) TrackerOption {
	return trackerOptionFunc(func(c *trackerConfig) { c.clickTTL = d })
}

// WithAttributionWindow sets how long after a click its conversion token
// is accepted (> 0). Default DefaultAttributionWindow.
func WithAttributionWindow(d time.Duration) TrackerOption {
	return trackerOptionFunc(func(c *trackerConfig) { c.window = d })
}

// WithClickDedupe sets the window within which a replayed click URL is
// counted once (> 0). Default DefaultClickDedupe.
func WithClickDedupe(d time.Duration) TrackerOption {
	return trackerOptionFunc(func(c *trackerConfig) { c.dedupe = d })
}

// WithDedupeMemory sets how many clicks, and separately how many
// conversions, are remembered at most to count replays once (> 0).
// Default DefaultDedupeMemory.
func WithDedupeMemory(n int) TrackerOption {
	return trackerOptionFunc(func(c *trackerConfig) { c.memory = n })
}

// WithConversionParam sets the query parameter that carries the
// conversion token on the landing URL and on the postback (non-empty,
// not "t" or "order_id"). Default DefaultConversionParam.
func WithConversionParam(name string) TrackerOption {
	return trackerOptionFunc(func(c *trackerConfig) { c.param = name })
}

// WithTrackerSinkTimeout bounds one write of an event to the sink (> 0).
// The write runs apart from the request's context, so that a client that
// hangs up does not lose its event. Default DefaultTrackerSinkTimeout.
func WithTrackerSinkTimeout(d time.Duration) TrackerOption {
	return trackerOptionFunc(func(c *trackerConfig) { c.sinkTimeout = d })
}

// WithTrackerClock sets the clock that tokens are made and checked
// against and that stamps the events. Default time.Now.
func WithTrackerClock(now func() time.Time) TrackerOption {
	return trackerOptionFunc(func(c *trackerConfig) {
		if now == nil {
			c.errs = append(c.errs, errors.New("nil clock"))
			return
		}
		c.now = now
	})
}

// A ClickHook is told of every click a Tracker recorded, once per click
// (never for a replay or a HEAD), with its event, after the sink's Write
// returned, failed or not: a dashboard's per-campaign click counts, an
// online model's labels. It is called on the click's request goroutine:
// it must be quick and safe for concurrent use.
type ClickHook interface {
	Clicked(e gavel.Event)
}

// A ConversionHook is told of every conversion a Tracker recorded, once
// per click and order id, as ClickHook is of clicks.
type ConversionHook interface {
	Converted(e gavel.Event)
}

// WithTrackerHooks registers hooks, each implementing ClickHook,
// ConversionHook or both; a value that implements neither is refused.
// Default none.
func WithTrackerHooks(hooks ...any) TrackerOption {
	return trackerOptionFunc(func(c *trackerConfig) {
		for _, h := range hooks {
			ck, isClick := h.(ClickHook)
			cv, isConv := h.(ConversionHook)
			if isClick {
				c.clicked = append(c.clicked, ck)
			}
			if isConv {
				c.converted = append(c.converted, cv)
			}
			if !isClick && !isConv {
				c.errs = append(c.errs, fmt.Errorf("hook %T implements neither ClickHook nor ConversionHook", h))
			}
		}
	})
}

// NewTracker returns a Tracker whose URLs start with base (an absolute
// http or https URL without query, e.g. https://ads.example/track), that
// signs with keys (the newest last, as gavelhttp.NewKeys takes them; the
// secrets are copied) and records events to sink. The sink is the
// embedder's, typically the gavel.AsyncSink its Auction writes to: the
// handlers wait for its Write. It returns an error wrapping
// gavel.ErrInvalidOption naming every problem at once.
func NewTracker(base string, keys []gavelhttp.Key, sink gavel.EventSink, opts ...TrackerOption) (*Tracker, error) {
	c := trackerConfig{
		clickTTL: DefaultClickTTL, window: DefaultAttributionWindow, dedupe: DefaultClickDedupe,
		sinkTimeout: DefaultTrackerSinkTimeout, memory: DefaultDedupeMemory, param: DefaultConversionParam, now: time.Now,
	}
	for _, o := range opts {
		o.apply(&c)
	}
	errs := c.validate(base, keys, sink)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: campaign: tracker: %w", gavel.ErrInvalidOption, errors.Join(errs...))
	}
	return &Tracker{
		signer: newSigner(keys),
		base:   strings.TrimRight(base, "/"),
		sink:   sink,
		cfg:    c,
		clicks: newDedupe(c.memory),
		convs:  newDedupe(c.memory),
	}, nil
}

// validate returns every problem of c and of NewTracker's arguments.
func (c *trackerConfig) validate(base string, keys []gavelhttp.Key, sink gavel.EventSink) []error {
	errs := c.errs
	if _, err := gavelhttp.NewKeys(keys...); err != nil {
		errs = append(errs, fmt.Errorf("keys: %w", keyProblems(err)))
	}
	if sink == nil {
		errs = append(errs, errors.New("nil sink"))
	}
	if u, err := url.Parse(base); err != nil || CheckLanding(base) != nil || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("base url %q is not an absolute http or https url without query", base))
	}
	if c.clickTTL <= 0 || c.window <= 0 || c.dedupe <= 0 || c.sinkTimeout <= 0 || c.memory <= 0 {
		errs = append(errs, fmt.Errorf("click ttl %v, attribution window %v, click dedupe %v, sink timeout %v, dedupe memory %d: want all > 0",
			c.clickTTL, c.window, c.dedupe, c.sinkTimeout, c.memory))
	}
	if c.param == "" || c.param == "t" || c.param == "order_id" {
		errs = append(errs, fmt.Errorf("conversion param %q: want non-empty, not t or order_id", c.param))
	}
	return errs
}

// keyProblems returns the problems that gavelhttp.NewKeys joined under
// gavel.ErrInvalidOption, so that they are not wrapped in it twice.
func keyProblems(err error) error {
	if w, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range w.Unwrap() {
			if e != gavel.ErrInvalidOption {
				return e
			}
		}
	}
	return err
}

// ClickURL returns the click URL of an ad for c: base + "/click?t=" +
// token, valid for the click TTL from now. It returns "" when c.Landing
// fails CheckLanding: such an ad has nowhere to send a click.
func (t *Tracker) ClickURL(c ClickInfo) string {
	if CheckLanding(c.Landing) != nil {
		return ""
	}
	now := t.cfg.now()
	tk := token{kind: kindClick, issued: now, expires: now.Add(t.cfg.clickTTL), info: c}
	return t.base + "/click?t=" + t.signer.sign(&tk)
}

// TrackerStats counts what a Tracker did since it was made.
type TrackerStats struct {
	Clicks               int64 // click events recorded
	DuplicateClicks      int64 // replayed clicks, redirected and not recorded
	Conversions          int64 // conversion events recorded
	DuplicateConversions int64 // replayed conversions, not recorded
	// Refusals by reason (4xx answers; nothing recorded).
	RefusedMalformed  int64 // no token, a malformed token, order id or form
	RefusedUnknownKey int64 // a token signed with a key the Tracker does not hold
	RefusedSignature  int64 // a tampered token
	RefusedExpired    int64 // an expired token
	RefusedWrongKind  int64 // a click token at the conversion endpoint, the reverse, or a billing token
	RefusedMethod     int64 // a method the endpoint does not serve
	// SinkFailures counts events the sink refused: lost, not retried.
	SinkFailures int64
}

type trackerCounters struct {
	clicks, dupClicks, convs, dupConvs                                 atomic.Int64
	malformed, unknownKey, signature, expired, wrongKind, method, sink atomic.Int64
}

// Stats returns the Tracker's counters. It is safe to call at any time.
func (t *Tracker) Stats() TrackerStats {
	s := &t.stats
	return TrackerStats{
		Clicks: s.clicks.Load(), DuplicateClicks: s.dupClicks.Load(),
		Conversions: s.convs.Load(), DuplicateConversions: s.dupConvs.Load(),
		RefusedMalformed: s.malformed.Load(), RefusedUnknownKey: s.unknownKey.Load(),
		RefusedSignature: s.signature.Load(), RefusedExpired: s.expired.Load(),
		RefusedWrongKind: s.wrongKind.Load(), RefusedMethod: s.method.Load(),
		SinkFailures: s.sink.Load(),
	}
}
