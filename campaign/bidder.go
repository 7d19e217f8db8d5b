package campaign

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// A Bidder bids for a set of campaigns in a gavel auction: it is a
// gavel.Bidder whose seats are the campaigns' accounts. It is safe for
// concurrent use: Bid takes no lock, and Set, Pause, Resume, Remove and
// Replace, which are serialized among themselves, swap in a new immutable
// snapshot of the campaigns, so that every Bid sees one consistent state.
// Build it with NewBidder; the zero Bidder is not usable.
type Bidder struct {
	name  string
	cfg   config
	snap  atomic.Pointer[snapshot]
	mu    sync.Mutex // serializes writers
	pool  sync.Pool  // *probe
	stats counters
}

// An Option configures a Bidder; see NewBidder.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	campaigns      []*Campaign
	clock          gavel.Clock
	predictor      Predictor
	observers      []BidObserver
	predictorHooks []PredictorErrorHook
	pacer          gavel.Pacer
	balances       gavel.BalanceCache
	budgets        []gavel.Budget
	accounts       map[string]bool // the budgets' accounts; nil: any account
	userKey        func(*openrtb2.BidRequest) string
	currency       string
	freq           FrequencyStore
	clickURL       func(ClickInfo) string
	recordTimeout  time.Duration
	nurl           string
	burl           string
	lurl           string
	errs           []error
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%w: campaign bidder: "+format, append([]any{gavel.ErrInvalidOption}, args...)...))
}

// WithUserKey sets how the Bidder finds the user of a request for
// frequency caps: key returns the user's id, "" for none. Only its hash
// is kept (BidID.User). Default UserID.
func WithUserKey(key func(*openrtb2.BidRequest) string) Option {
	return optionFunc(func(c *config) {
		if key == nil {
			c.fail("user key must not be nil")
			return
		}
		c.userKey = key
	})
}

// UserID is the default user key: user.id, or else user.buyeruid.
func UserID(req *openrtb2.BidRequest) string {
	if u := req.User; u != nil {
		if u.ID != "" {
			return u.ID
		}
		return u.BuyerUID
	}
	return ""
}

// DefaultCurrency is the default of WithCurrency.
const DefaultCurrency = "USD"

// WithCampaigns sets the campaigns the Bidder starts with. Default: none.
func WithCampaigns(cs ...*Campaign) Option {
	return optionFunc(func(c *config) { c.campaigns = append(c.campaigns, cs...) })
}

// WithClock sets the clock that flights and day-parting are checked
// against. Default: the system clock.
func WithClock(clk gavel.Clock) Option {
	return optionFunc(func(c *config) {
		if clk == nil {
			c.fail("clock must not be nil")
			return
		}
		c.clock = clk
	})
}

// WithPredictor sets the Predictor of CPC and CPA goals; if it is also a
// BidObserver, it observes every bid. Default FixedRates: each
// campaign's fallback rates.
func WithPredictor(p Predictor) Option {
	return optionFunc(func(c *config) {
		if p == nil {
			c.fail("predictor must not be nil")
			return
		}
		c.predictor = p
		if o, ok := p.(BidObserver); ok {
			c.observers = append(c.observers, o)
		}
	})
}

// WithBidObserver adds observers of every bid (see BidObserver), besides
// a Predictor that is one. Default: none.
func WithBidObserver(obs ...BidObserver) Option {
	return optionFunc(func(c *config) {
		for _, o := range obs {
			if o == nil {
				c.fail("bid observer must not be nil")
				continue
			}
			c.observers = append(c.observers, o)
		}
	})
}

// WithPacer makes the Bidder ask p, before bidding, whether each
// candidate campaign's account takes part in the auction; a campaign it
// holds back does not bid (Stats.Paced). Pass the Pacer given to the
// Auction (gavel.WithPacer): the Auction paces a bidder by one account,
// while this Bidder spends many. Default: no pacing.
func WithPacer(p gavel.Pacer) Option {
	return optionFunc(func(c *config) { c.pacer = p })
}

// WithBalances makes the Bidder read each candidate campaign's account
// balance from bc, without a round trip; a campaign whose account cannot
// pay for the imp at its floor does not bid on it (Stats.Unaffordable). An
// account bc does not know can. Pass the Auction's Ledger when it is a
// gavel.BalanceCache, as gavel.MemoryLedger is. Default: none.
func WithBalances(bc gavel.BalanceCache) Option {
	return optionFunc(func(c *config) { c.balances = bc })
}

// WithBudgets declares the budgets of the campaigns' accounts, each
// account once (see gavel.Budget). The Bidder does not enforce them: pass
// Budgets to gavel.WithBudgets and Accounts to gavel.WithBidderSeats. With
// budgets declared, a campaign whose account has none is refused (Set,
// Replace, NewBidder), since the Auction would not let the Bidder bid for
// it. Default: none, and campaigns may use any account.
func WithBudgets(budgets ...gavel.Budget) Option {
	return optionFunc(func(c *config) { c.budgets = append(c.budgets, budgets...) })
}

// WithCurrency sets the currency the Bidder bids in. It bids only on
// requests that allow it (cur; none means USD) and on floors in it (an
// empty bidfloorcur means USD). Default DefaultCurrency.
func WithCurrency(cur string) Option {
	return optionFunc(func(c *config) {
		if len(cur) != 3 {
			c.fail("currency must be an ISO-4217 code, got %q", cur)
			return
		}
		c.currency = cur
	})
}

// Placeholders that the Bidder fills in the notice URLs of WithNoticeURLs,
// query-escaped. OpenRTB macros such as ${AUCTION_PRICE} are left to the
// Auction.
const (
	BidIDMacro      = "{{BID_ID}}"
	CampaignIDMacro = "{{CAMPAIGN_ID}}"
	CreativeIDMacro = "{{CREATIVE_ID}}"
	AccountMacro    = "{{ACCOUNT}}"
)

// WithNoticeURLs sets the templates of every bid's nurl, burl and lurl;
// an empty template leaves that URL out. Default: none.
func WithNoticeURLs(nurl, burl, lurl string) Option {
	return optionFunc(func(c *config) { c.nurl, c.burl, c.lurl = nurl, burl, lurl })
}

// NewBidder returns a Bidder with the given seat name. It reports every
// problem at once, wrapping gavel.ErrInvalidOption: an empty name, an
// invalid option, an invalid budget or one declared twice, an invalid
// campaign (Campaign.Validate) or two with one ID.
func NewBidder(name string, opts ...Option) (*Bidder, error) {
	b := &Bidder{name: name, cfg: config{clock: systemClock{}, predictor: FixedRates, currency: DefaultCurrency, userKey: UserID, recordTimeout: DefaultRecordTimeout}}
	if name == "" {
		b.cfg.fail("name must not be empty")
	}
	for _, o := range opts {
		o.apply(&b.cfg)
	}
	b.cfg.checkBudgets()
	all := make(map[string]*Campaign, len(b.cfg.campaigns))
	errs := append(b.cfg.errs, b.check(b.cfg.campaigns, all)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	b.snap.Store(buildAll(all))
	b.pool.New = func() any { return new(probe) }
	b.cfg.campaigns = nil
	return b, nil
}

func (c *config) checkBudgets() {
	if len(c.budgets) == 0 {
		return
	}
	c.accounts = make(map[string]bool, len(c.budgets))
	for _, bg := range c.budgets {
		if err := bg.Validate(); err != nil {
			c.errs = append(c.errs, err)
		}
		if c.accounts[bg.Account] {
			c.fail("budget of account %q declared twice", bg.Account)
		}
		c.accounts[bg.Account] = true
	}
}

// check validates cs and adds them to all, returning every problem.
func (b *Bidder) check(cs []*Campaign, all map[string]*Campaign) []error {
	var errs []error
	seen := make(map[string]bool, len(cs))
	for _, c := range cs {
		if c == nil {
			errs = append(errs, fmt.Errorf("%w: nil campaign", gavel.ErrInvalidOption))
			continue
		}
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[c.ID] {
			errs = append(errs, fmt.Errorf("%w: campaign %q given twice", gavel.ErrInvalidOption, c.ID))
		}
		seen[c.ID] = true
		if len(c.Caps) > 0 && b.cfg.freq == nil {
			errs = append(errs, fmt.Errorf("%w: campaign %q has frequency caps but the bidder no FrequencyStore", gavel.ErrInvalidOption, c.ID))
		}
		if b.cfg.accounts != nil && !b.cfg.accounts[c.Account] {
			errs = append(errs, fmt.Errorf("%w: campaign %q: account %q has no budget", gavel.ErrInvalidOption, c.ID, c.Account))
		}
		all[c.ID] = c
	}
	return errs
}

// Name implements gavel.Bidder.
func (b *Bidder) Name() string { return b.name }

// Inline returns b marked gavel.NonBlocking, for an Auction to call it on
// Run's goroutine rather than start a goroutine (and wake a thread) per
// auction. Use it only when nothing b calls waits: its FrequencyStore is a
// MemoryFrequencyStore (or none), its Predictor computes in memory (as a
// predict.Predictor does) and its Pacer and balances are local (as
// gavel.EvenPacer and the gavelredis ones are). With a remote frequency
// store, b blocks on it and so would Run: pass b itself. The value returned
// has every method of b.
func (b *Bidder) Inline() gavel.Bidder { return inlineBidder{b} }

type inlineBidder struct{ *Bidder }

func (inlineBidder) NonBlocking() {}

// Budgets returns the budgets declared with WithBudgets, for
// gavel.WithBudgets.
func (b *Bidder) Budgets() []gavel.Budget { return slices.Clone(b.cfg.budgets) }

// Accounts returns the accounts of WithBudgets, sorted, for
// gavel.WithBidderSeats: the seats this Bidder bids for.
func (b *Bidder) Accounts() []string {
	as := make([]string, 0, len(b.cfg.budgets))
	for _, bg := range b.cfg.budgets {
		as = append(as, bg.Account)
	}
	slices.Sort(as)
	return as
}

// AccountFunc returns a gavel.AccountFunc for gavel.WithAccounts that
// charges this Bidder's bids to their seat, the campaign's account, and
// every other bidder's as other says.
func (b *Bidder) AccountFunc(other gavel.AccountFunc) gavel.AccountFunc {
	return func(bidder, seat string) string {
		if bidder == b.name {
			return seat
		}
		return other(bidder, seat)
	}
}

// Set adds campaigns, or replaces those with the same ID. It validates
// them all first and changes nothing if one is invalid, returning every
// problem at once.
func (b *Bidder) Set(cs ...*Campaign) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.snap.Load()
	all := s.copyAll()
	if errs := b.check(cs, all); len(errs) > 0 {
		return errors.Join(errs...)
	}
	b.snap.Store(build(all, s.withIDs(all), s))
	return nil
}

// Replace replaces all campaigns with cs, as Set validates them.
func (b *Bidder) Replace(cs ...*Campaign) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	all := make(map[string]*Campaign, len(cs))
	if errs := b.check(cs, all); len(errs) > 0 {
		return errors.Join(errs...)
	}
	s := b.snap.Load()
	b.snap.Store(build(all, slices.Sorted(maps.Keys(all)), s))
	return nil
}

// Remove removes the campaigns with the given IDs; unknown IDs are
// ignored. It returns the number removed.
func (b *Bidder) Remove(ids ...string) int {
	return b.edit(ids, func(all map[string]*Campaign, c *Campaign) { delete(all, c.ID) })
}

// Pause pauses the campaigns with the given IDs: they stay in the Bidder
// but do not bid. Unknown IDs are ignored. It returns the number changed.
func (b *Bidder) Pause(ids ...string) int { return b.setPaused(ids, true) }

// Resume lets paused campaigns bid again, as Pause does the reverse.
func (b *Bidder) Resume(ids ...string) int { return b.setPaused(ids, false) }

func (b *Bidder) setPaused(ids []string, paused bool) int {
	return b.edit(ids, func(all map[string]*Campaign, c *Campaign) {
		if c.Paused != paused {
			cc := *c
			cc.Paused = paused
			all[c.ID] = &cc
		}
	})
}

func (b *Bidder) edit(ids []string, f func(map[string]*Campaign, *Campaign)) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.snap.Load()
	all := s.copyAll()
	n := 0
	for _, id := range ids {
		if c := all[id]; c != nil {
			f(all, c)
			if all[id] != c {
				n++
			}
		}
	}
	if n > 0 {
		b.snap.Store(build(all, s.withIDs(all), s))
	}
	return n
}

// Campaign returns the campaign with the given ID as the Bidder has it
// now, and whether there is one. Do not modify it.
func (b *Bidder) Campaign(id string) (*Campaign, bool) {
	c := b.snap.Load().all[id]
	return c, c != nil
}

// Campaigns returns the campaigns, paused ones included, sorted by ID.
// Do not modify them.
func (b *Bidder) Campaigns() []*Campaign {
	s := b.snap.Load()
	cs := make([]*Campaign, len(s.ids))
	for i, id := range s.ids {
		cs[i] = s.all[id]
	}
	return cs
}
