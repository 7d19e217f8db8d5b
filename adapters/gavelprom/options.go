package gavelprom

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// An Option configures a Metrics. Options are applied in order by New, which
// validates the result; a later option overrides an earlier one of the same
// kind.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	namespace   string
	registerer  prometheus.Registerer
	latency     []float64
	prices      []float64
	constLabels prometheus.Labels
	readTimeout time.Duration
	errs        []error
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%w: prometheus metrics: "+format, append([]any{gavel.ErrInvalidOption}, args...)...))
}

// Defaults of the options. The default buckets are those of
// DefaultLatencyBuckets and DefaultPriceBuckets; the default registerer is
// a new registry of the Metrics' own.
const (
	DefaultNamespace   = "gavel"
	DefaultReadTimeout = 2 * time.Second
)

// DefaultLatencyBuckets returns the default of WithLatencyBuckets, in
// seconds: from half a millisecond to a second, dense where RTB deadlines
// fall.
func DefaultLatencyBuckets() []float64 {
	return []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1}
}

// DefaultPriceBuckets returns the default of WithPriceBuckets, in micros
// of CPM: 0.10 to 100 in the auction currency.
func DefaultPriceBuckets() []int64 {
	return []int64{
		100_000, 250_000, 500_000, 1_000_000, 2_000_000, 3_000_000, 5_000_000,
		7_500_000, 10_000_000, 15_000_000, 20_000_000, 30_000_000, 50_000_000, 100_000_000,
	}
}

// WithNamespace sets the prefix of every metric name, followed by an
// underscore. "" leaves the names without prefix. It must be a classic
// (ASCII) metric name, [a-zA-Z_:][a-zA-Z0-9_:]*, so that every scraper can
// read the names. Default DefaultNamespace ("gavel").
func WithNamespace(ns string) Option {
	return optionFunc(func(c *config) {
		if ns != "" && !model.LegacyValidation.IsValidMetricName(ns) {
			c.fail("namespace %q is not a classic metric name", ns)
			return
		}
		c.namespace = ns
	})
}

// WithRegisterer registers the metrics with r instead of a registry of the
// Metrics' own; Metrics.Registry then returns nil. Pass
// prometheus.DefaultRegisterer to use the global registry: it is never used
// unless asked for. Default: a new prometheus.Registry.
func WithRegisterer(r prometheus.Registerer) Option {
	return optionFunc(func(c *config) {
		if r == nil {
			c.fail("registerer must not be nil")
			return
		}
		c.registerer = r
	})
}

// WithLatencyBuckets sets the upper bounds, in seconds, of the duration
// histograms (auctions, bidder calls, profile lookups). They must be
// positive and strictly increasing; the slice is copied. Default
// DefaultLatencyBuckets(): from half a millisecond to a second, dense where
// RTB deadlines fall: 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
// 0.075, 0.1, 0.15, 0.2, 0.3, 0.5 and 1.
func WithLatencyBuckets(seconds ...float64) Option {
	return optionFunc(func(c *config) {
		if !increasing(seconds) {
			c.fail("latency buckets must be positive and strictly increasing, got %v", seconds)
			return
		}
		c.latency = slices.Clone(seconds)
	})
}

// WithPriceBuckets sets the upper bounds, in micros of CPM, of the clearing
// price histogram. They must be positive and strictly increasing. Default
// DefaultPriceBuckets(): 0.10, 0.25, 0.50, 1, 2, 3, 5, 7.50, 10, 15, 20, 30, 50 and 100 in the
// auction currency (100_000 to 100_000_000 micros).
func WithPriceBuckets(micros ...int64) Option {
	return optionFunc(func(c *config) {
		b := make([]float64, len(micros))
		for i, m := range micros {
			b[i] = float64(m)
		}
		if !increasing(b) {
			c.fail("price buckets must be positive and strictly increasing, got %v", micros)
			return
		}
		c.prices = b
	})
}

// WithConstLabels adds labels with fixed values to every metric, for
// example the exchange instance or region. Their names must not be one of
// the variable labels (bidder, status, reason, outcome, nbr, account,
// result) and must be classic (ASCII) label names, [a-zA-Z_][a-zA-Z0-9_]*;
// New fails otherwise. The map is copied. Default: none.
func WithConstLabels(labels prometheus.Labels) Option {
	return optionFunc(func(c *config) {
		for name := range labels {
			if !model.LegacyValidation.IsValidLabelName(name) {
				c.fail("constant label %q is not a classic label name", name)
				return
			}
		}
		c.constLabels = maps.Clone(labels)
	})
}

// WithReadTimeout bounds the Balance calls that one scrape makes for the
// accounts of WatchLedger, all together. Accounts not read by then are left
// out of that scrape and counted in ledger_read_errors_total. Default
// DefaultReadTimeout (2s).
func WithReadTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.fail("read timeout must be positive, got %v", d)
			return
		}
		c.readTimeout = d
	})
}

func increasing(b []float64) bool {
	if len(b) == 0 {
		return false
	}
	for i, v := range b {
		if !(v > 0) || (i > 0 && v <= b[i-1]) {
			return false
		}
	}
	return true
}
