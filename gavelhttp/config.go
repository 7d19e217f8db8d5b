package gavelhttp

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/gavelrtb/gavel"
)

// ErrInvalidConfig is wrapped by the *ConfigError that ParseConfig and
// LoadConfig return for a config with unknown fields or bad values, and by
// the errors of the Config methods that build options from it.
var ErrInvalidConfig = errors.New("gavelhttp: invalid config")

// ConfigError lists every problem found in a config, each prefixed with
// the JSON path of its field (bidders[1].timeout: ...), or naming an
// unknown field (unknown field "bidders[0].endpont"). A field given twice
// is a problem too. It wraps ErrInvalidConfig.
type ConfigError struct {
	File     string   // the file read by LoadConfig; "" for ParseConfig
	Problems []string // unknown fields and values of the wrong type first, in the order of the JSON, then bad values
}

func (e *ConfigError) Error() string {
	prefix := ErrInvalidConfig.Error()
	if e.File != "" {
		prefix += " " + e.File
	}
	return prefix + ": " + strings.Join(e.Problems, "; ")
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// Config is an exchange's set-up, loaded from JSON (see the package
// documentation and ConfigSchema for every field, its default and its
// meaning). ParseConfig returns it with every default filled in and every
// value checked. The methods AuctionOptions, AuctionBudgets, Keys,
// NotifierOptions, NoticesOptions and HandlerOptions turn it into the
// options of gavel.New, NewKeys, NewNotifier, NewNotices and
// NewAuctionHandler. Stores and Events name what the embedder builds
// itself (the core module cannot import the Redis and Kafka adapters).
type Config struct {
	Auction AuctionConfig  `json:"auction"`
	Bidders []BidderConfig `json:"bidders"`
	Budgets []BudgetConfig `json:"budgets"`
	Stores  StoresConfig   `json:"stores"`
	Events  EventsConfig   `json:"events"`
	Notices NoticesConfig  `json:"notices"`
	Server  ServerConfig   `json:"server"`
}

// AuctionConfig holds the auction's options (gavel.With...). A zero
// duration marked "0: ..." means the option is not given.
type AuctionConfig struct {
	DefaultTMax     Duration        `json:"default_tmax"`     // WithDefaultTMax
	MaxTMax         Duration        `json:"max_tmax"`         // WithMaxTMax
	Reserve         Duration        `json:"reserve"`          // WithReserve
	ClearingTime    Duration        `json:"clearing_time"`    // WithClearingTime; 0: follows the ledger
	MinBidderTime   Duration        `json:"min_bidder_time"`  // WithMinBidderTime
	BidderTimeout   Duration        `json:"bidder_timeout"`   // WithAllBiddersTimeout; 0: until the deadline
	PriceIncrement  Micros          `json:"price_increment"`  // WithPriceIncrement, CPM
	MaxPrice        Micros          `json:"max_price"`        // WithMaxPrice, CPM
	PreferDeals     bool            `json:"prefer_deals"`     // WithPreferDeals
	PodSeparation   []string        `json:"pod_separation"`   // WithPodSeparation: advertisers, categories
	HealthWindow    Duration        `json:"health_window"`    // WithHealthWindow
	Throttle        *ThrottleConfig `json:"throttle"`         // WithThrottling; nil: never throttled
	HoldTTL         Duration        `json:"hold_ttl"`         // WithHoldTTL
	Accounts        string          `json:"accounts"`         // WithAccounts: bidder or seat
	UnknownAccounts string          `json:"unknown_accounts"` // WithUnknownAccounts: refuse or allow
	ProfileTimeout  Duration        `json:"profile_timeout"`  // WithProfileTimeout
	ProfileKeys     []string        `json:"profile_keys"`     // WithProfileKeys: user.id, user.buyeruid, eid:SOURCE
}

// ThrottleConfig is gavel.Throttle; a field left 0 takes the core's
// default.
type ThrottleConfig struct {
	MaxFailureRate float64 `json:"max_failure_rate"`
	MinCalls       int64   `json:"min_calls"`
	MinCallRate    float64 `json:"min_call_rate"`
}

// BidderConfig is one HTTP bidder (gavel.NewHTTPBidder).
type BidderConfig struct {
	Name            string            `json:"name"`              // its seat, unique
	Endpoint        string            `json:"endpoint"`          // absolute http or https URL
	Timeout         Duration          `json:"timeout"`           // WithBidderTimeout; 0: the auction's bidder_timeout
	Seats           []string          `json:"seats"`             // WithBidderSeats
	Gzip            bool              `json:"gzip"`              // WithHTTPGzipRequests
	Headers         map[string]string `json:"headers"`           // WithHTTPHeader
	MaxResponseSize int64             `json:"max_response_size"` // WithHTTPMaxResponseSize
	NoticeHosts     []string          `json:"notice_hosts"`      // WithBidderHosts
}

// BudgetConfig is one gavel.Budget. Exactly one of Amount and
// AmountMicros is given.
type BudgetConfig struct {
	Account      string     `json:"account"`
	Amount       *Micros    `json:"amount"`        // currency units, exact: "500.00"
	AmountMicros *int64     `json:"amount_micros"` // the same in micros
	Period       string     `json:"period"`        // daily or total; default daily, total for a flight
	TimeZone     string     `json:"time_zone"`     // IANA name of a daily period's zone; default UTC
	Reset        Duration   `json:"reset"`         // a daily period starts this long after midnight
	Start        *time.Time `json:"start"`         // a flight's start, RFC 3339
	End          *time.Time `json:"end"`           // a flight's end, RFC 3339
	Pacing       string     `json:"pacing"`        // even or asap; default even
}

// StoresConfig names the stores the embedder builds: each {"kind":
// "memory"} or {"kind": "redis", "addr": ..., "prefix": ...}; profiles and
// pacer may also be "none".
type StoresConfig struct {
	Ledger   StoreConfig `json:"ledger"`   // default memory
	Profiles StoreConfig `json:"profiles"` // default none
	Pacer    StoreConfig `json:"pacer"`    // default memory
}

// StoreConfig is one store.
type StoreConfig struct {
	Kind   string `json:"kind"`
	Addr   string `json:"addr"`   // redis: host:port; default DefaultRedisAddr
	Prefix string `json:"prefix"` // redis: key prefix; default DefaultRedisPrefix
}

// EventsConfig names the event sink the embedder builds.
type EventsConfig struct {
	Kind    string   `json:"kind"`    // none (default), jsonl or kafka
	File    string   `json:"file"`    // jsonl: the file appended to
	Brokers []string `json:"brokers"` // kafka: seed brokers, host:port
	Topic   string   `json:"topic"`   // kafka: the topic
}

// NoticesConfig sets up the signed billing notices (Keys, NewNotices) and
// the Notifier.
type NoticesConfig struct {
	BaseURL              string         `json:"base_url"` // where BillingHandler is reached; "": the embedder derives it
	Keys                 []KeyConfig    `json:"keys"`     // the newest last
	TokenTTL             Duration       `json:"token_ttl"`
	BillingTimeout       Duration       `json:"billing_timeout"`
	BilledMemory         int            `json:"billed_memory"`
	Notifier             NotifierConfig `json:"notifier"`
	AllowPrivateNetworks bool           `json:"allow_private_networks"`
	AllowedAddresses     []string       `json:"allowed_addresses"` // prefixes or addresses
}

// KeyConfig is one signing key. Exactly one of Secret, SecretEnv and
// SecretFile is given; Config.Keys reads the last two. The secret's bytes
// are the key, at least MinKeyBytes of them. A relative SecretFile is
// read from the working directory, as is every path of a config.
type KeyConfig struct {
	ID         string `json:"id"`
	Secret     string `json:"secret"`      // inline: for demos and tests only
	SecretEnv  string `json:"secret_env"`  // the environment variable holding it
	SecretFile string `json:"secret_file"` // the file holding it (one trailing newline dropped)
}

// NotifierConfig holds the Notifier's limits.
type NotifierConfig struct {
	Workers        int      `json:"workers"`
	Queue          int      `json:"queue"`
	PerHostLimit   int      `json:"per_host_limit"`
	Timeout        Duration `json:"timeout"`
	BillingRetries int      `json:"billing_retries"`
	RetryBackoff   Duration `json:"retry_backoff"`
}

// ServerConfig holds the server's address and the AuctionHandler's
// options.
type ServerConfig struct {
	Addr           string `json:"addr"`
	MaxInFlight    int    `json:"max_in_flight"`    // default DefaultMaxInFlightPerProc × GOMAXPROCS at parse time
	ShedStatus     int    `json:"shed_status"`      // 204 or 503
	MaxRequestSize int64  `json:"max_request_size"` // bytes
}

// Defaults of the config that no option of the packages holds.
const (
	DefaultServerAddr  = "127.0.0.1:8080"
	DefaultRedisAddr   = "127.0.0.1:6379"
	DefaultRedisPrefix = "gavel" // the Redis adapter's DefaultKeyPrefix
)

// defaultConfig is what a config holds before its JSON is read over it.
func defaultConfig() *Config {
	return &Config{
		Auction: AuctionConfig{
			DefaultTMax:     Duration(gavel.DefaultTMax),
			MaxTMax:         Duration(gavel.DefaultMaxTMax),
			Reserve:         Duration(gavel.DefaultReserve),
			MinBidderTime:   Duration(gavel.DefaultMinBidderTime),
			PriceIncrement:  gavel.DefaultPriceIncrement,
			MaxPrice:        gavel.DefaultMaxPrice,
			PodSeparation:   []string{"advertisers", "categories"},
			HealthWindow:    Duration(gavel.DefaultHealthWindow),
			HoldTTL:         Duration(gavel.DefaultHoldTTL),
			Accounts:        "bidder",
			UnknownAccounts: "refuse",
			ProfileTimeout:  Duration(gavel.DefaultProfileTimeout),
			ProfileKeys:     []string{"user.id"},
		},
		Stores: StoresConfig{
			Ledger:   StoreConfig{Kind: "memory"},
			Profiles: StoreConfig{Kind: "none"},
			Pacer:    StoreConfig{Kind: "memory"},
		},
		Events: EventsConfig{Kind: "none"},
		Notices: NoticesConfig{
			TokenTTL:       Duration(DefaultTokenTTL),
			BillingTimeout: Duration(DefaultBillingTimeout),
			BilledMemory:   DefaultBilledMemory,
			Notifier: NotifierConfig{
				Workers:        DefaultNotifierWorkers,
				Queue:          DefaultNotifierQueue,
				PerHostLimit:   DefaultPerHostLimit,
				Timeout:        Duration(DefaultNoticeTimeout),
				BillingRetries: DefaultBillingRetries,
				RetryBackoff:   Duration(DefaultRetryBackoff),
			},
		},
		Server: ServerConfig{
			Addr:           DefaultServerAddr,
			MaxInFlight:    DefaultMaxInFlightPerProc * runtime.GOMAXPROCS(0),
			ShedStatus:     DefaultShedStatus,
			MaxRequestSize: DefaultMaxRequestSize,
		},
	}
}

// ParseConfig reads a config from JSON, fills in the defaults of the
// fields it leaves out (a null counts as left out) and checks every value.
// It returns a *ConfigError (wrapping ErrInvalidConfig) that lists every
// unknown field and every bad value at once, each with its JSON path; or,
// for JSON that does not parse, the one syntax error with its line and
// column.
func ParseConfig(data []byte) (*Config, error) {
	c := defaultConfig()
	var w walker
	if w.root(data, c) {
		c.fillDefaults()
		c.validate(&w)
	}
	if len(w.problems) > 0 {
		return nil, &ConfigError{Problems: w.problems}
	}
	return c, nil
}

// LoadConfig reads the file at path and parses it with ParseConfig; its
// *ConfigError names the file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gavelhttp: load config: %w", err)
	}
	c, err := ParseConfig(data)
	var ce *ConfigError
	if errors.As(err, &ce) {
		ce.File = path
	}
	return c, err
}

// setDefaults sets a bidder's defaults.
func (b *BidderConfig) setDefaults() { b.MaxResponseSize = gavel.DefaultHTTPMaxResponseSize }

// fillDefaults fills the defaults that depend on other fields, and those
// of the fields of list elements that "" or 0 cannot mean otherwise.
func (c *Config) fillDefaults() {
	for i := range c.Budgets {
		b := &c.Budgets[i]
		if b.Period == "" {
			b.Period = "daily"
			if b.Start != nil || b.End != nil {
				b.Period = "total"
			}
		}
		if b.Pacing == "" {
			b.Pacing = "even"
		}
		if b.TimeZone == "" && b.Period == "daily" {
			b.TimeZone = "UTC"
		}
	}
	if t := c.Auction.Throttle; t != nil {
		t.MaxFailureRate = cmp.Or(t.MaxFailureRate, gavel.DefaultMaxFailureRate)
		t.MinCalls = cmp.Or(t.MinCalls, gavel.DefaultMinCalls)
		t.MinCallRate = cmp.Or(t.MinCallRate, gavel.DefaultMinCallRate)
	}
	for _, s := range []*StoreConfig{&c.Stores.Ledger, &c.Stores.Profiles, &c.Stores.Pacer} {
		if s.Kind == "redis" {
			s.Addr = cmp.Or(s.Addr, DefaultRedisAddr)
			s.Prefix = cmp.Or(s.Prefix, DefaultRedisPrefix)
		}
	}
}
