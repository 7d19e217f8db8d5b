package gavel

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// An Option configures an Auction. Options are applied in order by New,
// which validates the result; a later option overrides an earlier one of
// the same kind, except WithBidders and WithHooks, which add.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Defaults of the options. They are documented on each option too.
const (
	DefaultTMax         = 100 * time.Millisecond
	DefaultMaxTMax      = time.Second
	DefaultReserve      = 5 * time.Millisecond
	DefaultClearingTime = time.Millisecond
	// DefaultRemoteClearingTime is the clearing time with a Ledger that is
	// not NonBlocking until its latency has been measured: the most, so
	// that a cold start loses no reservation. MinRemoteClearingTime and
	// MaxClearingTime bound the clearing time that latency calls for
	// (WithClearingTime).
	DefaultRemoteClearingTime = MaxClearingTime
	MinRemoteClearingTime     = 5 * time.Millisecond
	MaxClearingTime           = 20 * time.Millisecond
	DefaultMinBidderTime      = 10 * time.Millisecond
	DefaultPriceIncrement     = 10_000        // micros CPM: 0.01 in the auction currency
	DefaultMaxPrice           = 1_000_000_000 // micros CPM: 1000.00 in the auction currency
	MaxPriceLimit             = 1e15          // micros CPM: the most WithMaxPrice accepts (1e9 CPM)
	DefaultHealthWindow       = 10 * time.Second
	MinHealthWindow           = 10 * time.Millisecond // the shortest WithHealthWindow accepts
)

type config struct {
	bidders         []Bidder
	bidderTimeout   map[string]time.Duration
	bidderSeats     map[string][]string
	allTimeout      time.Duration
	defaultTMax     time.Duration
	maxTMax         time.Duration
	reserve         time.Duration
	minBidderTime   time.Duration
	converter       CurrencyConverter
	increment       int64
	maxPrice        int64
	preferDeals     bool
	podSeparation   PodSeparation
	hooks           []Hook
	logger          *slog.Logger
	clock           Clock
	healthWindow    time.Duration
	throttle        *Throttle
	clearingTime    time.Duration
	clearingFixed   bool // WithClearingTime was given
	unknownAccounts UnknownAccountPolicy
	profiles        ProfileStore
	profileTimeout  time.Duration
	profileKeys     []ProfileKey
	ledger          Ledger
	account         AccountFunc
	holdTTL         time.Duration
	pacer           Pacer
	budgets         []Budget
	sink            EventSink
	codec           Codec // nil: StdCodec; see WithCodec
	optionErrors
}

func defaultConfig() config {
	return config{
		defaultTMax:    DefaultTMax,
		maxTMax:        DefaultMaxTMax,
		reserve:        DefaultReserve,
		minBidderTime:  DefaultMinBidderTime,
		increment:      DefaultPriceIncrement,
		maxPrice:       DefaultMaxPrice,
		healthWindow:   DefaultHealthWindow,
		clock:          systemClock{},
		clearingTime:   DefaultClearingTime,
		profileTimeout: DefaultProfileTimeout,
		profileKeys:    []ProfileKey{ProfileKeyUserID},
		account:        BidderAccount,
		holdTTL:        DefaultHoldTTL,
		podSeparation:  DefaultPodSeparation,
	}
}

// optionErrors collects what a constructor finds wrong with its options,
// so that it reports every problem at once.
type optionErrors []error

// fail records a problem; the message follows ErrInvalidOption's.
func (e *optionErrors) fail(format string, args ...any) {
	*e = append(*e, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...))
}

// err returns the problems joined, or nil.
func (e optionErrors) err() error { return errors.Join(e...) }

// WithBidders adds bidders to the auction. Every auction calls each bidder
// that is eligible for it (see Run). Names must be non-empty and unique;
// New fails otherwise. An Auction without bidders is valid and never bids.
func WithBidders(bidders ...Bidder) Option {
	return optionFunc(func(c *config) { c.bidders = append(c.bidders, bidders...) })
}

// WithBidderTimeout caps the time the named bidder gets in every auction at
// d, measured from the fan-out. Without it a bidder gets all the time left
// until the auction deadline (see WithAllBiddersTimeout). It overrides
// WithAllBiddersTimeout for that bidder. The tmax the bidder is sent is the
// time it really has.
func WithBidderTimeout(name string, d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.fail("bidder timeout for %q must be positive, got %v", name, d)
			return
		}
		if c.bidderTimeout == nil {
			c.bidderTimeout = make(map[string]time.Duration)
		}
		c.bidderTimeout[name] = d
	})
}

// WithBidderSeats lets the named bidder bid for the given seats, besides
// its own name. A bidder answers for a seat in seatbid.seat, which it
// writes itself, so by default it may bid only for its own name (or leave
// the seat empty): a bid for any other seat loses with LossSeatNotAllowed,
// is counted in Stats.SeatRefusals and never reaches the Ledger, so that no
// bidder can spend another's money. Seats must not be empty. Given more
// than once for a bidder, the seats add up. Default: none.
func WithBidderSeats(name string, seats ...string) Option {
	return optionFunc(func(c *config) {
		for _, s := range seats {
			if s == "" {
				c.fail("empty seat for bidder %q", name)
				return
			}
		}
		if c.bidderSeats == nil {
			c.bidderSeats = make(map[string][]string)
		}
		c.bidderSeats[name] = append(c.bidderSeats[name], seats...)
	})
}

// WithAllBiddersTimeout caps the time every bidder gets at d, unless
// WithBidderTimeout names it. Default: no cap, bidders get all the time left
// until the auction deadline.
func WithAllBiddersTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.fail("bidders timeout must be positive, got %v", d)
			return
		}
		c.allTimeout = d
	})
}

// WithDefaultTMax sets the auction time for requests without tmax.
// Default DefaultTMax (100ms). It must not exceed WithMaxTMax.
func WithDefaultTMax(d time.Duration) Option {
	return optionFunc(func(c *config) { c.defaultTMax = d })
}

// WithMaxTMax caps the auction time whatever tmax the request asks for.
// Default DefaultMaxTMax (1s).
func WithMaxTMax(d time.Duration) Option {
	return optionFunc(func(c *config) { c.maxTMax = d })
}

// WithReserve sets the time kept back from the auction deadline for the
// caller's work after Run returns (building and writing its response): Run
// returns by the earliest of ctx's deadline and start + tmax, less the
// reserve. Default DefaultReserve (5ms).
func WithReserve(d time.Duration) Option {
	return optionFunc(func(c *config) { c.reserve = d })
}

// WithClearingTime sets the time Run keeps for itself after the fan-out:
// validating bids, clearing and reserving budget. Bidders are waited for
// until Run's deadline less this time; the Ledger gets what is left until
// the deadline. Default DefaultClearingTime (1ms) with no Ledger or one
// that is NonBlocking; with any other Ledger (a remote one), by default the
// clearing time follows the ledger's observed latency: twice the 99th
// percentile of what its last 2048 reservations took from the end of the
// fan-out, plus DefaultClearingTime, between MinRemoteClearingTime (5ms)
// and MaxClearingTime (20ms), and DefaultRemoteClearingTime (20ms) until
// 32 reservations have been seen. Given, d is used as it is, whatever the
// ledger.
func WithClearingTime(d time.Duration) Option {
	return optionFunc(func(c *config) { c.clearingTime, c.clearingFixed = d, true })
}

// WithMinBidderTime sets the least time a bidder must have left at fan-out
// to be called at all; a bidder with less is skipped with
// StatusSkippedNoTime. Default DefaultMinBidderTime (10ms).
func WithMinBidderTime(d time.Duration) Option {
	return optionFunc(func(c *config) { c.minBidderTime = d })
}

// WithCurrencyConverter lets bids and floors in other currencies take part,
// converted to the auction currency. Without it, a bid in a currency other
// than the auction currency loses with LossCurrency and a floor in another
// currency makes the request invalid.
func WithCurrencyConverter(cc CurrencyConverter) Option {
	return optionFunc(func(c *config) { c.converter = cc })
}

// WithPriceIncrement sets what a second-price winner pays above the price
// that it had to beat, in micros of CPM. Default DefaultPriceIncrement
// (10_000, that is 0.01 CPM). A winner never pays more than its own bid.
func WithPriceIncrement(micros int64) Option {
	return optionFunc(func(c *config) {
		if micros < 0 {
			c.fail("price increment must not be negative, got %d", micros)
			return
		}
		c.increment = micros
	})
}

// WithMaxPrice sets the highest price a bid may have, in micros of CPM; a
// bid above it loses with LossPriceAboveMax. It guards against bidders that
// lie or err by orders of magnitude. It must be positive and at most
// MaxPriceLimit. Default DefaultMaxPrice (1_000_000_000, that is 1000.00
// CPM).
func WithMaxPrice(micros int64) Option {
	return optionFunc(func(c *config) {
		if micros <= 0 || micros > MaxPriceLimit {
			c.fail("max price must be in (0, %d] micros, got %d", int64(MaxPriceLimit), micros)
			return
		}
		c.maxPrice = micros
	})
}

// WithPreferDeals makes every eligible deal bid rank above every open-market
// bid of the same imp, whatever their prices; open bids then lose with
// LossLostToDealBid. Default false: deal and open bids rank by price alone.
func WithPreferDeals(prefer bool) Option {
	return optionFunc(func(c *config) { c.preferDeals = prefer })
}

// WithPodSeparation sets what two winners of one ad pod may not share
// (OpenRTB 2.6 §7.6, see pods.go): the slots of a structured pod (imps of
// one video.podid) and the ads of a dynamic pod (video.poddur). A bid that
// would share an advertiser domain or an IAB category with a winner of its
// pod loses with LossCompetitiveSeparation. 0 separates nothing; a value
// with bits other than SeparateAdvertisers and SeparateCategories makes
// New fail. Default DefaultPodSeparation: both.
func WithPodSeparation(s PodSeparation) Option {
	return optionFunc(func(c *config) {
		if s&^DefaultPodSeparation != 0 {
			c.fail("unknown pod separation %#x", uint8(s))
			return
		}
		c.podSeparation = s
	})
}

// WithHooks registers observability hooks. Each must implement at least one
// of the hook interfaces (AuctionStartHook, AuctionEndHook,
// BidderResponseHook, BidOutcomeHook, ...); New fails otherwise. Hooks run
// synchronously in Run and must be fast and safe for concurrent use.
func WithHooks(hooks ...Hook) Option {
	return optionFunc(func(c *config) { c.hooks = append(c.hooks, hooks...) })
}

// WithLogger sets the logger for rare events (a bidder panic, a failing
// store). Default: nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithClock sets the clock that bidder health and pacing read. Deadlines
// always follow real time, through contexts. Default: the system clock.
func WithClock(clk Clock) Option {
	return optionFunc(func(c *config) { c.clock = clk })
}

// WithHealthWindow sets the sliding window over which bidder health (latency,
// timeout and error rates) is measured. Default DefaultHealthWindow (10s).
func WithHealthWindow(d time.Duration) Option {
	return optionFunc(func(c *config) { c.healthWindow = d })
}

// WithThrottling enables throttling of unhealthy bidders by t; see Throttle.
// Default: bidders are never throttled.
func WithThrottling(t Throttle) Option {
	return optionFunc(func(c *config) { c.throttle = &t })
}

func (c *config) validate() error {
	c.validateTimes()
	if c.clock == nil {
		c.fail("clock must not be nil")
	}
	if c.throttle != nil {
		c.throttle.validate(&c.optionErrors)
	}
	c.validateBidders()
	c.validateBudgets()
	return c.err()
}

// validateTimes checks the auction's durations against each other.
func (c *config) validateTimes() {
	switch {
	case c.defaultTMax <= 0:
		c.fail("default tmax must be positive, got %v", c.defaultTMax)
	case c.maxTMax <= 0:
		c.fail("max tmax must be positive, got %v", c.maxTMax)
	case c.defaultTMax > c.maxTMax:
		c.fail("default tmax %v exceeds max tmax %v", c.defaultTMax, c.maxTMax)
	}
	if c.reserve < 0 {
		c.fail("reserve must not be negative, got %v", c.reserve)
	}
	if c.clearingTime < 0 {
		c.fail("clearing time must not be negative, got %v", c.clearingTime)
	}
	if c.minBidderTime < 0 {
		c.fail("min bidder time must not be negative, got %v", c.minBidderTime)
	}
	if c.healthWindow < MinHealthWindow {
		c.fail("health window must be at least %v, got %v", MinHealthWindow, c.healthWindow)
	}
}

// validateBidders requires every bidder to have a name of its own, and
// every per-bidder option to name a bidder.
func (c *config) validateBidders() {
	seen := make(map[string]bool, len(c.bidders))
	for i, b := range c.bidders {
		if b == nil {
			c.fail("bidder %d is nil", i)
			continue
		}
		name, ok := bidderName(b)
		if !ok {
			c.fail("bidder %d (%T) panicked in Name, a nil pointer?", i, b)
			continue
		}
		if name == "" {
			c.fail("bidder %d has an empty name", i)
		}
		if seen[name] {
			c.fail("bidder name %q is not unique", name)
		}
		seen[name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(c.bidderTimeout)) {
		if !seen[name] {
			c.fail("timeout for unknown bidder %q", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.bidderSeats)) {
		if !seen[name] {
			c.fail("seats for unknown bidder %q", name)
		}
	}
}

// bidderName calls b.Name, reporting false when it panics, as a nil pointer
// of a bidder type does.
func bidderName(b Bidder) (name string, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return b.Name(), true
}

// WithEventSink reports every auction to sink as events: one auction event,
// one per bidder that was called (bid, no_bid, timeout or error), one per
// bid (win or loss) and, through Auction.Commit, one per billed impression.
// Run never waits for the sink: a sink that is not a NonBlockingSink (such
// as an *AsyncSink) is wrapped in an AsyncSink with its defaults, owned by
// the Auction and closed by Auction.Close. A NonBlockingSink passed here is
// used as it is and stays the caller's to close. Default: no events are
// built.
func WithEventSink(sink EventSink) Option {
	return optionFunc(func(c *config) { c.sink = sink })
}

// WithProfileStore enriches every request from store before the fan-out.
// Default: no enrichment.
func WithProfileStore(store ProfileStore) Option {
	return optionFunc(func(c *config) { c.profiles = store })
}

// WithProfileTimeout bounds a profile lookup; the fan-out waits for it at
// most d (and never past the auction's own deadline), then goes on without
// the profile. Default DefaultProfileTimeout (3ms).
func WithProfileTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.fail("profile timeout must be positive, got %v", d)
			return
		}
		c.profileTimeout = d
	})
}

// WithProfileKeys sets how a request's user is looked up: the first key
// that is not empty is used. Default: ProfileKeyUserID.
func WithProfileKeys(keys ...ProfileKey) Option {
	return optionFunc(func(c *config) { c.profileKeys = keys })
}

// WithLedger makes every winner reserve its cost (CostMicros: the clearing
// price per impression) on l before it wins. When the ledger refuses, the
// bid loses with LossBudget and the next eligible bid of the imp wins at its
// own recomputed clearing price. A failing or slow ledger fails closed:
// nothing is spent and the auction still returns on time (the Ledger gets
// the time left until Run's deadline; see WithClearingTime). Default: no
// ledger, bids are not budget-controlled.
func WithLedger(l Ledger) Option {
	return optionFunc(func(c *config) { c.ledger = l })
}

// WithAccounts sets how bids map to budget accounts. Default BidderAccount:
// every bid of a bidder spends the bidder's account, whatever seat it is
// for. SeatAccount charges each seat instead; only seats the bidder may use
// (WithBidderSeats) get that far.
func WithAccounts(f AccountFunc) Option {
	return optionFunc(func(c *config) { c.account = f })
}

// WithUnknownAccounts sets what happens to a winner whose account the
// Ledger has no budget for (ErrUnknownAccount): RefuseUnknownAccounts makes
// it lose with LossUnknownAccount, and the next bid of the imp is tried;
// AllowUnknownAccounts lets it win unbudgeted, with no hold. Either way it
// is counted (Stats.UnknownAccounts), told to the BudgetHooks, and logged
// on the Auction's logger at most once a minute per account. It is never
// taken for a ledger failure. Default RefuseUnknownAccounts.
func WithUnknownAccounts(p UnknownAccountPolicy) Option {
	return optionFunc(func(c *config) {
		if p != RefuseUnknownAccounts && p != AllowUnknownAccounts {
			c.fail("unknown account policy %d", p)
			return
		}
		c.unknownAccounts = p
	})
}

// WithHoldTTL sets how long a winner's hold lives: an impression not billed
// (Commit) or given back (Release) by then returns its money by itself. Set
// it longer than the delay of your billing notices. Default DefaultHoldTTL
// (15 minutes).
func WithHoldTTL(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.fail("hold ttl must be positive, got %v", d)
			return
		}
		c.holdTTL = d
	})
}

// WithPacer consults p before the fan-out, for every bidder with an account
// (WithAccounts): a bidder it holds back is not called (StatusPaced). Run
// tells p of every winner's cost, and Commit and Release of what changed.
// Default: no pacing.
func WithPacer(p Pacer) Option {
	return optionFunc(func(c *config) { c.pacer = p })
}

// WithBudgets declares budgets, each once: New gives every one of them to
// the Ledger (WithLedger) and to the Pacer (WithPacer), each of those that
// takes budgets (a BudgetSetter, as MemoryLedger and EvenPacer are), so
// that the same amount, period and pacing feed both; see Budget. Later
// calls add to earlier ones. New fails, changing nothing, when neither the
// Ledger nor the Pacer takes budgets, when an account is declared twice,
// or when a Budget is invalid (ErrInvalidBudget) or, with a Pacer that
// takes budgets, cannot be paced (ErrInvalidPacing). New then sets the
// budgets one by one with Auction.SetBudget and a background ctx (a remote
// Ledger bounds each call by its own timeout); if one fails, New returns
// its error and no Auction, and the budgets set before it stay set: setting
// them again changes nothing. Change budgets at run time with
// Auction.SetBudget. Default: none; the Ledger and the Pacer have the
// budgets they were given before.
func WithBudgets(budgets ...Budget) Option {
	return optionFunc(func(c *config) { c.budgets = append(c.budgets, budgets...) })
}

// DefaultHoldTTL is the default of WithHoldTTL.
const DefaultHoldTTL = 15 * time.Minute

// DefaultProfileTimeout is the default of WithProfileTimeout.
const DefaultProfileTimeout = 3 * time.Millisecond
