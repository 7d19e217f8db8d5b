package gavelredis

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gavelrtb/gavel"
)

// A Pacer's epoch marker, P:pacer:epoch, works as the Ledger's (see
// epoch.go): the first Sync on a Redis that has none writes it, and every
// Sync reads it first. When it is gone, or replaced other than by Rearm,
// the spend every process recorded in Redis is gone with it: were the
// pacer to go on, its next step would find little spent and open the
// participation to the full rate. So it stops talking to Redis instead:
// Allow keeps the last p, Spend keeps adding up locally, nothing is
// flushed or stepped (PacerStats.Wipes, the PacerErrorHooks told
// PacerEpoch with ErrLedgerLost, logged once) until Restore puts the
// spend back and Rearm writes a new marker, which the other processes
// adopt at their next Sync.

// PacerEpoch is the part of Sync that reads the epoch marker.
const PacerEpoch PacerOp = "epoch"

// pacerEpoch is what a Pacer knows of its epoch.
type pacerEpoch struct {
	mark   atomic.Pointer[epochMark]
	lostAt atomic.Int64 // Unix ns when the loss was found; 0 while armed
}

func (p *Pacer) epochKey() string { return p.prefix + "epoch" }

// syncEpoch reads the marker at the start of a Sync: it writes the first
// one, adopts a rearm, and declares a loss. It returns an error when the
// Sync is to stop there.
func (p *Pacer) syncEpoch(ctx context.Context) error {
	known := p.epoch.mark.Load()
	read, err := readEpoch(ctx, p.client, p.epochKey())
	if err == nil && read == nil && known == nil {
		read, err = createEpoch(ctx, p.client, p.epochKey())
	}
	if err != nil {
		return p.fail(PacerEpoch, "", err)
	}
	if known == nil {
		p.epoch.mark.Store(read)
		return nil
	}
	switch judgeEpoch(known, read) {
	case epochAdopt:
		p.epoch.mark.Store(read)
		if p.epoch.lostAt.Swap(0) != 0 {
			p.logger.Info("gavel redis pacer: rearmed by another process; syncing again", "key", p.epochKey(), "epoch", read.raw)
		}
	case epochLost:
		now := "none"
		if read != nil {
			now = read.raw
		}
		lost := fmt.Errorf("%w: marker %s was %q, is %s", ErrLedgerLost, p.epochKey(), known.raw, now)
		if p.epoch.lostAt.CompareAndSwap(0, time.Now().UnixNano()) {
			p.stats.wipes.Add(1)
			p.logger.Error("gavel redis pacer: redis lost the recorded spend; pacing frozen until Restore and Rearm",
				"key", p.epochKey(), "was", known.raw, "now", now)
			return p.fail(PacerEpoch, "", lost)
		}
		return fmt.Errorf("gavel: redis pacer %s: %w", PacerEpoch, lost)
	}
	return nil
}

// Lost reports whether the pacer found that Redis lost the spend it
// records, and since when (see Pacer, When Redis loses its state).
func (p *Pacer) Lost() (time.Time, bool) {
	at := p.epoch.lostAt.Load()
	if at == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, at), true
}

// Restore sets the spend recorded in Redis for account, in the period or
// flight that starts at periodStart (the zero time for a total budget or
// an ASAP one), to spent micros, as the reconcile after Redis lost its
// state needs: then Rearm. A periodStart that is not the account's
// current period (by the pacer's clock) is ignored: Restore returns nil.
// It returns gavel.ErrUnknownAccount for an account without a budget in
// this Pacer, an error wrapping gavel.ErrInvalidBudget for a negative
// spent, and the error of Redis. The spend this process recorded and did
// not flush is not part of it: it is flushed on top after Rearm.
func (p *Pacer) Restore(ctx context.Context, account string, periodStart time.Time, spent int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if spent < 0 {
		return fmt.Errorf("%w: spent %d for %q is negative", gavel.ErrInvalidBudget, spent, account)
	}
	v, ok := p.accounts.Load(account)
	if !ok {
		return gavel.ErrUnknownAccount
	}
	a := v.(*pacerAccount)
	now := p.clock.Now()
	if !a.currentPeriod(now, periodStart) {
		return nil
	}
	key, ttl := a.spentKeyAt(now)
	err := p.client.Do(ctx, p.client.B().Set().Key(key).Value(strconv.FormatInt(spent, 10)).Px(max(ttl, time.Millisecond)).Build()).Error()
	if err != nil {
		return p.fail(PacerFlush, account, err)
	}
	return nil
}

// currentPeriod reports whether start is the start of a's period (or
// flight) at now: the zero time for an ASAP or a total budget.
func (a *pacerAccount) currentPeriod(now, start time.Time) bool {
	a.mu.Lock()
	b := a.budget
	a.mu.Unlock()
	switch {
	case !b.Start.IsZero():
		return start.Equal(b.Start)
	case b.Period.Daily:
		return start.Equal(b.Period.Start(now))
	}
	return start.IsZero()
}

// Rearm writes a new epoch marker after Restore: this Pacer syncs again,
// flushing what it recorded meanwhile, and the other processes adopt the
// marker at their next Sync. It returns the error of Redis.
func (p *Pacer) Rearm(ctx context.Context) error {
	m, err := rearmEpoch(ctx, p.client, p.epochKey(), p.epoch.mark.Load())
	if err != nil {
		return p.fail(PacerEpoch, "", err)
	}
	p.epoch.mark.Store(m)
	if p.epoch.lostAt.Swap(0) != 0 {
		p.logger.Info("gavel redis pacer: rearmed; syncing again", "key", p.epochKey(), "epoch", m.raw)
	}
	return nil
}

// WithPacerLogger sets the logger of rare events: Redis found to have lost
// the recorded spend (an error, once per loss), a rearm. nil discards
// them. Default slog.Default().
func WithPacerLogger(logger *slog.Logger) PacerOption {
	return pacerOptionFunc(func(c *pacerConfig) {
		c.logger = logger
		if logger == nil {
			c.logger = discardLogger
		}
	})
}
