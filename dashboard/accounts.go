package dashboard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gavelrtb/gavel"
)

// A RateReader tells an account's pacing rate: the share of auctions, in
// [0, 1], the account takes part in. *gavel.EvenPacer is one.
type RateReader interface {
	Rate(account string) float64
}

// A TargetReader is a RateReader that also tells the spend an account
// should have made by t in its current period, in micros. *gavel.EvenPacer
// is one. The page draws it as the pacing curve beside the spend.
type TargetReader interface {
	RateReader
	Target(account string, t time.Time) int64
}

type watchedLedger struct {
	l       gavel.BalanceReader
	account string
}

type watchedPacer struct {
	p       RateReader
	account string
}

// WatchLedger makes every frame read the balance of each of accounts on l:
// budget, committed, held and remaining. It may be called again to watch
// more accounts, on the same ledger or another; it returns an error for a
// nil ledger, an empty account name or one already watched, and then
// watches none of accounts. A balance that cannot be read within
// WithReadTimeout is left out of that frame. Nothing is read while no page
// is connected.
func (d *Dashboard) WatchLedger(l gavel.BalanceReader, accounts ...string) error {
	if l == nil {
		return errors.New("gavel: dashboard: watch a nil ledger")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := checkAccounts(d.ledgerAccounts, accounts); err != nil {
		return err
	}
	for _, a := range accounts {
		d.ledgerAccounts[a] = true
		d.ledgers = append(d.ledgers, watchedLedger{l, a})
	}
	return nil
}

// WatchPacer makes every frame read the pacing rate of each of accounts on
// p and, when p is a TargetReader, its target spend. It may be called
// again to watch more accounts; it returns an error for a nil pacer, an
// empty account name or one already watched, and then watches none of
// accounts.
func (d *Dashboard) WatchPacer(p RateReader, accounts ...string) error {
	if p == nil {
		return errors.New("gavel: dashboard: watch a nil pacer")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := checkAccounts(d.pacerAccounts, accounts); err != nil {
		return err
	}
	for _, a := range accounts {
		d.pacerAccounts[a] = true
		d.pacers = append(d.pacers, watchedPacer{p, a})
	}
	return nil
}

func checkAccounts(watched map[string]bool, accounts []string) error {
	seen := make(map[string]bool, len(accounts))
	var errs []error
	for _, a := range accounts {
		switch {
		case a == "":
			errs = append(errs, errors.New("gavel: dashboard: empty account name"))
		case watched[a] || seen[a]:
			errs = append(errs, fmt.Errorf("gavel: dashboard: account %q is already watched", a))
		}
		seen[a] = true
	}
	return errors.Join(errs...)
}

// accountFrames returns the watched accounts, in the order watched, then
// the other accounts the budget hook saw, in the order seen.
func (d *Dashboard) accountFrames(ctx context.Context, r *readings, s span) []accountFrame {
	var out []accountFrame
	index := map[string]int{}
	at := func(name string) *accountFrame {
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, accountFrame{Name: name})
		}
		return &out[i]
	}
	d.mu.Lock()
	ledgers, pacers := d.ledgers[:len(d.ledgers):len(d.ledgers)], d.pacers[:len(d.pacers):len(d.pacers)]
	d.mu.Unlock()
	for _, w := range ledgers {
		a := at(w.account)
		a.Balance = d.readBalance(ctx, w)
	}
	now := d.cfg.clock.Now()
	for _, w := range pacers {
		a := at(w.account)
		rate := math.Round(w.p.Rate(w.account)*10000) / 10000
		a.Pacing = &rate
		if t, ok := w.p.(TargetReader); ok {
			v := t.Target(w.account, now)
			a.Target = &v
		}
	}
	d.accounts.each(func(name string, c *accountCounters, other bool) {
		if other {
			name = "(other)"
		}
		cur := accountCounts{c.reserved.Load(), c.reservedMicros.Load(), c.refused.Load(), c.failed.Load(),
			c.billed.Load(), c.billedMicros.Load()}
		p := r.accounts[c]
		r.accounts[c] = cur
		a := at(name)
		a.Reserves = s.rate(cur.reserved - p.reserved)
		a.Reserved = int64(math.Round(float64(max(cur.reservedMicros-p.reservedMicros, 0)) / s.secs))
		a.Refusals = s.rate(cur.refused - p.refused)
		a.Failures = s.rate(cur.failed - p.failed)
		a.Billed = s.rate(cur.billed - p.billed)
		a.BilledSpend = int64(math.Round(float64(max(cur.billedMicros-p.billedMicros, 0)) / s.secs))
	})
	return out
}

func (d *Dashboard) readBalance(ctx context.Context, w watchedLedger) *balanceFrame {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.readTimeout)
	defer cancel()
	b, err := w.l.Balance(ctx, w.account)
	if err != nil {
		return nil
	}
	return &balanceFrame{Budget: b.Budget, Committed: b.Committed, Held: b.Reserved, Remaining: b.Remaining()}
}
