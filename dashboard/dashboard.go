package dashboard

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gavelrtb/gavel/gavelhttp"
)

//go:embed assets
var assets embed.FS

// A Dashboard is a live dashboard of auctions: an http.Handler serving a
// page that charts what its hooks count, updated once a second over
// server-sent events. Make one with New; the zero value is unusable. It is
// safe for concurrent use.
type Dashboard struct {
	cfg    *config
	stream string // this Dashboard's id: a page that sees it change starts over
	files  http.Handler

	auctions       auctionCounters
	bidders        *bounded[string, bidderCounters]
	noBids, losses *bounded[int, atomic.Int64]
	accounts       *bounded[string, accountCounters]
	campaigns      *bounded[string, campaignCounters]
	models         *bounded[string, modelCounters]

	ctx    context.Context // ends with Close, bounds the reads of watched values
	cancel context.CancelFunc
	done   chan struct{} // closed by Close
	wake   chan struct{} // a page left: the ticker checks whether any is left
	wg     sync.WaitGroup

	mu             sync.Mutex
	closed         bool
	ledgers        []watchedLedger
	ledgerAccounts map[string]bool
	pacers         []watchedPacer
	pacerAccounts  map[string]bool
	handlers       []*gavelhttp.AuctionHandler
	subs           map[*subscriber]struct{}
	ring           [][]byte // the last frames, oldest at next once full
	next           int
	running        bool // the ticker runs
	readings       *readings
}

// New returns a Dashboard. Register it as a hook of the auctions it is to
// show (gavel.WithHooks), mount it, and Close it when done. Every problem
// with opts is reported at once, each wrapping gavel.ErrInvalidOption.
func New(opts ...Option) (*Dashboard, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id) // never fails (crypto/rand)
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dashboard{
		cfg:    cfg,
		stream: hex.EncodeToString(id),
		files:  http.StripPrefix("/assets/", http.FileServerFS(sub)),
		bidders: newBounded(cfg.maxBidders, &bidderCounters{}, func(string) *bidderCounters {
			return &bidderCounters{}
		}),
		noBids:   newBounded(cfg.maxReasons, &atomic.Int64{}, func(int) *atomic.Int64 { return &atomic.Int64{} }),
		losses:   newBounded(cfg.maxReasons, &atomic.Int64{}, func(int) *atomic.Int64 { return &atomic.Int64{} }),
		accounts: newBounded(cfg.maxAccounts, &accountCounters{}, func(string) *accountCounters { return &accountCounters{} }),
		campaigns: newBounded(cfg.maxCampaigns, &campaignCounters{}, func(string) *campaignCounters {
			return &campaignCounters{}
		}),
		models: newBounded(MaxModels, &modelCounters{}, func(string) *modelCounters { return &modelCounters{} }),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		wake:   make(chan struct{}, 1),

		ledgerAccounts: map[string]bool{},
		pacerAccounts:  map[string]bool{},
		subs:           map[*subscriber]struct{}{},
		ring:           make([][]byte, 0, cfg.history),
		readings:       newReadings(),
	}
	return d, nil
}

// WatchHandler makes every frame read h's counters (AuctionHandler.Stats):
// the requests shed for want of room, those in flight, and the answers by
// kind. Several handlers may be watched; their counts are added up. It
// returns an error for a nil handler or one already watched.
func (d *Dashboard) WatchHandler(h *gavelhttp.AuctionHandler) error {
	if h == nil {
		return errors.New("gavel: dashboard: watch a nil handler")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if slices.Contains(d.handlers, h) {
		return errors.New("gavel: dashboard: the handler is already watched")
	}
	d.handlers = append(d.handlers, h)
	return nil
}

func (d *Dashboard) watchedHandlers() []*gavelhttp.AuctionHandler {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.handlers[:len(d.handlers):len(d.handlers)]
}

// ServeHTTP serves the page at "/", its events at "/events" and its files
// under "/assets/". Mount the Dashboard under a prefix with
// http.StripPrefix, the prefix without its final slash:
//
//	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", d))
//
// The page refers to the rest by relative URLs, so it works under any
// prefix. Only GET and HEAD are served; a HEAD of the events streams nothing.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch p := r.URL.Path; {
	case p == "/" || p == "":
		d.servePage(w, r)
	case p == "/events" && r.Method == http.MethodGet:
		d.serveEvents(w, r)
	case p == "/events":
		w.Header().Set("Content-Type", "text/event-stream")
	case strings.HasPrefix(p, "/assets/") && !strings.HasSuffix(p, "/"): // files, no listings
		d.files.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (d *Dashboard) servePage(w http.ResponseWriter, r *http.Request) {
	page, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(page)
}

// Close stops the Dashboard: the event streams end, and the goroutine that
// builds frames returns before Close does. The hooks keep counting, at no
// further cost. Close is idempotent and always returns nil.
func (d *Dashboard) Close() error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.done)
		d.cancel()
	}
	d.mu.Unlock()
	d.wg.Wait()
	return nil
}
