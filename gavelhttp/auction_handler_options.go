package gavelhttp

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"

	"github.com/gavelrtb/gavel"
)

// Defaults of the AuctionHandler's options. They are documented on each
// option too.
const (
	// DefaultMaxRequestSize is the largest request body, after inflating,
	// that the handler reads: 1 MiB, ten times a large OpenRTB request.
	DefaultMaxRequestSize int64 = 1 << 20

	// DefaultMaxInFlightPerProc times GOMAXPROCS (read by
	// NewAuctionHandler) is the default bound on auctions in flight. An
	// auction spends most of its life waiting for its bidders, so the bound
	// follows Little's law: in flight = auctions a second × seconds each.
	// Measured on a 2-core shared machine (benchmarks module), a 3-imp
	// request costs the handler about 140 µs of CPU (decoding dominates)
	// and each HTTP bidder about 34 µs, so with 5 HTTP bidders a core
	// saturates near 3,000 auctions a second; at 80 ms an auction (bidders
	// answering inside a 100 ms tmax) that is about 240 auctions in flight
	// per core. Past that, more auctions only queue for the CPU and finish
	// late: they are shed instead. Auctions with more time or less CPU each
	// want a higher bound (WithMaxInFlight).
	DefaultMaxInFlightPerProc = 256

	// DefaultShedStatus is the status of a shed request: 204, a no-bid
	// with ShedNBR in the HeaderNBR header.
	DefaultShedStatus = http.StatusNoContent
)

// ShedNBR is the no-bid reason of a shed request: a technical no-bid (1).
const ShedNBR = 1

// A HandlerOption configures an AuctionHandler.
type HandlerOption interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	maxRequestSize int64
	maxInFlight    int
	shedStatus     int
	notices        *Notices
	results        *Notifier
	problems       []error
}

func newConfig(opts []HandlerOption) (*config, error) {
	c := &config{
		maxRequestSize: DefaultMaxRequestSize,
		maxInFlight:    DefaultMaxInFlightPerProc * runtime.GOMAXPROCS(0),
		shedStatus:     DefaultShedStatus,
	}
	for _, o := range opts {
		if o == nil {
			c.fail("option must not be nil")
			continue
		}
		o.apply(c)
	}
	if c.maxRequestSize <= 0 {
		c.fail("max request size must be positive, got %d", c.maxRequestSize)
	}
	if c.maxInFlight <= 0 {
		c.fail("max in flight must be positive, got %d", c.maxInFlight)
	}
	if c.shedStatus != http.StatusNoContent && c.shedStatus != http.StatusServiceUnavailable {
		c.fail("shed status must be 204 or 503, got %d", c.shedStatus)
	}
	if len(c.problems) > 0 {
		return nil, errors.Join(c.problems...)
	}
	return c, nil
}

func (c *config) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Errorf("%w: gavelhttp: "+format, append([]any{gavel.ErrInvalidOption}, args...)...))
}

// WithMaxRequestSize caps the request body, as sent and, for a gzip body,
// after inflating: a larger one gets 413, read no further than the cap. It must be positive. Default:
// DefaultMaxRequestSize.
func WithMaxRequestSize(n int64) HandlerOption {
	return optionFunc(func(c *config) { c.maxRequestSize = n })
}

// WithMaxInFlight bounds the auctions the handler runs at once, counted from
// before the body is read to the end of the response. A request past the
// bound is shed (see WithShedStatus) without its body being read. It must be
// positive. Default: DefaultMaxInFlightPerProc × GOMAXPROCS.
func WithMaxInFlight(n int) HandlerOption {
	return optionFunc(func(c *config) { c.maxInFlight = n })
}

// WithShedStatus sets the answer to a shed request: 204 (a no-bid, with
// ShedNBR in the HeaderNBR header) or 503 (with Retry-After: 1, for a load
// balancer that retries elsewhere). Default: DefaultShedStatus.
func WithShedStatus(code int) HandlerOption {
	return optionFunc(func(c *config) { c.shedStatus = code })
}

// WithNotices has every winner's burl rewritten by n (Notices.Rewrite) to
// point at the embedder's billing endpoint before the response is written.
// n must not be nil. Default: none, each winner's burl is the bidder's own,
// its macros expanded (Result.BidResponse).
func WithNotices(n *Notices) HandlerOption {
	return optionFunc(func(c *config) {
		if n == nil {
			c.fail("notices must not be nil")
		}
		c.notices = n
	})
}

// WithResultNotifier has the handler fire each auction's win and loss
// notices through n (Notifier.NotifyResult) as soon as the auction ends:
// the nurl of each winning bid that carries its markup, which is then
// removed from the response so that its reader does not fire it again,
// and the lurl of each losing bid, also when nothing won. A winning bid
// without markup keeps its nurl: its reader fetches the markup there.
// Queuing never blocks the answer; notices that find the queue full are
// dropped and counted by n. n must not be nil, and the caller closes it
// after the server has stopped. Default: no notices are fired.
func WithResultNotifier(n *Notifier) HandlerOption {
	return optionFunc(func(c *config) {
		if n == nil {
			c.fail("result notifier must not be nil")
		}
		c.results = n
	})
}
