package gavel

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
)

// A Budget is what an account may spend, declared once: the same value
// feeds the Ledger, which never lets the account spend more, and the
// Pacer, which spreads the spend over the budget's period. Declare
// budgets with WithBudgets when the Auction is built, and change them with
// Auction.SetBudget; a Ledger or Pacer that takes budgets (a BudgetSetter)
// can also be given them directly.
//
// A Budget is one of three kinds:
//
//   - daily: Period is daily (DailyPeriod); Amount is renewed every day, and
//     a Pacer spreads it over each day;
//   - a flight: Period is total (the zero Period) and Start and End are
//     both set, End after Start; a Pacer spreads Amount over [Start, End),
//     while a Ledger, which does not look at dates, holds Amount as a total
//     budget;
//   - total: Period is total and Start and End are zero; Amount covers all
//     time. A Pacer has nothing to spread it over: it takes a total budget
//     only with PacingASAP (ErrInvalidPacing otherwise).
//
// The zero Budget is not valid: it has no Account. See Validate.
type Budget struct {
	Account string // the account the budget is for; not empty
	// Amount is the money of each period (daily), of the flight, or of all
	// time (total), in int64 micros of the account's currency: 500_000_000
	// is 500.00. It must not be negative; 0 closes the account.
	Amount int64
	Period Period // default: total

	// Start and End bound a flight; both zero otherwise (the default).
	Start, End time.Time

	Pacing Pacing // default PacingEven
}

// Pacing says how a Pacer spends a Budget over its period.
type Pacing uint8

const (
	// PacingEven spreads the budget over its period (or flight) along the
	// Pacer's target curve: by time, or by traffic (WithTrafficShape). A
	// budget declared during its period spreads what is left over what is
	// left of the period. The default.
	PacingEven Pacing = iota
	// PacingASAP lets the account take part in every auction: the budget
	// is spent as fast as the auctions go, and only the Ledger stops it.
	PacingASAP
)

func (p Pacing) String() string {
	switch p {
	case PacingEven:
		return "even"
	case PacingASAP:
		return "asap"
	}
	return "Pacing(" + strconv.Itoa(int(p)) + ")"
}

// A BudgetSetter takes budgets: MemoryLedger and EvenPacer are
// BudgetSetters, and so are the Redis adapter's Ledger and Pacer. It is an
// optional capability of a Ledger or a Pacer, which WithBudgets and
// Auction.SetBudget look for with a type assertion.
type BudgetSetter interface {
	// SetBudget creates b.Account's budget, or replaces it. It returns an
	// error wrapping ErrInvalidBudget, changing nothing, for a Budget that
	// Validate refuses; a Pacer also returns one wrapping ErrInvalidPacing
	// for a total budget with PacingEven. If ctx is done it returns
	// ctx.Err() and changes nothing; a remote implementation may also
	// return ctx.Err() when ctx ends during the call, in which case the
	// change may or may not have been made. Setting the same Budget again
	// changes nothing, so a failed call can be retried.
	SetBudget(ctx context.Context, b Budget) error
}

// Validate reports what makes b unusable, every problem at once, in an
// error wrapping ErrInvalidBudget: an empty Account, a negative Amount, a
// daily Period whose Reset is outside [0, 24h), Start without End or End
// without Start, a flight whose End is not after its Start, a flight with
// a daily Period, or an unknown Pacing. It returns nil for a valid Budget.
func (b Budget) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidBudget}, args...)...))
	}
	if b.Account == "" {
		bad("empty account")
	}
	if b.Amount < 0 {
		bad("negative amount %d for %q", b.Amount, b.Account)
	}
	if !b.Period.valid() {
		bad("daily reset %v for %q is outside [0, 24h)", b.Period.Reset, b.Account)
	}
	switch {
	case b.Start.IsZero() != b.End.IsZero():
		bad("flight of %q needs both a start and an end", b.Account)
	case !b.Start.IsZero() && !b.End.After(b.Start):
		bad("flight of %q ends at %v, not after its start %v", b.Account, b.End, b.Start)
	case !b.Start.IsZero() && b.Period.Daily:
		bad("flight of %q has a daily period; a flight's period is total", b.Account)
	}
	if b.Pacing != PacingEven && b.Pacing != PacingASAP {
		bad("unknown pacing %d for %q", b.Pacing, b.Account)
	}
	return errors.Join(errs...)
}

// flight reports whether b is a flight.
func (b Budget) flight() bool { return !b.Start.IsZero() }

// validatePacing is Validate for a Pacer: it also refuses an even budget
// with no end to spread it over.
func (b Budget) validatePacing() error {
	if err := b.Validate(); err != nil {
		return err
	}
	if b.Pacing == PacingEven && !b.Period.Daily && !b.flight() {
		return fmt.Errorf("%w: a total budget for %q has no end to spread it over; give it a flight (Start, End) or PacingASAP",
			ErrInvalidPacing, b.Account)
	}
	return nil
}

// fingerprint identifies what a Pacer's curve depends on: the Amount, the
// Period, the flight and the Pacing, not the Account. It is never 0.
func (b Budget) fingerprint() uint64 {
	var buf [96]byte
	s := strconv.AppendInt(buf[:0], b.Amount, 10)
	if b.Period.Daily {
		loc := b.Period.Location
		if loc == nil {
			loc = time.UTC
		}
		s = append(s, "/daily/"...)
		s = append(s, loc.String()...)
		s = append(s, '/')
		s = strconv.AppendInt(s, int64(b.Period.Reset), 10)
	}
	if b.flight() {
		s = append(s, "/flight/"...)
		s = strconv.AppendInt(s, b.Start.UnixNano(), 10)
		s = append(s, '/')
		s = strconv.AppendInt(s, b.End.UnixNano(), 10)
	}
	s = append(s, '/')
	s = strconv.AppendUint(s, uint64(b.Pacing), 10)
	return max(xxhash.Sum64(s), 1)
}

// budgetSetters returns the Ledger and the Pacer of the Auction's
// configuration that take budgets, either nil when it does not.
func (c *config) budgetSetters() (ledger, pacer BudgetSetter) {
	ledger, _ = c.ledger.(BudgetSetter)
	pacer, _ = c.pacer.(BudgetSetter)
	return ledger, pacer
}

// validateBudgets checks the budgets of WithBudgets: each valid (for the
// Pacer too, when it takes them), each account declared once, and someone
// to take them.
func (c *config) validateBudgets() {
	if len(c.budgets) == 0 {
		return
	}
	ledger, pacer := c.budgetSetters()
	if ledger == nil && pacer == nil {
		c.fail("budgets given, but neither the ledger nor the pacer takes budgets (BudgetSetter)")
	}
	seen := make(map[string]bool, len(c.budgets))
	for i, b := range c.budgets {
		var err error
		if pacer != nil {
			err = b.validatePacing()
		} else {
			err = b.Validate()
		}
		if err != nil {
			c.fail("budget %d: %w", i, err)
		}
		if b.Account != "" && seen[b.Account] {
			c.fail("budget for %q declared twice", b.Account)
		}
		seen[b.Account] = true
	}
}

// setBudgets gives the budgets of WithBudgets to the Ledger and the Pacer.
func (a *Auction) setBudgets() error {
	for _, b := range a.cfg.budgets {
		if err := a.SetBudget(context.Background(), b); err != nil {
			return err
		}
	}
	return nil
}

// SetBudget declares account b.Account's budget, or changes it, at run
// time: it gives b to the Ledger and then to the Pacer, each of those that
// takes budgets (BudgetSetter), as WithBudgets does when New builds the
// Auction. It is safe for concurrent use with Run; auctions see the new
// budget as soon as each of the two has it.
//
// It first validates b: it returns an error wrapping ErrInvalidBudget (or,
// when the Pacer takes budgets, ErrInvalidPacing) and changes nothing for
// a Budget that the Ledger or the Pacer would refuse. It returns an error
// wrapping ErrNoBudgetSetter when neither takes budgets. If the Ledger
// fails (a remote one cannot be reached, ctx ends), SetBudget returns its
// error and the Pacer is not changed; the Ledger may still have taken the
// budget if ctx ended during the call. If the Ledger took the budget and
// the Pacer then fails, the error says so, and until a later call
// succeeds the Ledger guards the new budget while the Pacer spreads the
// old one: the Ledger alone decides what may be spent, so an account
// never spends more than the Ledger's budget either way. Setting the same
// Budget again changes nothing, so a failed call can be retried.
func (a *Auction) SetBudget(ctx context.Context, b Budget) error {
	ledger, pacer := a.cfg.budgetSetters()
	if ledger == nil && pacer == nil {
		return ErrNoBudgetSetter
	}
	validate := b.Validate
	if pacer != nil {
		validate = b.validatePacing
	}
	if err := validate(); err != nil {
		return err
	}
	if ledger != nil {
		if err := ledger.SetBudget(ctx, b); err != nil {
			return fmt.Errorf("gavel: the ledger did not take the budget of %q: %w", b.Account, err)
		}
	}
	if pacer != nil {
		if err := pacer.SetBudget(ctx, b); err != nil {
			if ledger != nil {
				return fmt.Errorf("gavel: the ledger took the budget of %q, but the pacer did not: %w", b.Account, err)
			}
			return fmt.Errorf("gavel: the pacer did not take the budget of %q: %w", b.Account, err)
		}
	}
	return nil
}
