package gavelhttp

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gavelrtb/gavel"
)

// AuctionOptions returns the options of gavel.New that the config holds:
// its HTTP bidders (gavel.NewHTTPBidder with each one's gzip, headers and
// response cap) with their timeouts and seats, its budgets
// (gavel.WithBudgets, when there are any) and the auction section. It
// leaves out what the embedder builds from Stores and Events (the ledger,
// pacer, profile store, event sink) and its hooks: add them, or New
// refuses the budgets for want of a ledger or pacer that takes them. Each
// call makes new bidders. It returns an error wrapping ErrInvalidConfig
// naming every bidder or budget that cannot be built.
func (c *Config) AuctionOptions() ([]gavel.Option, error) {
	var errs []error
	var opts []gavel.Option
	for i, b := range c.Bidders {
		hb, err := gavel.NewHTTPBidder(b.Name, b.Endpoint, b.httpOptions()...)
		if err != nil {
			errs = append(errs, fmt.Errorf("bidders[%d]: %w", i, err))
			continue
		}
		opts = append(opts, gavel.WithBidders(hb))
		if b.Timeout > 0 {
			opts = append(opts, gavel.WithBidderTimeout(b.Name, time.Duration(b.Timeout)))
		}
		if len(b.Seats) > 0 {
			opts = append(opts, gavel.WithBidderSeats(b.Name, b.Seats...))
		}
	}
	budgets, err := c.AuctionBudgets()
	if err != nil {
		errs = append(errs, err)
	}
	if len(budgets) > 0 {
		opts = append(opts, gavel.WithBudgets(budgets...))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return append(opts, c.Auction.options()...), nil
}

func (b *BidderConfig) httpOptions() []gavel.HTTPOption {
	opts := []gavel.HTTPOption{gavel.WithHTTPGzipRequests(b.Gzip)}
	if b.MaxResponseSize > 0 {
		opts = append(opts, gavel.WithHTTPMaxResponseSize(b.MaxResponseSize))
	}
	for k, v := range b.Headers {
		opts = append(opts, gavel.WithHTTPHeader(k, v))
	}
	return opts
}

// options returns the auction section's options.
func (a *AuctionConfig) options() []gavel.Option {
	var sep gavel.PodSeparation
	for _, s := range a.PodSeparation {
		switch s {
		case "advertisers":
			sep |= gavel.SeparateAdvertisers
		case "categories":
			sep |= gavel.SeparateCategories
		}
	}
	opts := []gavel.Option{
		gavel.WithDefaultTMax(time.Duration(a.DefaultTMax)),
		gavel.WithMaxTMax(time.Duration(a.MaxTMax)),
		gavel.WithReserve(time.Duration(a.Reserve)),
		gavel.WithMinBidderTime(time.Duration(a.MinBidderTime)),
		gavel.WithPriceIncrement(int64(a.PriceIncrement)),
		gavel.WithMaxPrice(int64(a.MaxPrice)),
		gavel.WithPreferDeals(a.PreferDeals),
		gavel.WithPodSeparation(sep),
		gavel.WithHealthWindow(time.Duration(a.HealthWindow)),
		gavel.WithHoldTTL(time.Duration(a.HoldTTL)),
		gavel.WithProfileTimeout(time.Duration(a.ProfileTimeout)),
		gavel.WithProfileKeys(a.profileKeys()...),
	}
	if a.ClearingTime > 0 {
		opts = append(opts, gavel.WithClearingTime(time.Duration(a.ClearingTime)))
	}
	if a.BidderTimeout > 0 {
		opts = append(opts, gavel.WithAllBiddersTimeout(time.Duration(a.BidderTimeout)))
	}
	if t := a.Throttle; t != nil {
		opts = append(opts, gavel.WithThrottling(gavel.Throttle{
			MaxFailureRate: t.MaxFailureRate, MinCalls: t.MinCalls, MinCallRate: t.MinCallRate,
		}))
	}
	if a.Accounts == "seat" {
		opts = append(opts, gavel.WithAccounts(gavel.SeatAccount))
	}
	if a.UnknownAccounts == "allow" {
		opts = append(opts, gavel.WithUnknownAccounts(gavel.AllowUnknownAccounts))
	}
	return opts
}

func (a *AuctionConfig) profileKeys() []gavel.ProfileKey {
	keys := make([]gavel.ProfileKey, 0, len(a.ProfileKeys))
	for _, k := range a.ProfileKeys {
		switch {
		case k == "user.buyeruid":
			keys = append(keys, gavel.ProfileKeyBuyerUID)
		case strings.HasPrefix(k, eidPrefix):
			keys = append(keys, gavel.ProfileKeyEID(strings.TrimPrefix(k, eidPrefix)))
		default:
			keys = append(keys, gavel.ProfileKeyUserID)
		}
	}
	return keys
}

// AuctionBudgets returns the config's budgets, to give a ledger or pacer
// (gavel.BudgetSetter) or Auction.SetBudget. AuctionOptions includes them
// already (gavel.WithBudgets). It returns an error wrapping
// ErrInvalidConfig for a budget that gavel.Budget.Validate refuses.
func (c *Config) AuctionBudgets() ([]gavel.Budget, error) {
	out := make([]gavel.Budget, 0, len(c.Budgets))
	var errs []error
	for i := range c.Budgets {
		b, err := c.Budgets[i].Budget()
		if err != nil {
			errs = append(errs, fmt.Errorf("budgets[%d]: %w", i, err))
			continue
		}
		out = append(out, b)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return out, nil
}

// Budget returns b as a gavel.Budget, validated.
func (b *BudgetConfig) Budget() (gavel.Budget, error) {
	out := gavel.Budget{Account: b.Account}
	switch {
	case b.Amount != nil:
		out.Amount = int64(*b.Amount)
	case b.AmountMicros != nil:
		out.Amount = *b.AmountMicros
	}
	if b.Pacing == "asap" {
		out.Pacing = gavel.PacingASAP
	}
	if b.Period == "daily" {
		loc, err := time.LoadLocation(b.TimeZone)
		if err != nil {
			return gavel.Budget{}, err
		}
		out.Period = gavel.DailyPeriod(loc, time.Duration(b.Reset))
	}
	if b.Start != nil && b.End != nil {
		out.Start, out.End = *b.Start, *b.End
	}
	return out, out.Validate()
}

// Keys returns the notice signing keys, the newest last, reading each
// secret_env and secret_file now. It returns an error wrapping
// ErrInvalidConfig that names every key it cannot read or NewKeys
// refuses (no key, a secret shorter than MinKeyBytes).
func (c *Config) Keys() (*Keys, error) {
	var errs []error
	keys := make([]Key, 0, len(c.Notices.Keys))
	for i, k := range c.Notices.Keys {
		secret, err := k.secret()
		if err != nil {
			errs = append(errs, fmt.Errorf("notices.keys[%d]: %w", i, err))
			continue
		}
		keys = append(keys, Key{ID: k.ID, Secret: secret})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	ks, err := NewKeys(keys...)
	if err != nil {
		return nil, fmt.Errorf("%w: notices.keys: %w", ErrInvalidConfig, err)
	}
	return ks, nil
}

func (k *KeyConfig) secret() ([]byte, error) {
	switch {
	case k.SecretEnv != "":
		v, ok := os.LookupEnv(k.SecretEnv)
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", k.SecretEnv)
		}
		return []byte(v), nil
	case k.SecretFile != "":
		data, err := os.ReadFile(k.SecretFile)
		if err != nil {
			return nil, err
		}
		return []byte(strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")), nil
	}
	return []byte(k.Secret), nil
}

// NotifierOptions returns the options of NewNotifier that the config
// holds: the notifier's limits, the guard's allowances, and for each
// bidder with notice_hosts, WithBidderHosts. Add hooks yourself.
func (c *Config) NotifierOptions() []NotifierOption {
	n := &c.Notices
	opts := []NotifierOption{
		WithNotifierWorkers(n.Notifier.Workers),
		WithNotifierQueue(n.Notifier.Queue),
		WithPerHostLimit(n.Notifier.PerHostLimit),
		WithNoticeTimeout(time.Duration(n.Notifier.Timeout)),
		WithBillingRetries(n.Notifier.BillingRetries),
		WithRetryBackoff(time.Duration(n.Notifier.RetryBackoff)),
		WithAllowPrivateNetworks(n.AllowPrivateNetworks),
	}
	for _, a := range n.AllowedAddresses {
		p, _ := parsePrefix(a) // checked by ParseConfig; an invalid one NewNotifier refuses
		opts = append(opts, WithAllowedAddresses(p))
	}
	for _, b := range c.Bidders {
		if len(b.NoticeHosts) > 0 {
			opts = append(opts, WithBidderHosts(b.Name, b.NoticeHosts...))
		}
	}
	return opts
}

// NoticesOptions returns the options of NewNotices that the config holds:
// token TTL, billed memory and billing timeout.
func (c *Config) NoticesOptions() []NoticesOption {
	return []NoticesOption{
		WithTokenTTL(time.Duration(c.Notices.TokenTTL)),
		WithBilledMemory(c.Notices.BilledMemory),
		WithBillingTimeout(time.Duration(c.Notices.BillingTimeout)),
	}
}

// HandlerOptions returns the options of NewAuctionHandler that the config
// holds: in-flight bound, shed status and request size cap. Add
// WithNotices yourself.
func (c *Config) HandlerOptions() []HandlerOption {
	return []HandlerOption{
		WithMaxInFlight(c.Server.MaxInFlight),
		WithShedStatus(c.Server.ShedStatus),
		WithMaxRequestSize(c.Server.MaxRequestSize),
	}
}
