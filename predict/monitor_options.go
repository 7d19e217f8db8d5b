package predict

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gavelrtb/gavel"
)

// A MonitorOption configures a Monitor. NewMonitor applies the options in
// order and validates the result; a later option overrides an earlier one
// of the same kind, except WithMonitorHooks, which adds.
type MonitorOption interface {
	applyMonitor(*monitorConfig)
}

type monitorOptionFunc func(*monitorConfig)

func (f monitorOptionFunc) applyMonitor(c *monitorConfig) { f(c) }

// Defaults of the Monitor's options.
const (
	DefaultMonitorWindow         = 10 * time.Minute
	DefaultMonitorSlots          = 60
	MaxMonitorSlots              = 3600
	DefaultMonitorSample         = 10_000
	MaxMonitorSample             = 1_000_000
	DefaultMonitorCheckEvery     = 1000
	DefaultMonitorStatsInterval  = 10 * time.Second
	DefaultCalibrationLow        = 0.9
	DefaultCalibrationHigh       = 1.1
	DefaultEntropyDriftThreshold = 0.05
	DefaultDriftMinPositives     = 1000
)

type monitorConfig struct {
	clock         gavel.Clock
	window        time.Duration
	slots         int
	sample        int
	checkEvery    int
	statsInterval time.Duration
	calLow        float64
	calHigh       float64
	neThreshold   float64
	minPositives  int
	statsHooks    []StatsHook
	driftHooks    []DriftHook
	errs          []error
}

func defaultMonitorConfig() monitorConfig {
	return monitorConfig{
		clock:         monitorSystemClock{},
		window:        DefaultMonitorWindow,
		slots:         DefaultMonitorSlots,
		sample:        DefaultMonitorSample,
		checkEvery:    DefaultMonitorCheckEvery,
		statsInterval: DefaultMonitorStatsInterval,
		calLow:        DefaultCalibrationLow,
		calHigh:       DefaultCalibrationHigh,
		neThreshold:   DefaultEntropyDriftThreshold,
		minPositives:  DefaultDriftMinPositives,
	}
}

func (c *monitorConfig) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%w: "+format, append([]any{gavel.ErrInvalidOption}, args...)...))
}

func (c *monitorConfig) err() error { return errors.Join(c.errs...) }

// validate checks the options that depend on each other.
func (c *monitorConfig) validate() {
	if c.slots >= 1 && c.slots <= MaxMonitorSlots && c.window > 0 && c.window/time.Duration(c.slots) < time.Millisecond {
		c.fail("monitor window %v is too short for %d slots: a slot must last at least 1ms", c.window, c.slots)
	}
}

type monitorSystemClock struct{}

func (monitorSystemClock) Now() time.Time { return time.Now() }

// WithMonitorClock sets the clock that places observations in the window
// (default: the system clock). The auctiontest package has a clock that
// tests move by hand.
func WithMonitorClock(c gavel.Clock) MonitorOption {
	return monitorOptionFunc(func(cfg *monitorConfig) {
		if c == nil {
			cfg.fail("monitor clock must not be nil")
			return
		}
		cfg.clock = c
	})
}

// WithMonitorWindow sets the window the statistics cover and the number of
// slots it is divided into (default DefaultMonitorWindow in
// DefaultMonitorSlots slots of 10s). A slot lasts at least 1ms; slots is
// at most MaxMonitorSlots. More slots make the window end more sharply and
// cost more to snapshot.
func WithMonitorWindow(window time.Duration, slots int) MonitorOption {
	return monitorOptionFunc(func(cfg *monitorConfig) {
		if window <= 0 {
			cfg.fail("monitor window must be positive, got %v", window)
		}
		if slots < 1 || slots > MaxMonitorSlots {
			cfg.fail("monitor slots must be in [1, %d], got %d", MaxMonitorSlots, slots)
		}
		cfg.window, cfg.slots = window, slots
	})
}

// WithMonitorSample sets how many observations of the window AUC is
// computed on (default DefaultMonitorSample, at most MaxMonitorSample):
// each slot keeps a uniform reservoir sample of sample/slots, rounded up,
// of its observations. Snapshot sorts the sample.
func WithMonitorSample(sample int) MonitorOption {
	return monitorOptionFunc(func(cfg *monitorConfig) {
		if sample < 1 || sample > MaxMonitorSample {
			cfg.fail("monitor sample must be in [1, %d], got %d", MaxMonitorSample, sample)
			return
		}
		cfg.sample = sample
	})
}

// WithMonitorCheckEvery sets how often, in observations, Observe checks
// for drift (default DefaultMonitorCheckEvery). A check adds up the slots'
// sums, without the AUC sample.
func WithMonitorCheckEvery(n int) MonitorOption {
	return monitorOptionFunc(func(cfg *monitorConfig) {
		if n < 1 {
			cfg.fail("monitor check interval must be at least 1 observation, got %d", n)
			return
		}
		cfg.checkEvery = n
	})
}

// WithMonitorStatsInterval sets how often the StatsHooks are called
// (default DefaultMonitorStatsInterval): the first Observe after each
// interval on the Monitor's clock calls them with a Snapshot.
func WithMonitorStatsInterval(d time.Duration) MonitorOption {
	return monitorOptionFunc(func(cfg *monitorConfig) {
		if d <= 0 {
			cfg.fail("monitor stats interval must be positive, got %v", d)
			return
		}
		cfg.statsInterval = d
	})
}

// WithCalibrationBand sets the band calibration must stay in, [low, high]
// (default DefaultCalibrationLow to DefaultCalibrationHigh); leaving it is
// a drift. 0 < low <= 1 <= high.
func WithCalibrationBand(low, high float64) MonitorOption {
	return monitorOptionFunc(func(cfg *monitorConfig) {
		if !(low > 0 && low <= 1 && high >= 1) || math.IsInf(high, 1) {
			cfg.fail("calibration band must satisfy 0 < low <= 1 <= high < +Inf, got [%v, %v]", low, high)
			return
		}
		cfg.calLow, cfg.calHigh = low, high
	})
}

// WithEntropyDriftThreshold sets the relative rise of normalised entropy
// over the baseline's (SetBaseline) that is a drift (default
// DefaultEntropyDriftThreshold, +5%). It must be positive.
func WithEntropyDriftThreshold(rel float64) MonitorOption {
	return monitorOptionFunc(func(cfg *monitorConfig) {
		if !(rel > 0) || math.IsInf(rel, 1) {
			cfg.fail("entropy drift threshold must be positive and finite, got %v", rel)
			return
		}
		cfg.neThreshold = rel
	})
}

// WithDriftMinPositives sets how many positive observations the window
// must hold before drift is checked (default DefaultDriftMinPositives): a
// rate measured on fewer is noise. 0 checks from the first observation.
func WithDriftMinPositives(n int) MonitorOption {
	return monitorOptionFunc(func(cfg *monitorConfig) {
		if n < 0 {
			cfg.fail("drift min positives must not be negative, got %d", n)
			return
		}
		cfg.minPositives = n
	})
}

// WithMonitorHooks adds hooks: each must implement StatsHook, DriftHook or
// both. Hooks are called synchronously from Observe (see Monitor), so they
// must be fast and safe for concurrent use.
func WithMonitorHooks(hooks ...any) MonitorOption {
	return monitorOptionFunc(func(cfg *monitorConfig) {
		for _, h := range hooks {
			s, isStats := h.(StatsHook)
			d, isDrift := h.(DriftHook)
			if isStats {
				cfg.statsHooks = append(cfg.statsHooks, s)
			}
			if isDrift {
				cfg.driftHooks = append(cfg.driftHooks, d)
			}
			if !isStats && !isDrift {
				cfg.fail("monitor hook %T implements neither StatsHook nor DriftHook", h)
			}
		}
	})
}
