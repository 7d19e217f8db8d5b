package gavel

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// An Auction runs OpenRTB 2.6 auctions among a fixed set of bidders. Create
// one with New; the zero value is not usable. An Auction is safe for
// concurrent use by many goroutines, and meant to be shared by all of them.
type Auction struct {
	cfg     config
	bidders []*bidderSlot
	byName  map[string]*bidderSlot
	hooks   hookSet
	logger  *slog.Logger
	stats   stats
	sink    EventSink  // nil: no events
	ownSink *AsyncSink // the sink New made around a synchronous one
	rounds  sync.Pool  // *round, see round.go
	closed  atomic.Bool
	inline  bool // some bidder is NonBlocking: launch calls it on Run's goroutine

	balances   BalanceCache      // the Ledger's, when it has the capability
	ledgerTime ledgerTimer       // the remote Ledger's latency, for the clearing time
	unknown    unknownAccountLog // accounts without budget, logged
}

// bidderSlot is a bidder with what the Auction keeps about it.
type bidderSlot struct {
	b       Bidder
	name    string
	index   int
	hash    uint64        // xxhash of the name, for throttling and ties
	timeout time.Duration // 0: until the fan-out deadline
	seats   []string      // the seats it may bid for besides its name (WithBidderSeats)
	hashes  []uint64      // hashes[k] is the xxhash of seats[k], for ties
	inline  bool          // the bidder is NonBlocking: called on Run's goroutine
	json    bool          // the bidder is a JSONBidder: launch encodes its request
	health  *health
}

// New returns an Auction configured by opts. It returns an error wrapping
// ErrInvalidOption when an option is out of range or options contradict each
// other; all such problems are reported at once. It then gives the budgets
// of WithBudgets to the Ledger and the Pacer, and returns the error of the
// first that one of them does not take.
func New(opts ...Option) (*Auction, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &Auction{cfg: cfg, byName: make(map[string]*bidderSlot, len(cfg.bidders))}
	for _, h := range cfg.hooks {
		if err := a.hooks.add(h); err != nil {
			return nil, err
		}
	}
	a.balances, _ = cfg.ledger.(BalanceCache)
	a.logger = cfg.logger
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	for i, b := range cfg.bidders {
		s := &bidderSlot{
			b: b, name: b.Name(), index: i,
			hash:    xxhash.Sum64String(b.Name()),
			timeout: cfg.allTimeout,
			health:  newHealth(cfg.healthWindow, cfg.throttle),
		}
		_, s.inline = b.(NonBlocking)
		_, s.json = b.(JSONBidder)
		a.inline = a.inline || s.inline
		s.seats = cfg.bidderSeats[s.name]
		for _, seat := range s.seats {
			s.hashes = append(s.hashes, xxhash.Sum64String(seat))
		}
		if d, ok := cfg.bidderTimeout[s.name]; ok {
			s.timeout = d
		}
		a.bidders = append(a.bidders, s)
		a.byName[s.name] = s
	}
	if err := a.setBudgets(); err != nil {
		return nil, err
	}
	if cfg.sink != nil { // last: an AsyncSink made here starts a goroutine
		a.sink = cfg.sink
		if _, ok := cfg.sink.(NonBlockingSink); !ok {
			s, err := NewAsyncSink(cfg.sink)
			if err != nil {
				return nil, err
			}
			a.sink, a.ownSink = s, s
		}
	}
	a.rounds.New = func() any { return newRound(a) }
	return a, nil
}

// Health returns the health of every bidder over the health window, in the
// order of WithBidders.
func (a *Auction) Health() []BidderHealth {
	now := a.cfg.clock.Now()
	out := make([]BidderHealth, len(a.bidders))
	for i, s := range a.bidders {
		out[i] = s.health.snapshot(s.name, now)
	}
	return out
}

// BidderHealth returns the health of the named bidder, and false when the
// Auction has no such bidder.
func (a *Auction) BidderHealth(name string) (BidderHealth, bool) {
	s, ok := a.byName[name]
	if !ok {
		return BidderHealth{}, false
	}
	return s.health.snapshot(name, a.cfg.clock.Now()), true
}

// Run runs one auction for req and returns its Result.
//
// Run validates req; a request it refuses gets a *RequestError (wrapping
// ErrInvalidRequest, no-bid reason 2) and a nil Result. Auction types other
// than first (1) and second price (2), including exchange-specific ones
// (500+), are refused, since gavel cannot know how to clear them. A valid
// request whose floors no currency of its cur can hold (a rate is missing)
// gets a *CurrencyError (wrapping ErrNoCurrency, no-bid reason 1, a
// technical no-bid) and a nil Result; no bidder is called. Run never
// modifies req: the bidders see a copy whose tmax is the time each really
// has.
//
// Run returns by its deadline: the earliest of ctx's deadline and the start
// plus the request's tmax (see WithDefaultTMax, WithMaxTMax), less the
// reserve (WithReserve) that the work after the fan-out may use. Bidders that
// have not answered by then are reported with StatusTimeout and whatever
// they send later is dropped. A bidder that panics is reported with
// StatusError and a *PanicError. If ctx is canceled before the auction ends
// (canceled, not past its deadline), Run returns ctx.Err() and a nil Result.
//
// After Close, Run returns ErrClosed and a nil Result.
//
// A request that nothing wins still gets a Result, with Result.NBR saying
// why; Result.BidResponse builds the response either way.
func (a *Auction) Run(ctx context.Context, req *openrtb2.BidRequest) (*Result, error) {
	start := time.Now()
	if a.closed.Load() {
		return nil, ErrClosed
	}
	r := a.rounds.Get().(*round)
	res, err := r.run(ctx, req, start)
	r.release()
	for _, h := range a.hooks.end {
		h.OnAuctionEnd(ctx, req, res, err)
	}
	return res, err
}

// Close releases what the Auction owns: it closes the AsyncSink that
// WithEventSink made, delivering the events still queued within ctx, and
// closes the idle connections of its bidders that keep some (those with a
// CloseIdleConnections method, such as HTTPBidder), so that an Auction
// replaced on a reload leaves no connection open behind it; a bidder used
// elsewhere too just opens new ones. It returns that sink's Close error. From then on Run returns ErrClosed at
// once; a Run already under way finishes, and its events, if the sink is
// closed by then, are counted in Stats.EventWriteErrors. Close may be
// called more than once; later calls do nothing and return nil.
func (a *Auction) Close(ctx context.Context) error {
	if a.closed.Swap(true) {
		return nil
	}
	for _, s := range a.bidders {
		if c, ok := s.b.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
	if a.ownSink != nil {
		return a.ownSink.Close(ctx)
	}
	return nil
}
