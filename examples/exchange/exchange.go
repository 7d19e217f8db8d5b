package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
	"github.com/gavelrtb/gavel/dashboard"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// Paths the exchange serves.
const (
	pathAuction = "/openrtb2/auction"
	pathBilling = "/notice/billing"
	pathLoss    = "/notice/loss"
	pathMetrics = "/metrics"
	pathHealthz = "/healthz"
	pathReadyz  = "/readyz"
	pathDemoDSP = "/demo/dsp/billing" // the demo bidders' own burl
)

// config is the exchange's set-up, from the flags.
type config struct {
	file            string           // config file; "": the demo set-up
	addr            string           // listen address, port 0 picks one; "": the config file's
	fastAddr        string           // the fasthttp server's listen address; "": none
	codec           gavel.Codec      // the Auctions' JSON codec; nil: gavel's default
	events          string           // the demo's events file, appended to
	key             []byte           // the demo's notice signing key; nil: random
	drain           time.Duration    // /readyz answers 503 this long before the server stops accepting
	shutdownTimeout time.Duration    // bounds the rest of the shutdown
	log             *slog.Logger     // reloads and their failures; nil: none
	hup             <-chan os.Signal // each value reloads the config file

	handler []gavelhttp.HandlerOption // the auction handler's options: shedding
	asap    bool                      // the demo budgets paced ASAP, not evenly

	// For tests: started gets the base URL once the exchange serves;
	// draining is called once /readyz answers 503, before the server
	// stops accepting.
	started  func(base string)
	draining func()
	serving  func(x *exchange) // called after started
}

// exchange is one running exchange: what run builds, serves and closes.
type exchange struct {
	cfg       config
	log       *slog.Logger
	base      string // http://host:port
	randomKey bool
	demoKey   gavelhttp.Key // the demo's signing key, also the tracker's
	house     *house        // the demo's campaigns; nil with a config file
	stores    *stores
	events    *events
	notifier  *gavelhttp.Notifier
	notices   *gavelhttp.Notices
	handler   *gavelhttp.AuctionHandler
	metrics   *gavelprom.Metrics
	dashboard *dashboard.Dashboard
	server    *http.Server
	fast      *fasthttp.Server // nil without -fast-addr
	fastBase  string           // http://host:port of fast
	ready     atomic.Bool

	mu      sync.Mutex        // serialises reloads; guards what follows
	conf    *gavelhttp.Config // the config file's set-up now served; nil: the demo's
	auction *gavel.Auction    // the Auction now served
	watched map[string]bool   // accounts whose balance and pacing the metrics read
}

// run serves the exchange until ctx is canceled, then shuts it down
// gracefully: /readyz answers 503, the server stops accepting and waits for
// in-flight requests, queued notices are sent, the events are flushed and
// the stores closed (Redis leases given back), all within
// cfg.shutdownTimeout. With cfg.file it serves the set-up of that config
// file, and reloads it for each value of cfg.hup; without, the demo's.
// It writes where everything is to out. It returns nil after a clean
// shutdown.
func run(ctx context.Context, cfg config, out io.Writer) error {
	x := &exchange{cfg: cfg, log: cfg.log}
	if x.log == nil {
		x.log = slog.New(slog.DiscardHandler)
	}
	if cfg.file != "" {
		conf, err := gavelhttp.LoadConfig(cfg.file)
		if err != nil {
			return err
		}
		x.conf = conf
	}
	ln, err := net.Listen("tcp", x.listenAddr())
	if err != nil {
		return err
	}
	x.base = baseURL(ln.Addr())
	var fastLn net.Listener
	if cfg.fastAddr != "" {
		if fastLn, err = net.Listen("tcp", cfg.fastAddr); err != nil {
			_ = ln.Close()
			return err
		}
		x.fastBase = baseURL(fastLn.Addr())
	}
	if err := x.build(); err != nil {
		_ = ln.Close()
		if fastLn != nil {
			_ = fastLn.Close()
		}
		return errors.Join(err, x.close(context.Background()))
	}
	x.printBanner(out)
	errc := make(chan error, 1)
	go func() { errc <- x.server.Serve(ln) }()
	var fastErrc chan error // nil without -fast-addr: never ready
	if fastLn != nil {
		fastErrc = make(chan error, 1)
		x.fast = x.newFastServer()
		go func() { fastErrc <- x.fast.Serve(fastLn) }()
	}
	x.ready.Store(true)
	if cfg.started != nil {
		cfg.started(x.base)
	}
	if cfg.serving != nil {
		cfg.serving(x)
	}
	for {
		select {
		case err := <-errc: // Serve failed on its own
			ctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
			defer cancel()
			return errors.Join(err, x.shutdownFast(ctx, fastErrc), x.close(ctx))
		case err := <-fastErrc: // the fasthttp server's Serve failed on its own
			ctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
			defer cancel()
			return errors.Join(err, x.shutdownServer(ctx, errc), x.close(ctx))
		case <-cfg.hup:
			x.reloadFile(ctx)
		case <-ctx.Done():
			fmt.Fprintln(out, "shutting down")
			return x.shutdown(errc, fastErrc)
		}
	}
}

// listenAddr is -addr, else the config file's server address, else
// DefaultAddr.
func (x *exchange) listenAddr() string {
	switch {
	case x.cfg.addr != "":
		return x.cfg.addr
	case x.conf != nil && x.conf.Server.Addr != "":
		return x.conf.Server.Addr
	}
	return DefaultAddr
}

// baseURL is the URL of the listener's address; an unspecified address
// (0.0.0.0, ::) is reached through 127.0.0.1.
func baseURL(addr net.Addr) string {
	ap := addr.(*net.TCPAddr).AddrPort()
	ip := ap.Addr().Unmap()
	if ip.IsUnspecified() {
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return "http://" + netip.AddrPortFrom(ip, ap.Port()).String()
}

// shutdown stops the exchange: not ready, drain, stop accepting and wait
// for in-flight requests, then close the notifier, the auction and the
// sink. errc is Serve's result, fastErrc the fasthttp server's (nil
// without -fast-addr).
func (x *exchange) shutdown(errc, fastErrc <-chan error) error {
	x.ready.Store(false)
	if x.cfg.draining != nil {
		x.cfg.draining()
	}
	if x.cfg.drain > 0 {
		time.Sleep(x.cfg.drain) // load balancers see /readyz fail and stop sending
	}
	ctx, cancel := context.WithTimeout(context.Background(), x.cfg.shutdownTimeout)
	defer cancel()
	_ = x.dashboard.Close() // ends the event streams, which Shutdown would wait for
	return errors.Join(x.shutdownServer(ctx, errc), x.shutdownFast(ctx, fastErrc), x.close(ctx))
}

// shutdownServer stops the net/http server within ctx, and returns what
// went wrong, its Serve's result (errc) included but for the
// http.ErrServerClosed that a shutdown makes it return.
func (x *exchange) shutdownServer(ctx context.Context, errc <-chan error) error {
	err := x.server.Shutdown(ctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// close closes what build made, in order: the notifier (sends the queued
// burls), the auction, the events (flushed), the stores (leases given
// back, clients closed). It skips what was not made.
func (x *exchange) close(ctx context.Context) error {
	var err error
	if x.dashboard != nil {
		err = x.dashboard.Close()
	}
	if x.notifier != nil {
		err = errors.Join(err, x.notifier.Close(ctx))
	}
	if x.auction != nil {
		err = errors.Join(err, x.auction.Close(ctx))
	}
	if x.events != nil && x.events.close != nil {
		err = errors.Join(err, x.events.close(ctx))
	}
	if x.stores != nil {
		err = errors.Join(err, x.stores.close(ctx))
	}
	return err
}

// signingKeys returns the notice signing keys: the config file's, or the
// demo's -key, or a random one for this run.
func (x *exchange) signingKeys() (*gavelhttp.Keys, error) {
	if x.conf != nil {
		return x.conf.Keys()
	}
	secret := x.cfg.key
	if secret == nil {
		secret = make([]byte, gavelhttp.MinKeyBytes)
		_, _ = rand.Read(secret) // never fails (crypto/rand)
		x.randomKey = true
	}
	x.demoKey = gavelhttp.Key{ID: "k1", Secret: secret}
	return gavelhttp.NewKeys(x.demoKey)
}

func (x *exchange) printBanner(out io.Writer) {
	fmt.Fprintf(out, "gavel exchange on %s\n", x.base)
	fmt.Fprintf(out, "  auction   POST %s%s\n", x.base, pathAuction)
	fmt.Fprintf(out, "  billing   GET  %s%s?t=TOKEN (the winners' burls)\n", x.base, pathBilling)
	fmt.Fprintf(out, "  loss      GET  %s%s?t=TOKEN\n", x.base, pathLoss)
	fmt.Fprintf(out, "  metrics   GET  %s%s\n", x.base, pathMetrics)
	fmt.Fprintf(out, "  dashboard GET  %s%s (live, in a browser)\n", x.base, pathDashboard)
	fmt.Fprintf(out, "  health    GET  %s%s, %s%s\n", x.base, pathHealthz, x.base, pathReadyz)
	if x.fastBase != "" {
		fmt.Fprintf(out, "  fasthttp  POST %s%s, GET %s%s and %s%s: the same endpoints on fasthttp\n",
			x.fastBase, pathAuction, x.fastBase, pathBilling, x.fastBase, pathLoss)
	}
	if x.cfg.codec != nil {
		fmt.Fprintln(out, "  codec     goccy/go-json (codecs/gavelgoccy) for requests, bidders' answers and responses")
	}
	fmt.Fprintf(out, "  events    %s\n", x.events.where)
	if x.conf != nil {
		x.printConfig(out)
	} else {
		x.printDemo(out)
	}
	fmt.Fprintf(out, "try:\n  curl -s -H 'Content-Type: application/json' -d '%s' %s%s\n", exampleRequest, x.base, pathAuction)
}

func (x *exchange) printDemo(out io.Writer) {
	if x.randomKey {
		fmt.Fprintln(out, "  signing   random key for this run: burls of earlier runs are refused (set -key to keep one)")
	} else {
		fmt.Fprintln(out, "  signing   key from -key")
	}
	fmt.Fprintln(out, "  bidders   swift (fast, cheap), premium (pays most, 20% past its deadline), flaky (25% errors),")
	fmt.Fprintln(out, "            house (the exchange's own campaigns, package campaign)")
	for _, c := range x.house.bidder.Campaigns() {
		fmt.Fprintf(out, "  campaign  %-15s %s\n", c.ID, describeCampaign(c))
	}
	fmt.Fprintf(out, "  clicks    GET  %s%s?t=TOKEN (the house ads' click URLs: an event, then a 302 to the landing page)\n", x.base, pathTrackClick)
	fmt.Fprintf(out, "  convert   POST %s%s?gavel_click=TOKEN&order_id=ID (the token the landing page got)\n", x.base, pathTrackConversion)
	fmt.Fprintln(out, "  notices   the notifier may reach private addresses only for the demo bidders' endpoint on this exchange")
}

func (x *exchange) printConfig(out io.Writer) {
	fmt.Fprintf(out, "  config    %s (SIGHUP reloads it)\n", x.cfg.file)
	st := x.conf.Stores
	fmt.Fprintf(out, "  stores    ledger %s, pacer %s, profiles %s\n", describe(st.Ledger), describe(st.Pacer), describe(st.Profiles))
	fmt.Fprintf(out, "  bidders   %s\n", strings.Join(bidderNames(x.conf), ", "))
}

// describe tells where a store is.
func describe(s gavelhttp.StoreConfig) string {
	if s.Kind != storeRedis {
		return s.Kind
	}
	return fmt.Sprintf("redis at %s, prefix %s", s.Addr, s.Prefix)
}

// exampleRequest is the request the banner's curl sends.
const exampleRequest = `{"id":"demo-1","tmax":200,"cur":["USD"],"imp":[{"id":"1","bidfloor":0.5,"bidfloorcur":"USD","banner":{"w":300,"h":250}}],"site":{"domain":"news.example"},"device":{"geo":{"country":"USA"}},"user":{"id":"user-1"}}`
