package gavelredis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelrtb/gavel"
)

// A Ledger's epoch (see epoch.go, and Ledger, Epoch). The marker lives at
// {P:epoch}; SetBudget writes it on a Redis that has none (unless
// WithEpochRequired), and every budget records the marker it was set
// under (the budget hash's field epoch). The scripts answer UNKNOWN for an
// account whose budget is gone and STALE, with the budget's marker, for
// one whose budget was set again: when the account is one the process
// knew, or the marker is not the one the process knows, the ledger reads
// the marker again, in the background, and declares the state lost if it
// is gone or was replaced other than by Rearm.

// epochState is what a Ledger knows of its epoch.
type epochState struct {
	mark      atomic.Pointer[epochMark] // the marker known; nil until read
	lostAt    atomic.Int64              // Unix ns when the loss was found; 0 while armed
	restored  sync.Map                  // accounts restored since the loss: name -> struct{}
	checking  atomic.Bool               // a background check runs
	checkedAt atomic.Int64              // mono time of the last background check
}

// epochKey is the key of the ledger's epoch marker.
func (l *Ledger) epochKey() string { return "{" + l.cfg.prefix + ":epoch}" }

// epochRaw returns the marker known, "" if none, for budget.lua.
func (l *Ledger) epochRaw() string {
	if m := l.epoch.mark.Load(); m != nil {
		return m.raw
	}
	return ""
}

// failClosed reports whether reservations on account are refused: the
// ledger found Redis's state lost, and the account was not restored since.
func (l *Ledger) failClosed(account string) bool {
	if l.epoch.lostAt.Load() == 0 {
		return false
	}
	_, ok := l.epoch.restored.Load(account)
	return !ok
}

// lostError counts a reservation on account refused as the state is lost,
// and returns its error; it also checks again, now and then, whether the
// ledger was rearmed through another process.
func (l *Ledger) lostError(account string) error {
	l.stats.lostRefusals.Add(1)
	l.suspect()
	return fmt.Errorf("%w: account %q", ErrLedgerLost, account)
}

// suspect reads the epoch marker again in the background, unless a check
// runs or one ran within probeEvery.
func (l *Ledger) suspect() {
	if at := l.epoch.checkedAt.Load(); at != 0 && l.mono()-at < int64(probeEvery) || !l.epoch.checking.CompareAndSwap(false, true) {
		return
	}
	l.epoch.checkedAt.Store(max(l.mono(), 1))
	if !l.start(func() {
		defer l.epoch.checking.Store(false)
		ctx, cancel := l.bound(l.bg)
		defer cancel()
		_ = l.checkEpoch(ctx)
	}) {
		l.epoch.checking.Store(false)
	}
}

// checkEpoch reads the marker and acts on it: it adopts the marker when
// none is known or Rearm wrote a later one, and declares the state lost
// when the marker is gone or replaced. It returns the error of the read.
func (l *Ledger) checkEpoch(ctx context.Context) error {
	read, err := readEpoch(ctx, l.client, l.epochKey())
	if err != nil {
		return l.redisError(LedgerEpoch, "", err)
	}
	known := l.epoch.mark.Load()
	switch {
	case known == nil:
		if read != nil {
			l.epoch.mark.CompareAndSwap(nil, read)
		}
		return nil
	}
	switch judgeEpoch(known, read) {
	case epochAdopt:
		l.adoptEpoch(known, read)
	case epochLost:
		l.declareLost(known, read)
	}
	return nil
}

// declareLost fails the ledger closed, once per loss: counted, told to the
// hooks and logged.
func (l *Ledger) declareLost(known, read *epochMark) {
	if !l.epoch.lostAt.CompareAndSwap(0, time.Now().UnixNano()) {
		return
	}
	l.epoch.restored.Clear()
	l.stats.wipes.Add(1)
	now := "none"
	if read != nil {
		now = read.raw
	}
	err := fmt.Errorf("%w: marker %s was %q, is %s", ErrLedgerLost, l.epochKey(), known.raw, now)
	for _, h := range l.cfg.hooks {
		h.OnLedgerError(LedgerEpoch, "", err)
	}
	l.cfg.logger.Error("gavel redis ledger: redis lost the money's state; reservations refused until Restore and Rearm",
		"key", l.epochKey(), "was", known.raw, "now", now)
}

// adoptEpoch takes read, a later marker written by Rearm, in place of
// known: the ledger leaves fail-closed.
func (l *Ledger) adoptEpoch(known, read *epochMark) {
	if !l.epoch.mark.CompareAndSwap(known, read) {
		return
	}
	if l.epoch.lostAt.Swap(0) != 0 {
		l.cfg.logger.Info("gavel redis ledger: rearmed by another process; reservations resume", "key", l.epochKey(), "epoch", read.raw)
	}
	l.epoch.restored.Clear()
}

// ensureEpoch makes sure, for SetBudget, that the ledger knows the marker:
// it reads it, writes it on a Redis that has none (unless
// WithEpochRequired), and checks it against the one known.
func (l *Ledger) ensureEpoch(ctx context.Context) error {
	ctx, cancel := l.boundEpoch(ctx)
	defer cancel()
	if l.epoch.mark.Load() != nil {
		if l.epoch.lostAt.Load() != 0 {
			return nil // budgets may be set again while lost; Restore reopens them
		}
		return l.checkEpoch(ctx)
	}
	read, err := readEpoch(ctx, l.client, l.epochKey())
	if err == nil && read == nil {
		if l.cfg.required {
			return fmt.Errorf("%w: no epoch marker at %s (WithEpochRequired): restore the accounts and call Rearm", ErrLedgerLost, l.epochKey())
		}
		read, err = createEpoch(ctx, l.client, l.epochKey())
	}
	if err != nil {
		return l.redisError(LedgerEpoch, "", err)
	}
	l.epoch.mark.CompareAndSwap(nil, read)
	return nil
}

// seenEpoch takes in the marker a budget was set under, as a STALE reply
// tells it: a marker other than the one known (or none known yet) makes
// the ledger read the marker again.
func (l *Ledger) seenEpoch(raw string) {
	if m := l.epoch.mark.Load(); raw != "" && (m == nil || m.raw != raw) {
		l.suspect()
	}
}

// seenUnknown takes in that Redis does not know a: when the ledger had
// read the account, or knows a marker, the budget may have been deleted,
// or Redis lost its state. The check is made at most every probeEvery.
func (l *Ledger) seenUnknown(a *account) {
	if a.conf.Load() != nil || l.epoch.mark.Load() != nil {
		l.suspect()
	}
}

// Lost reports whether the ledger found Redis's state lost and refuses to
// spend (see Ledger, Epoch), and since when.
func (l *Ledger) Lost() (time.Time, bool) {
	at := l.epoch.lostAt.Load()
	if at == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, at), true
}

// Restore sets the money account has committed in the period that starts
// at periodStart (the zero time for a total budget) to committed micros,
// and lets this Ledger reserve on the account again if it had found
// Redis's state lost (see Ledger, Epoch). It is the step of a reconcile
// after Redis lost its state: set the budgets again (SetBudget), restore
// each account's committed spend from the billing events, then Rearm.
//
// A periodStart that is not the account's current period in Redis is
// ignored: Restore returns nil and changes nothing. It returns
// gavel.ErrUnknownAccount if the account has no budget, an error wrapping
// gavel.ErrInvalidBudget for a negative committed, ctx.Err() if ctx is
// done, and ErrLedgerClosed after Close. What is reserved and leased is
// left as it is.
func (l *Ledger) Restore(ctx context.Context, account string, periodStart time.Time, committed int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.closed.Load() {
		return ErrLedgerClosed
	}
	if committed < 0 || committed > MaxAmount {
		return fmt.Errorf("%w: committed %d for %q out of [0, MaxAmount]", gavel.ErrInvalidBudget, committed, account)
	}
	start := "0"
	if !periodStart.IsZero() {
		start = strconv.FormatInt(periodStart.UnixMilli(), 10)
	}
	a := l.lookup(account)
	amt := strconv.FormatInt(committed, 10)
	r, code, err := l.call(ctx, LedgerRestore, l.scripts.restore, a, func(c *accountConfig) []string {
		return []string{c.version, c.startMs, start, amt}
	})
	if err != nil {
		return err
	}
	switch code {
	case replyOK:
	case replyUnknown:
		return gavel.ErrUnknownAccount
	default:
		return l.redisError(LedgerRestore, a.name, fmt.Errorf("%w: code %d", errBadReply, code))
	}
	l.known(a, r, 2)
	if applied, _ := r.int(1); applied == 1 && l.epoch.lostAt.Load() != 0 {
		l.epoch.restored.Store(account, struct{}{})
	}
	return nil
}

// Rearm ends the fail-closed state of a Ledger that found Redis's state
// lost: it writes a new epoch marker, which the other processes adopt
// (their ledgers rearm too, at their next look at the marker), and every
// account may reserve again, from what Redis holds. Call it once the
// budgets are set again and every account restored (Restore); the money
// that lease-mode processes committed and could not report is reported
// then. On a Redis that never had a marker (WithEpochRequired) it writes
// the first one. It returns ErrLedgerClosed after Close, and the error of
// Redis.
func (l *Ledger) Rearm(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.closed.Load() {
		return ErrLedgerClosed
	}
	ctx, cancel := l.boundEpoch(ctx)
	defer cancel()
	known := l.epoch.mark.Load()
	m, err := rearmEpoch(ctx, l.client, l.epochKey(), known)
	if err != nil {
		return l.redisError(LedgerEpoch, "", err)
	}
	l.epoch.mark.Store(m)
	if l.epoch.lostAt.Swap(0) != 0 {
		l.cfg.logger.Info("gavel redis ledger: rearmed; reservations resume", "key", l.epochKey(), "epoch", m.raw)
	}
	l.epoch.restored.Clear()
	return nil
}

// boundEpoch bounds ctx for the marker's round trips in SetBudget and
// Rearm (up to three): by the ledger's timeout, but at least
// DefaultLedgerTimeout, since neither is on an auction's path.
func (l *Ledger) boundEpoch(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, max(l.cfg.timeout, DefaultLedgerTimeout))
}

// errIsLost reports whether err says that Redis lost its state.
func errIsLost(err error) bool { return errors.Is(err, ErrLedgerLost) }

// discardLogger is the logger of a ledger given a nil one.
var discardLogger = slog.New(slog.DiscardHandler)
