package gavelhttp

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gavelrtb/gavel"
)

// Conflicts between the billing and the loss notice of one impression.
var (
	// ErrAlreadyBilled is returned by Release for an impression that this
	// process has billed; the loss endpoint answers it 409.
	ErrAlreadyBilled = errors.New("gavelhttp: impression already billed")
	// ErrAlreadyReleased is returned by Bill for an impression whose hold
	// this process has released on a loss notice; the billing endpoint
	// answers it 409.
	ErrAlreadyReleased = errors.New("gavelhttp: impression already released")
)

// holdKey names an impression: its hold, or for a winner without a hold
// its auction, imp and bid.
type holdKey struct {
	account      string
	id           uint64
	auction, bid string
	imp          string
}

func keyOf(b *gavel.Billing) holdKey {
	if b.Hold == (gavel.Hold{}) {
		return holdKey{auction: b.AuctionID, imp: b.ImpID, bid: b.BidID, account: b.Seat}
	}
	return holdKey{account: b.Hold.Account, id: b.Hold.ID}
}

// billing is one end of an impression's hold (a commit or a release),
// shared by the calls that race for it.
type billing struct {
	done    chan struct{} // closed once err is set
	err     error
	commit  bool // a commit; a release otherwise
	expires time.Time
}

// remembered is an entry of Notices.order.
type remembered struct {
	k holdKey
	e *billing
}

// BillingHandler returns the handler of billing notices (GET or POST, the
// token in the query parameter "t"); see Notices for its answers.
func (n *Notices) BillingHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.ServeNotice(r.Context(), w, KindBilling, r.Method, r.URL.Query().Get("t"))
	})
}

// LossHandler returns the handler of loss notices: the same token as the
// billing URL's (query parameter "t"), for an impression that will not be
// billed after all. It releases the hold once (Auction.Release) and
// answers as BillingHandler, with 409 for an impression already billed
// here. It fires nothing to the bidder: the token does not carry the lurl.
func (n *Notices) LossHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.ServeNotice(r.Context(), w, KindLoss, r.Method, r.URL.Query().Get("t"))
	})
}

// ServeNotice answers a notice of kind KindBilling (as BillingHandler) or
// KindLoss (as LossHandler) sent with method and carrying token (the
// query parameter "t"), writing the answer to w: it is the notice
// endpoints' entry for servers other than net/http's (see
// adapters/gavelfasthttp). A notice of another kind is answered 404.
func (n *Notices) ServeNotice(ctx context.Context, w http.ResponseWriter, kind Kind, method, token string) {
	switch kind {
	case KindBilling:
		n.serve(ctx, w, method, token, n.Bill)
	case KindLoss:
		n.serve(ctx, w, method, token, n.Release)
	default:
		http.Error(w, "gavelhttp: no such notice", http.StatusNotFound)
	}
}

func (n *Notices) serve(ctx context.Context, w http.ResponseWriter, method, token string, end func(context.Context, *Notice) error) {
	if method != http.MethodGet && method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	nt, err := n.keys.Verify(token, n.cfg.now())
	if err != nil {
		http.Error(w, err.Error(), tokenStatus(err))
		return
	}
	switch err := end(ctx, nt); {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrAlreadyBilled), errors.Is(err, ErrAlreadyReleased):
		http.Error(w, err.Error(), http.StatusConflict)
	default:
		http.Error(w, "gavelhttp: ledger failed", http.StatusInternalServerError)
	}
}

// tokenStatus is the answer to a token that Verify refused.
func tokenStatus(err error) int {
	switch {
	case errors.Is(err, ErrTokenExpired):
		return http.StatusGone
	case errors.Is(err, ErrTokenSignature), errors.Is(err, ErrTokenUnknownKey):
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// Bill commits the impression of a verified notice once and fires its
// bidder's burl; the billing endpoint calls it. It returns nil when the
// impression is billed, now or before (see Notices for what holds across
// processes), ErrAlreadyReleased when this process released it, and the
// ledger's error otherwise, in which case a later call may try again.
func (n *Notices) Bill(ctx context.Context, nt *Notice) error {
	return n.once(ctx, nt, true, n.commit)
}

// Release gives the hold of a verified notice back once; the loss
// endpoint calls it. It returns nil when the hold is released, now or
// before, or ended elsewhere; ErrAlreadyBilled when this process billed
// it; the ledger's error otherwise.
func (n *Notices) Release(ctx context.Context, nt *Notice) error {
	return n.once(ctx, nt, false, n.release)
}

// once runs end for nt's impression unless a commit or release of it is
// running or done: it waits for that one instead, and returns nil when it
// was of the same kind, the conflict when not. A failed end is forgotten,
// so that a retry tries again.
func (n *Notices) once(ctx context.Context, nt *Notice, commit bool, end func(context.Context, *Notice) error) error {
	k := keyOf(&nt.Billing)
	for {
		n.mu.Lock()
		e := n.billed[k]
		if e == nil {
			e = &billing{done: make(chan struct{}), commit: commit, expires: nt.Expires}
			n.remember(k, e)
			n.mu.Unlock()
			e.err = end(ctx, nt)
			if e.err != nil {
				n.mu.Lock()
				if n.billed[k] == e {
					delete(n.billed, k)
				}
				n.mu.Unlock()
			}
			close(e.done)
			return e.err
		}
		n.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		switch {
		case e.err != nil:
			continue // it failed: try again
		case e.commit == commit:
			return nil
		case e.commit:
			return ErrAlreadyBilled
		}
		return ErrAlreadyReleased
	}
}

// commit bills nt on the auction and fires its burl.
func (n *Notices) commit(ctx context.Context, nt *Notice) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.timeout)
	defer cancel()
	b := nt.Billing
	cost := (b.ClearMicros + 500) / 1000
	if b.Hold != (gavel.Hold{}) {
		cost = min(cost, b.Hold.Amount)
	}
	err := n.a.Load().Commit(ctx, b, cost)
	if errors.Is(err, gavel.ErrHoldNotFound) {
		return nil // ended by another process (or a loss notice there): nothing to fire
	}
	if err != nil {
		return err
	}
	for _, h := range n.cfg.billed {
		h.Billed(b, cost)
	}
	if nt.BURL != "" {
		v := gavel.MacroValues{ImpTS: n.cfg.now().UnixMilli(), Price: -1, MinToWin: -1}
		n.notifier.Send(KindBilling, b.Bidder, gavel.ExpandMacros(nt.BURL, &v))
	}
	return nil
}

// release gives nt's hold back.
func (n *Notices) release(ctx context.Context, nt *Notice) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.timeout)
	defer cancel()
	err := n.a.Load().Release(ctx, nt.Billing)
	if errors.Is(err, gavel.ErrHoldNotFound) {
		return nil // ended elsewhere
	}
	if err != nil {
		return err
	}
	for _, h := range n.cfg.released {
		h.Released(nt.Billing)
	}
	return nil
}

// remember records e under k, first forgetting the oldest entries that
// are done and either expired or beyond the memory's size. n.mu is held.
func (n *Notices) remember(k holdKey, e *billing) {
	now := n.cfg.now()
	drop := 0
	for ; drop < len(n.order); drop++ {
		old := n.order[drop]
		if n.billed[old.k] != old.e {
			continue // forgotten after a failure, or replaced
		}
		if !isDone(old.e) || (len(n.order)-drop < n.cfg.memory && now.Before(old.e.expires)) {
			break
		}
		delete(n.billed, old.k)
	}
	n.order = append(n.order[drop:], remembered{k: k, e: e})
	n.billed[k] = e
}

func isDone(b *billing) bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}
