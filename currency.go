package gavel

import (
	"fmt"
	"math"
)

// A CurrencyConverter gives exchange rates, so that bids and floors in other
// currencies can take part in an auction (WithCurrencyConverter). Rate
// returns how many units of to one unit of from buys; it must be safe for
// concurrent use and fast, since Run calls it on the hot path: keep the
// rates in memory and refresh them out of band. Rate returns an error
// wrapping ErrNoRate when it has no rate for the pair.
type CurrencyConverter interface {
	Rate(from, to string) (float64, error)
}

// RateFunc adapts a function to a CurrencyConverter.
type RateFunc func(from, to string) (float64, error)

// Rate returns f(from, to).
func (f RateFunc) Rate(from, to string) (float64, error) { return f(from, to) }

// convertMicros converts micros in currency from to currency to, rounding
// half away from zero.
func convertMicros(cc CurrencyConverter, micros int64, from, to string) (int64, error) {
	if cc == nil {
		return 0, fmt.Errorf("%w: %s to %s (no converter)", ErrNoRate, from, to)
	}
	rate, err := cc.Rate(from, to)
	if err != nil {
		return 0, err
	}
	if !(rate > 0) || math.IsInf(rate, 0) {
		return 0, fmt.Errorf("%w: %s to %s: bad rate %v", ErrNoRate, from, to, rate)
	}
	v := float64(micros) * rate
	if v >= 1e18 {
		return math.MaxInt64 / 2, nil // saturate as toMicros does
	}
	return int64(math.Round(v)), nil
}
