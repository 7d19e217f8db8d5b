package gavelhttp

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/gavelrtb/gavel"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// errSameAuction is returned by AuctionHandler.Swap for the Auction it
// already serves.
var errSameAuction = fmt.Errorf("%w: gavelhttp: swap to the auction already served", gavel.ErrInvalidOption)

// generation is an Auction as the handler serves it, with the auctions
// running on it.
type generation struct {
	auction *gavel.Auction
	// running counts the auctions running on it, plus 1 while it is the
	// handler's current one. Once it falls to 0 it stays there: done is
	// closed, and no auction may start on it.
	running atomic.Int64
	done    chan struct{}
}

func newGeneration(a *gavel.Auction) *generation {
	g := &generation{auction: a, done: make(chan struct{})}
	g.running.Store(1)
	return g
}

// enter takes a place on the current generation. A generation found
// retired and drained is never entered: the current one is loaded again.
func (h *AuctionHandler) enter() *generation {
	for {
		g := h.gen.Load()
		for n := g.running.Load(); n > 0; n = g.running.Load() {
			if g.running.CompareAndSwap(n, n+1) {
				return g
			}
		}
	}
}

// leave gives back a place taken by enter, or the current generation's
// own place once it is retired.
func (g *generation) leave() {
	if g.running.Add(-1) == 0 {
		close(g.done)
	}
}

// run runs one auction on the current generation into res (RunInto).
func (h *AuctionHandler) run(ctx context.Context, req *openrtb2.BidRequest, res *gavel.Result) error {
	g := h.enter()
	defer g.leave()
	return g.auction.RunInto(ctx, req, res)
}

// Auction returns the Auction that new requests run on.
func (h *AuctionHandler) Auction() *gavel.Auction { return h.gen.Load().auction }

// Swap makes new requests run on next from now on, and returns the
// Auction they ran on before once every auction already running on it has
// returned; the caller then closes it (Auction.Close). If ctx ends first,
// Swap returns that Auction with ctx's error: the swap is made all the
// same, but auctions may still be running on the returned one, so close
// it later or with a context of its own. Requests keep the Auction they
// started on: none is refused or answered 503 because of a swap. The
// handler's options, its in-flight bound and its Stats carry on across
// swaps. Concurrent calls are allowed; each returns the Auction it
// replaced.
//
// Whatever both Auctions share must outlive the old one: give them the
// same Ledger (holds made by the old one are billed through Notices, see
// Notices.Swap), Pacer, ProfileStore and hooks, and an event sink that
// the embedder owns and closes (a gavel.NonBlockingSink such as an
// *gavel.AsyncSink: a synchronous sink given to gavel.WithEventSink is
// wrapped in a sink that Auction.Close closes).
//
// It returns an error wrapping gavel.ErrInvalidOption, and swaps nothing,
// when next is nil or is the Auction already served.
func (h *AuctionHandler) Swap(ctx context.Context, next *gavel.Auction) (*gavel.Auction, error) {
	switch {
	case next == nil:
		return nil, errNilAuction
	case next == h.gen.Load().auction:
		return nil, errSameAuction
	}
	old := h.gen.Swap(newGeneration(next))
	old.leave()
	select {
	case <-old.done:
		return old.auction, nil
	default:
	}
	select {
	case <-old.done:
		return old.auction, nil
	case <-ctx.Done():
		return old.auction, ctx.Err()
	}
}

// Swap makes billing and loss notices commit and release through next
// from now on, and returns the Auction they went through before. A notice
// under way finishes on the Auction it started with. A hold made by the
// old Auction is committed by next as well as by the old one, provided
// both share the Ledger (the same store, such as one *gavel.MemoryLedger
// or the same Redis): a token carries the hold, and any Auction on that
// ledger can end it. Give the old Auction time to finish its notices
// before closing it; Auction.Commit and Release do not need it open.
// Swap panics if next is nil.
func (n *Notices) Swap(next *gavel.Auction) *gavel.Auction {
	if next == nil {
		panic(errors.New("gavelhttp: Notices.Swap to a nil auction"))
	}
	return n.a.Swap(next)
}
