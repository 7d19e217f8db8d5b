package dashboard

import (
	"errors"
	"fmt"
	"time"

	"github.com/gavelrtb/gavel"
)

// Defaults of the Dashboard's options. They are documented on each option
// too.
const (
	// DefaultHistory is how many seconds of frames a Dashboard keeps for a
	// new page: five minutes.
	DefaultHistory = 300

	// DefaultMaxBidders is how many bidders a Dashboard tells apart; the
	// bidders seen after them are counted together as "(other)".
	DefaultMaxBidders = 32

	// DefaultMaxAccounts is how many accounts the budget hook tells apart;
	// the accounts seen after them are counted together as "(other)".
	DefaultMaxAccounts = 32

	// DefaultMaxCampaigns is how many campaigns the billing, click and
	// conversion hooks tell apart; the campaigns seen after them are
	// counted together as "(other)".
	DefaultMaxCampaigns = 64

	// DefaultMaxReasons is how many no-bid reasons, and how many loss
	// reasons, a Dashboard tells apart; the codes seen after them are
	// counted together under code -1.
	DefaultMaxReasons = 64

	// DefaultReadTimeout bounds each balance read of a watched ledger
	// while a frame is built.
	DefaultReadTimeout = 500 * time.Millisecond
)

// An Option configures a Dashboard.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	history      int
	maxBidders   int
	maxAccounts  int
	maxCampaigns int
	maxReasons   int
	campaignOf   func(gavel.Billing) string
	readTimeout  time.Duration
	clock        gavel.Clock
	title        string
	problems     []error
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		history:      DefaultHistory,
		maxBidders:   DefaultMaxBidders,
		maxAccounts:  DefaultMaxAccounts,
		maxCampaigns: DefaultMaxCampaigns,
		maxReasons:   DefaultMaxReasons,
		readTimeout:  DefaultReadTimeout,
		clock:        systemClock{},
		title:        "gavel",
	}
	for _, o := range opts {
		if o == nil {
			c.fail("option must not be nil")
			continue
		}
		o.apply(c)
	}
	c.positive("history", c.history)
	c.positive("max bidders", c.maxBidders)
	c.positive("max accounts", c.maxAccounts)
	c.positive("max campaigns", c.maxCampaigns)
	c.positive("max reasons", c.maxReasons)
	if c.readTimeout <= 0 {
		c.fail("read timeout must be positive, got %v", c.readTimeout)
	}
	if c.clock == nil {
		c.fail("clock must not be nil")
	}
	if len(c.problems) > 0 {
		return nil, errors.Join(c.problems...)
	}
	return c, nil
}

func (c *config) positive(what string, n int) {
	if n <= 0 {
		c.fail("%s must be positive, got %d", what, n)
	}
}

func (c *config) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Errorf("%w: dashboard: "+format, append([]any{gavel.ErrInvalidOption}, args...)...))
}

// WithHistory sets how many one-second frames the Dashboard keeps and
// sends a page when it connects: the span of its charts. It must be
// positive. Default: DefaultHistory.
func WithHistory(seconds int) Option {
	return optionFunc(func(c *config) { c.history = seconds })
}

// WithMaxBidders bounds the bidders the Dashboard tells apart: it keeps
// counters for the first n bidder names it sees and counts any other
// bidder as "(other)". It must be positive. Default: DefaultMaxBidders.
func WithMaxBidders(n int) Option {
	return optionFunc(func(c *config) { c.maxBidders = n })
}

// WithMaxAccounts bounds the accounts the budget hook tells apart, as
// WithMaxBidders does for bidders. Watched accounts (WatchLedger,
// WatchPacer) are shown whatever the bound. It must be positive. Default:
// DefaultMaxAccounts.
func WithMaxAccounts(n int) Option {
	return optionFunc(func(c *config) { c.maxAccounts = n })
}

// WithMaxCampaigns bounds the campaigns the Dashboard tells apart, as
// WithMaxBidders does for bidders. It must be positive. Default:
// DefaultMaxCampaigns.
func WithMaxCampaigns(n int) Option {
	return optionFunc(func(c *config) { c.maxCampaigns = n })
}

// WithCampaignOf sets how Billed finds the campaign of a billed
// impression: f returns its id, or "" for an impression of no campaign
// (another bidder's). f is called on the billing request's goroutine for
// every billed impression: it must be quick, safe for concurrent use and
// should not allocate. Without it, Billed counts per account only, and
// the Campaigns table shows clicks and conversions but no impressions or
// spend. It must not be nil. Default: none.
func WithCampaignOf(f func(gavel.Billing) string) Option {
	return optionFunc(func(c *config) {
		if f == nil {
			c.fail("campaign func must not be nil")
			return
		}
		c.campaignOf = f
	})
}

// WithMaxReasons bounds the no-bid reasons, and the loss reasons, the
// Dashboard tells apart; any other code is counted under -1. It must be
// positive. Default: DefaultMaxReasons.
func WithMaxReasons(n int) Option {
	return optionFunc(func(c *config) { c.maxReasons = n })
}

// WithReadTimeout bounds each balance read of a watched ledger while a
// frame is built; a balance not read in time is left out of that frame.
// It must be positive. Default: DefaultReadTimeout.
func WithReadTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.readTimeout = d })
}

// WithClock sets the clock that stamps frames and at which a watched
// pacer's target is read (see WatchPacer). Frames are still built once a
// second of real time. It must not be nil. Default: the system clock.
func WithClock(clk gavel.Clock) Option {
	return optionFunc(func(c *config) { c.clock = clk })
}

// WithTitle sets the name the page shows in its heading and title, such
// as the exchange's. Default: "gavel".
func WithTitle(title string) Option {
	return optionFunc(func(c *config) { c.title = title })
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
