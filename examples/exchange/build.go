package main

import (
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// build makes the parts of x. On error, what was made
// is in x for close.
func (x *exchange) build() error {
	f, err := os.OpenFile(x.cfg.events, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	x.file = f
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
	if x.sink, err = gavel.NewAsyncSink(gavel.NewJSONLinesSink(f), gavel.WithSinkHooks(x.metrics)); err != nil {
		return err
	}
	if err := x.buildAuction(); err != nil {
		return err
	}
	if x.notifier, err = x.newNotifier(); err != nil {
		return err
	}
	keys, err := x.signingKeys()
	if err != nil {
		return err
	}
	notices, err := gavelhttp.NewNotices(x.auction, keys, x.base+pathBilling, x.notifier)
	if err != nil {
		return err
	}
	handler, err := gavelhttp.NewAuctionHandler(x.auction, append([]gavelhttp.HandlerOption{gavelhttp.WithNotices(notices)}, x.cfg.handler...)...)
	if err != nil {
		return err
	}
	if err := x.dashboard.WatchHandler(handler); err != nil {
		return err
	}
	x.server = &http.Server{
		Handler:           x.routes(handler, notices),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	return nil
}

// buildAuction makes the Auction: the demo bidders, the ledger with the
// demo budgets paced evenly, the demo profiles, the events sink and the
// metrics, which then watch it.
func (x *exchange) buildAuction() error {
	ledger, err := gavel.NewMemoryLedger()
	if err != nil {
		return err
	}
	pacer, err := gavel.NewEvenPacer()
	if err != nil {
		return err
	}
	profiles, err := newProfiles()
	if err != nil {
		return err
	}
	budgets := append([]gavel.Budget(nil), demoBudgets...)
	if x.cfg.asap {
		for i := range budgets {
			budgets[i].Pacing = gavel.PacingASAP
		}
	}
	opts := []gavel.Option{
		gavel.WithLedger(ledger), gavel.WithPacer(pacer), gavel.WithBudgets(budgets...),
		gavel.WithProfileStore(profiles), gavel.WithProfileKeys(gavel.ProfileKeyUserID),
		gavel.WithEventSink(x.sink), gavel.WithHooks(x.metrics, x.dashboard),
	}
	for _, d := range demoBidders {
		opts = append(opts, gavel.WithBidders(d.bidder(x.base+pathDemoDSP)), gavel.WithBidderTimeout(d.name, bidderTimeout))
	}
	if x.auction, err = gavel.New(opts...); err != nil {
		return err
	}
	return x.watch(ledger, pacer)
}

func (x *exchange) watch(ledger *gavel.MemoryLedger, pacer *gavel.EvenPacer) error {
	if err := x.metrics.WatchAuction(x.auction); err != nil {
		return err
	}
	if err := x.metrics.WatchLedger(ledger, demoAccounts()...); err != nil {
		return err
	}
	if err := x.metrics.WatchPacer(pacer, demoAccounts()...); err != nil {
		return err
	}
	if err := x.watchDashboard(ledger, pacer); err != nil {
		return err
	}
	return x.metrics.WatchSink(x.sink)
}

// newNotifier makes the notifier that fires the winners' burls. The guard
// refuses private and loopback addresses but the exchange's own (where
// the demo bidders' notice endpoint is), and each demo bidder may notify
// the exchange's host only: the exception is for the in-process demo, not
// for bidders at large.
func (x *exchange) newNotifier() (*gavelhttp.Notifier, error) {
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
	return mux
}
