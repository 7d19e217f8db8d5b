package main

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"time"

	"github.com/gavelrtb/gavel/gavelhttp"
)

// errNoConfig is returned by reload for an exchange that runs the demo.
var errNoConfig = errors.New("no config file to reload: the exchange runs the demo set-up")

// reloadTimeout bounds how long a reload waits for the old Auction's
// in-flight auctions.
const reloadTimeout = 10 * time.Second

// change is what a reload changed.
type change struct {
	added, removed []string // bidders
	budgets        []string // accounts whose budget is new or changed
}

// reloadFile reloads the config file and logs the outcome; SIGHUP calls it.
func (x *exchange) reloadFile(ctx context.Context) {
	c, err := x.reload(ctx)
	if errors.Is(err, errNoConfig) {
		x.log.Warn("reload ignored", "err", err)
		return
	}
	if err != nil {
		x.log.Error("reload failed, the running set-up stays", "file", x.cfg.file, "err", err)
		return
	}
	x.log.Info("reloaded", "file", x.cfg.file, "bidders_added", c.added, "bidders_removed", c.removed,
		"budgets_set", c.budgets)
}

// reload reads the config file again and serves its set-up (apply).
func (x *exchange) reload(ctx context.Context) (change, error) {
	if x.cfg.file == "" {
		return change{}, errNoConfig
	}
	next, err := gavelhttp.LoadConfig(x.cfg.file)
	if err != nil {
		return change{}, err
	}
	return x.apply(ctx, next)
}

// apply serves next in place of the running config. It refuses, changing
// nothing, a config that differs in what needs a restart (stores, events,
// notices, server, a bidder's notice_hosts: Config.Reloadable) or whose
// Auction cannot be built.
// Otherwise it builds the new Auction on the same stores, events and
// hooks (its budgets set on the shared ledger and pacer as it is built),
// points the notices, the metrics and the auction endpoint at it, waits
// for the old one's in-flight auctions (within ctx and reloadTimeout),
// then retires it from the metrics and closes it. No request is refused
// meanwhile. An error after the new Auction is served (metrics, the wait)
// is returned, and the new set-up stays.
func (x *exchange) apply(ctx context.Context, next *gavelhttp.Config) (change, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.conf.Reloadable(next); err != nil {
		return change{}, err
	}
	a, err := x.newAuction(next)
	if err != nil {
		return change{}, err
	}
	c := diff(x.conf, next)
	x.notices.Swap(a)
	err = x.metrics.SwapAuction(a)
	err = errors.Join(err, x.watchAccounts(accounts(next)))
	ctx, cancel := context.WithTimeout(ctx, reloadTimeout)
	defer cancel()
	old, serr := x.handler.Swap(ctx, a)
	x.conf, x.auction = next, a
	err = errors.Join(err, serr)
	if old != nil {
		// Past ctx, auctions may still run on old: they finish, and the
		// metrics miss what they count after the retirement.
		err = errors.Join(err, x.metrics.RetireAuction(old), old.Close(ctx))
	}
	return c, err
}

// diff tells the bidders added and removed from conf to next, and the
// accounts whose budget next sets anew.
func diff(conf, next *gavelhttp.Config) change {
	var c change
	was, is := bidderNames(conf), bidderNames(next)
	for _, n := range is {
		if !slices.Contains(was, n) {
			c.added = append(c.added, n)
		}
	}
	for _, n := range was {
		if !slices.Contains(is, n) {
			c.removed = append(c.removed, n)
		}
	}
	old := map[string]gavelhttp.BudgetConfig{}
	for _, b := range conf.Budgets {
		old[b.Account] = b
	}
	for _, b := range next.Budgets {
		if o, ok := old[b.Account]; !ok || !reflect.DeepEqual(o, b) {
			c.budgets = append(c.budgets, b.Account)
		}
	}
	return c
}

// bidderNames lists conf's bidders.
func bidderNames(conf *gavelhttp.Config) []string {
	names := make([]string, len(conf.Bidders))
	for i, b := range conf.Bidders {
		names[i] = b.Name
	}
	return names
}
