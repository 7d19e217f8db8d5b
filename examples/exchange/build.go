package main

import (
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// build makes the parts of x: from the config file when there is one,
// else the demo's. On error, what was made is in x for close.
func (x *exchange) build() error {
	var err error
	if x.metrics, err = gavelprom.New(); err != nil {
		return err
	}
	// The Go runtime's metrics with gavel's: go_goroutines, memory, GC.
	if err := x.metrics.Registry().Register(collectors.NewGoCollector()); err != nil {
		return err
	}
	if x.dashboard, err = newDashboard(); err != nil {
		return err
	}
	if err := x.open(); err != nil {
		return err
	}
	keys, err := x.signingKeys()
	if err != nil {
		return err
	}
	if x.conf == nil {
		if x.house, err = x.newHouse(x.demoKey, x.cfg.asap, x.dashboard); err != nil {
			return err
		}
	}
	if x.auction, err = x.newAuction(x.conf); err != nil {
		return err
	}
	if err := x.watch(); err != nil {
		return err
	}
	if x.notifier, err = x.newNotifier(); err != nil {
		return err
	}
	if x.notices, err = x.newNotices(keys); err != nil {
		return err
	}
	if x.handler, err = gavelhttp.NewAuctionHandler(x.auction, x.handlerOptions()...); err != nil {
		return err
	}
	if err := x.dashboard.WatchHandler(x.handler); err != nil {
		return err
	}
	x.server = &http.Server{
		Handler:           x.routes(x.handler, x.notices),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	return nil
}

// open opens what every Auction of x shares across reloads: the stores
// and the events, as the config file says, or the demo's (memory stores,
// JSON lines to -events).
func (x *exchange) open() error {
	var err error
	if x.conf == nil {
		if x.stores, err = newMemoryStores(); err != nil {
			return err
		}
		x.events, err = openJSONLines(x.cfg.events, x.metrics)
		return err
	}
	if x.stores, err = openStores(x.conf.Stores); err != nil {
		return err
	}
	ev := x.conf.Events
	x.events, err = openEvents(ev.Kind, ev.File, ev.Brokers, ev.Topic, x.metrics)
	return err
}

// newAuction makes an Auction of conf (nil: the demo's bidders, budgets
// and profile key) on x's stores, events and hooks. Its budgets are set on
// the ledger and the pacer as it is made.
func (x *exchange) newAuction(conf *gavelhttp.Config) (*gavel.Auction, error) {
	opts := []gavel.Option{gavel.WithLedger(x.stores.ledger), gavel.WithHooks(x.hooks()...)}
	if x.cfg.codec != nil {
		opts = append(opts, gavel.WithCodec(x.cfg.codec))
	}
	if x.stores.pacer != nil {
		opts = append(opts, gavel.WithPacer(x.stores.pacer))
	}
	if x.stores.profiles != nil {
		opts = append(opts, gavel.WithProfileStore(x.stores.profiles))
	}
	if x.events.sink != nil {
		opts = append(opts, gavel.WithEventSink(x.events.sink))
	}
	if conf == nil {
		opts = append(opts, demoOptions(x.base+pathDemoDSP, x.cfg.asap)...)
		if x.house != nil {
			opts = append(opts, x.house.options()...)
		}
		return gavel.New(opts...)
	}
	copts, err := conf.AuctionOptions()
	if err != nil {
		return nil, err
	}
	return gavel.New(append(opts, copts...)...)
}

// hooks are the hooks of every Auction of x: they carry on across reloads.
func (x *exchange) hooks() []gavel.Hook { return []gavel.Hook{x.metrics, x.dashboard} }

// demoOptions are the demo's bidders, whose burls point at noticeURL, and
// budgets, paced evenly or, with asap, as soon as they come.
func demoOptions(noticeURL string, asap bool) []gavel.Option {
	budgets := append([]gavel.Budget(nil), demoBudgets...)
	if asap {
		for i := range budgets {
			budgets[i].Pacing = gavel.PacingASAP
		}
	}
	opts := []gavel.Option{gavel.WithBudgets(budgets...), gavel.WithProfileKeys(gavel.ProfileKeyUserID)}
	for _, d := range demoBidders {
		opts = append(opts, gavel.WithBidders(d.bidder(noticeURL)), gavel.WithBidderTimeout(d.name, bidderTimeout))
	}
	return opts
}

// watch has the metrics read the auction and the events sink, and the
// metrics and the dashboard the balances and pacing of the budgets'
// accounts.
func (x *exchange) watch() error {
	if err := x.metrics.WatchAuction(x.auction); err != nil {
		return err
	}
	if err := x.watchAccounts(accounts(x.conf)); err != nil {
		return err
	}
	if x.house != nil {
		if err := x.metrics.WatchModel("house_ctr", x.house.pred.ctrMon); err != nil {
			return err
		}
		if err := x.metrics.WatchModel("house_cvr", x.house.pred.cvrMon); err != nil {
			return err
		}
	}
	if x.events.stats != nil {
		return x.metrics.WatchSink(x.events.stats)
	}
	return nil
}

// watchAccounts has the metrics and the dashboard read the balance and
// pacing of the accounts they do not read yet.
func (x *exchange) watchAccounts(names []string) error {
	if x.watched == nil {
		x.watched = map[string]bool{}
	}
	var fresh []string
	for _, a := range names {
		if !x.watched[a] {
			fresh = append(fresh, a)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := x.metrics.WatchLedger(x.stores.balances, fresh...); err != nil {
		return err
	}
	if x.stores.rates != nil {
		if err := x.metrics.WatchPacer(x.stores.rates, fresh...); err != nil {
			return err
		}
	}
	if err := x.watchDashboard(fresh); err != nil {
		return err
	}
	for _, a := range fresh {
		x.watched[a] = true
	}
	return nil
}

// accounts lists the accounts of conf's budgets (nil: the demo's, the
// demo bidders' and the house campaigns').
func accounts(conf *gavelhttp.Config) []string {
	if conf == nil {
		return append(demoAccounts(), houseAccounts()...)
	}
	names := make([]string, len(conf.Budgets))
	for i, b := range conf.Budgets {
		names[i] = b.Account
	}
	return names
}

// handlerOptions are the auction endpoint's options: the config file's
// server limits, the billing notices, the win and loss notices fired
// through the notifier, and the flags' shedding options, which come last
// and so override the file's.
func (x *exchange) handlerOptions() []gavelhttp.HandlerOption {
	var opts []gavelhttp.HandlerOption
	if x.conf != nil {
		opts = x.conf.HandlerOptions()
	}
	opts = append(opts, gavelhttp.WithNotices(x.notices), gavelhttp.WithResultNotifier(x.notifier))
	return append(opts, x.cfg.handler...)
}

// newNotices makes the billing and loss notices, signed with keys, whose
// burls point at the config file's notices.base_url, or else at the
// exchange's own billing path. The metrics and the dashboard count what
// they bill, and the house bidder counts its billed impressions against
// its campaigns' frequency caps.
func (x *exchange) newNotices(keys *gavelhttp.Keys) (*gavelhttp.Notices, error) {
	hooks := []any{x.metrics, x.dashboard}
	if x.house != nil {
		hooks = append(hooks, x.house.bidder, x.house.pred.predictor) // frequency caps; the models' impressions
	}
	opts := []gavelhttp.NoticesOption{gavelhttp.WithNoticesHooks(hooks...)}
	if x.conf == nil {
		return gavelhttp.NewNotices(x.auction, keys, x.base+pathBilling, x.notifier, opts...)
	}
	base := x.conf.Notices.BaseURL
	if base == "" {
		base = x.base + pathBilling
	}
	return gavelhttp.NewNotices(x.auction, keys, base, x.notifier, append(x.conf.NoticesOptions(), opts...)...)
}

// newNotifier makes the notifier that fires the winners' burls, as the
// config file says. For the demo, the guard
// refuses private and loopback addresses but the exchange's own (where
// the demo bidders' notice endpoint is), and each demo bidder may notify
// the exchange's host only: the exception is for the in-process demo, not
// for bidders at large.
func (x *exchange) newNotifier() (*gavelhttp.Notifier, error) {
	if x.conf != nil {
		return gavelhttp.NewNotifier(x.conf.NotifierOptions()...)
	}
	u, err := url.Parse(x.base)
	if err != nil {
		return nil, err
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return nil, err
	}
	opts := []gavelhttp.NotifierOption{gavelhttp.WithAllowedAddresses(netip.PrefixFrom(ip, ip.BitLen()))}
	for _, d := range demoBidders {
		opts = append(opts, gavelhttp.WithBidderHosts(d.name, u.Hostname()))
	}
	return gavelhttp.NewNotifier(opts...)
}

// routes mounts every endpoint of the exchange.
func (x *exchange) routes(auction http.Handler, notices *gavelhttp.Notices) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(pathAuction, auction)
	mux.Handle(pathBilling, notices.BillingHandler())
	mux.Handle(pathLoss, notices.LossHandler())
	mux.Handle("GET "+pathMetrics, promhttp.HandlerFor(x.metrics.Registry(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET "+pathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET "+pathReadyz, func(w http.ResponseWriter, _ *http.Request) {
		if !x.ready.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle(pathDashboard, x.dashboardHandler())
	mux.Handle(pathDemoDSP, &demoNotices{})
	if x.house != nil {
		mux.Handle(pathTrackClick, x.house.tracker.ClickHandler())
		mux.Handle(pathTrackConversion, x.house.tracker.ConversionHandler())
	}
	return mux
}
