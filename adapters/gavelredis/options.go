package gavelredis

import (
	"fmt"
	"strings"

	"github.com/gavelrtb/gavel"
)

// An Option configures any of a Ledger, a Pacer, a ProfileStore, a
// FrequencyStore and a ModelStore: it is a LedgerOption, a PacerOption, a
// ProfileOption, a FrequencyOption and a ModelOption at once. The options
// that concern one type only have that type's option type.
type Option interface {
	LedgerOption
	PacerOption
	ProfileOption
	FrequencyOption
	ModelOption
}

// DefaultKeyPrefix is the default of WithKeyPrefix.
const DefaultKeyPrefix = "gavel"

// WithKeyPrefix sets the prefix of every key that a Ledger, a Pacer, a
// ProfileStore or a FrequencyStore reads and writes. The prefix is a name
// without separator: the keys join it to the rest with ':', as
// "<prefix>:pacer:{acme}:state" (each type's documentation gives its key
// layout). Types with different prefixes share nothing; every process that
// shares budgets, pacing, profiles or frequency counts must use the same
// prefix. It must not be empty, contain '{' or
// '}' (they would change the Redis Cluster hash slot of the keys), nor end
// with ':'. Default DefaultKeyPrefix ("gavel").
func WithKeyPrefix(prefix string) Option {
	return keyPrefix(prefix)
}

type keyPrefix string

func (p keyPrefix) applyLedger(c *ledgerConfig) {
	c.prefix = string(p)
	if msg := checkPrefix(c.prefix); msg != "" {
		c.errs = append(c.errs, invalidOption(ledgerWhat, "%s", msg))
	}
}

func (p keyPrefix) applyPacer(c *pacerConfig) {
	c.prefix = string(p)
	if msg := checkPrefix(c.prefix); msg != "" {
		c.errs = append(c.errs, invalidOption(pacerWhat, "%s", msg))
	}
}

func (p keyPrefix) applyProfile(c *profileConfig) {
	c.prefix = string(p)
	if msg := checkPrefix(c.prefix); msg != "" {
		c.errs = append(c.errs, invalidOption(profileWhat, "%s", msg))
	}
}

// checkPrefix says why prefix cannot be a key prefix, or returns "".
func checkPrefix(prefix string) string {
	switch {
	case prefix == "":
		return "key prefix must not be empty"
	case strings.ContainsAny(prefix, "{}"):
		return fmt.Sprintf("key prefix %q must not contain braces", prefix)
	case strings.HasSuffix(prefix, ":"):
		return fmt.Sprintf("key prefix %q must not end with ':': the keys add the separator", prefix)
	}
	return ""
}

// What the errors of each type say they are about.
const (
	ledgerWhat  = "redis ledger"
	pacerWhat   = "redis pacer"
	profileWhat = "redis profile store"
)

// invalidOption returns an error wrapping gavel.ErrInvalidOption about an
// option of what: "gavel: invalid option: <what>: <message>".
func invalidOption(what, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", gavel.ErrInvalidOption, what, fmt.Sprintf(format, args...))
}
