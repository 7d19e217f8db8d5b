package gavelredis

import (
	"errors"
	"log/slog"
	"time"

	"github.com/gavelrtb/gavel"
)

// A LedgerOption configures a Ledger. NewLedger applies options in order;
// a later option overrides an earlier one of the same kind, except
// WithAccountMode and WithLedgerHooks, which add. WithKeyPrefix is a
// LedgerOption too.
type LedgerOption interface {
	applyLedger(*ledgerConfig)
}

type ledgerOptionFunc func(*ledgerConfig)

func (f ledgerOptionFunc) applyLedger(c *ledgerConfig) { f(c) }

// Defaults of the ledger options.
const (
	DefaultLeaseSlice     = 10_000_000 // micros: 10.00 in the account's currency
	DefaultLeaseTTL       = 10 * time.Second
	DefaultLeaseInterval  = 100 * time.Millisecond
	DefaultLedgerTimeout  = time.Second
	DefaultBalanceRefresh = time.Second
)

type ledgerConfig struct {
	prefix   string
	mode     Mode
	modes    map[string]Mode
	slice    int64
	leaseTTL time.Duration
	interval time.Duration
	timeout  time.Duration
	balances time.Duration // WithBalanceRefresh
	clock    gavel.Clock
	hooks    []LedgerErrorHook
	logger   *slog.Logger
	required bool // WithEpochRequired
	errs     []error
}

func (c *ledgerConfig) fail(format string, args ...any) {
	c.errs = append(c.errs, invalidOption(ledgerWhat, format, args...))
}

// WithLedgerMode sets the mode of every account that WithAccountMode does
// not name. Default ModeStrict.
func WithLedgerMode(m Mode) LedgerOption {
	return ledgerOptionFunc(func(c *ledgerConfig) { c.mode = m })
}

// WithAccountMode sets the mode of one account, whatever WithLedgerMode
// says; later calls add to earlier ones, and the last for an account
// wins. Default: none, every account in the ledger's mode.
func WithAccountMode(account string, m Mode) LedgerOption {
	return ledgerOptionFunc(func(c *ledgerConfig) {
		if c.modes == nil {
			c.modes = make(map[string]Mode)
		}
		c.modes[account] = m
	})
}

// WithLeaseSlice sets the most money (micros) a lease-mode process holds
// from one account at once: held by its holds, committed but not yet
// reported, or free to reserve. It bounds the overspend (see Ledger) and
// should cover what the process reserves in a few lease intervals plus
// its holds outstanding. Default DefaultLeaseSlice (10.00).
func WithLeaseSlice(micros int64) LedgerOption {
	return ledgerOptionFunc(func(c *ledgerConfig) { c.slice = micros })
}

// WithLeaseTTL sets how long a lease lives in Redis after its last
// renewal; the lease of a process that dies returns to its account then.
// A process stops reserving from a lease it has not renewed for three
// quarters of it. It must be at least 4 lease intervals. Default
// DefaultLeaseTTL (10s).
func WithLeaseTTL(d time.Duration) LedgerOption {
	return ledgerOptionFunc(func(c *ledgerConfig) { c.leaseTTL = d })
}

// WithLeaseInterval sets how often the background refresh looks at the
// leases: reports what was committed, renews leases and retries after a
// failure. Committed money is at most this old in Redis. Default
// DefaultLeaseInterval (100ms).
func WithLeaseInterval(d time.Duration) LedgerOption {
	return ledgerOptionFunc(func(c *ledgerConfig) { c.interval = d })
}

// WithLedgerTimeout bounds every call to Redis, whatever its ctx allows,
// but for the epoch marker's in SetBudget and Rearm, which get at least
// DefaultLedgerTimeout. Default DefaultLedgerTimeout (1s).
func WithLedgerTimeout(d time.Duration) LedgerOption {
	return ledgerOptionFunc(func(c *ledgerConfig) { c.timeout = d })
}

// WithBalanceRefresh sets how often the ledger reads again the balances
// it caches for CachedBalance (gavel.BalanceCache), for what other
// processes spent: those of the accounts asked for in the last two
// refreshes, in one round trip per 256 accounts. It must be positive. A
// cached balance not read again for more than two refreshes is not used.
// Default DefaultBalanceRefresh (1s).
func WithBalanceRefresh(d time.Duration) LedgerOption {
	return ledgerOptionFunc(func(c *ledgerConfig) { c.balances = d })
}

// WithLedgerClock sets the clock that computes daily periods and expires
// lease-mode holds, as gavel.WithLedgerClock does for a MemoryLedger; it
// must not be nil. Holds and leases in Redis expire by the Redis server's
// clock whatever it says. Default: the system clock.
func WithLedgerClock(clk gavel.Clock) LedgerOption {
	return ledgerOptionFunc(func(c *ledgerConfig) {
		if clk == nil {
			c.fail("ledger clock must not be nil")
			return
		}
		c.clock = clk
	})
}

// A LedgerHook observes a Ledger. It is any value that implements one or
// more of the ledger's hook interfaces (today LedgerErrorHook); register
// hooks with WithLedgerHooks.
type LedgerHook any

// LedgerErrorHook is told of every call to Redis that failed, with the
// operation, the account and the error, which names them too; and of
// every lease lost, with LedgerLease and an error wrapping ErrLeaseLost. A
// call canceled by its ctx is not a failure. It is called synchronously,
// possibly from many goroutines at once, and must be fast and safe for
// concurrent use.
type LedgerErrorHook interface {
	OnLedgerError(op LedgerOp, account string, err error)
}

// LedgerOp names what a Ledger was doing when a call to Redis failed.
type LedgerOp string

// The operations of a Ledger, as a LedgerErrorHook is told them.
const (
	LedgerReserve   LedgerOp = "reserve"
	LedgerCommit    LedgerOp = "commit"
	LedgerRelease   LedgerOp = "release"
	LedgerBalance   LedgerOp = "balance"
	LedgerSetBudget LedgerOp = "setbudget"
	LedgerLease     LedgerOp = "lease" // the background refresh of a lease
	LedgerEpoch     LedgerOp = "epoch" // reading or writing the epoch marker, or finding it lost (ErrLedgerLost)
	LedgerRestore   LedgerOp = "restore"
)

// WithLedgerHooks registers hooks (see LedgerHook); later calls add to
// earlier ones. NewLedger refuses a hook that implements no hook
// interface. Default: none.
func WithLedgerHooks(hooks ...LedgerHook) LedgerOption {
	return ledgerOptionFunc(func(c *ledgerConfig) {
		for _, h := range hooks {
			eh, ok := h.(LedgerErrorHook)
			if !ok {
				c.fail("hook %T implements no hook interface", h)
				continue
			}
			c.hooks = append(c.hooks, eh)
		}
	})
}

// WithLedgerLogger sets the logger of rare events: Redis found to have
// lost its state (an error, once per loss), a rearm. nil discards them.
// Default slog.Default().
func WithLedgerLogger(logger *slog.Logger) LedgerOption {
	return ledgerOptionFunc(func(c *ledgerConfig) {
		c.logger = logger
		if logger == nil {
			c.logger = discardLogger
		}
	})
}

// WithEpochRequired makes SetBudget refuse, with ErrLedgerLost, to write a
// budget on a Redis that has no epoch marker (see Ledger, Epoch), rather
// than write the first marker: a process that starts after Redis lost its
// state then cannot take the empty Redis for a new one. Rearm writes the
// first marker, once the operator knows the Redis is new or restored.
// Default: SetBudget writes the first marker.
func WithEpochRequired() LedgerOption {
	return ledgerOptionFunc(func(c *ledgerConfig) { c.required = true })
}

func newLedgerConfig(opts []LedgerOption) (ledgerConfig, error) {
	c := ledgerConfig{
		prefix:   DefaultKeyPrefix,
		clock:    ledgerWallClock{},
		slice:    DefaultLeaseSlice,
		leaseTTL: DefaultLeaseTTL,
		interval: DefaultLeaseInterval,
		timeout:  DefaultLedgerTimeout,
		balances: DefaultBalanceRefresh,
		logger:   slog.Default(),
	}
	for _, o := range opts {
		o.applyLedger(&c)
	}
	if c.mode != ModeStrict && c.mode != ModeLease {
		c.fail("unknown mode %v", c.mode)
	}
	for account, m := range c.modes {
		if m != ModeStrict && m != ModeLease {
			c.fail("unknown mode %v for account %q", m, account)
		}
	}
	if c.slice <= 0 || c.slice > MaxAmount {
		c.fail("lease slice must be in [1, %d], got %d", MaxAmount, c.slice)
	}
	if c.interval <= 0 {
		c.fail("lease interval must be positive, got %v", c.interval)
	}
	if c.leaseTTL < 4*c.interval {
		c.fail("lease ttl %v must be at least 4 lease intervals (%v)", c.leaseTTL, 4*c.interval)
	}
	if c.timeout <= 0 {
		c.fail("timeout must be positive, got %v", c.timeout)
	}
	if c.balances <= 0 {
		c.fail("balance refresh must be positive, got %v", c.balances)
	}
	return c, errors.Join(c.errs...)
}

func (c *ledgerConfig) modeOf(account string) Mode {
	if m, ok := c.modes[account]; ok {
		return m
	}
	return c.mode
}

// leases reports whether any account may be in lease mode.
func (c *ledgerConfig) leases() bool {
	if c.mode == ModeLease {
		return true
	}
	for _, m := range c.modes {
		if m == ModeLease {
			return true
		}
	}
	return false
}

type ledgerWallClock struct{}

func (ledgerWallClock) Now() time.Time { return time.Now() }
