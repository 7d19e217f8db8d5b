package gavelhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// Defaults of the Notices' options.
const (
	// DefaultTokenTTL is how long the token of a winner without a hold
	// (no ledger account) stays valid; a winner with a hold's token
	// expires with its hold. WithTokenTTL.
	DefaultTokenTTL = time.Hour
	// DefaultBilledMemory is how many billed holds a Notices remembers at
	// most to answer retries (WithBilledMemory).
	DefaultBilledMemory = 1 << 16
	// DefaultBillingTimeout bounds the commit of one billing notice,
	// within the request's own context (WithBillingTimeout).
	DefaultBillingTimeout = 5 * time.Second
)

// ErrNotWinnerBid is returned by Rewrite when resp holds a bid that is not
// one of res's winners.
var ErrNotWinnerBid = errors.New("gavelhttp: response bid is not a winner of the result")

// Notices serves signed billing notices for an Auction.
//
// Rewrite points each winner's burl in a response at the billing endpoint
// (a URL the embedder mounts BillingHandler at) with a token that carries
// everything billing needs: the winner's gavel.Billing and the bidder's own
// burl. No state is kept between the auction and the notice.
//
// BillingHandler verifies the token and commits the hold once with
// Auction.Commit (which emits the billing event), then fires the bidder's
// burl, ${AUCTION_IMP_TS} set to the billing time in Unix ms, through the
// Notifier as a billing notice (retried). Answers:
//
//	204 billed now, or billed before (a retry): no money moves twice
//	400 malformed token, or no token
//	403 token signed with an unknown key, or tampered with
//	405 not GET or POST
//	410 expired token (its hold has returned to the account)
//	500 the ledger failed (a retry may succeed)
//
// Idempotency: within a process, concurrent calls for one hold wait for the
// first, and the outcome of each billed hold is remembered until its token
// expires (at most WithBilledMemory holds; past that the oldest is
// forgotten early), so retries answer 204 and fire nothing. Across
// processes (several exchanges behind one balancer, one shared ledger such
// as Redis), the ledger's Commit is the arbiter: only one process's commit
// succeeds, and only that process fires the bidder's burl. Another process
// sees gavel.ErrHoldNotFound for a token still valid, which means the hold
// was ended by someone: it answers 204 without billing or firing anything.
// The one case this cannot tell apart is a hold released by a loss notice
// and then billed: it is answered 204 and bills nothing. A winner without a
// hold (no account) has nothing in the ledger to arbitrate: its billing
// event is emitted once per process, and may be emitted again by another
// process.
//
// The zero Notices is not usable; NewNotices builds one. It is safe for
// concurrent use.
type Notices struct {
	a        *gavel.Auction
	keys     *Keys
	base     *url.URL
	notifier *Notifier
	cfg      noticesConfig

	mu     sync.Mutex
	billed map[holdKey]*billing
	order  []holdKey // billed in insertion order, for eviction
}

type noticesConfig struct {
	ttl, timeout time.Duration
	memory       int
	now          func() time.Time
	errs         []error
}

// A NoticesOption configures Notices.
type NoticesOption interface{ apply(*noticesConfig) }

type noticesOptionFunc func(*noticesConfig)

func (f noticesOptionFunc) apply(c *noticesConfig) { f(c) }

// WithTokenTTL sets how long the token of a winner without a hold stays
// valid (> 0). Default DefaultTokenTTL.
func WithTokenTTL(d time.Duration) NoticesOption {
	return noticesOptionFunc(func(c *noticesConfig) { c.ttl = d })
}

// WithBilledMemory sets how many billed holds are remembered at most
// (> 0). Default DefaultBilledMemory.
func WithBilledMemory(n int) NoticesOption {
	return noticesOptionFunc(func(c *noticesConfig) { c.memory = n })
}

// WithBillingTimeout bounds one commit (> 0). Default DefaultBillingTimeout.
func WithBillingTimeout(d time.Duration) NoticesOption {
	return noticesOptionFunc(func(c *noticesConfig) { c.timeout = d })
}

// WithNoticesClock sets the clock that tokens are signed and checked
// against, and that fills ${AUCTION_IMP_TS}. Default time.Now.
func WithNoticesClock(now func() time.Time) NoticesOption {
	return noticesOptionFunc(func(c *noticesConfig) {
		if now == nil {
			c.errs = append(c.errs, errors.New("nil clock"))
			return
		}
		c.now = now
	})
}

// holdKey names a billed impression: its hold, or for a winner without a
// hold its auction, imp and bid.
type holdKey struct {
	account      string
	id           uint64
	auction, bid string
	imp          string
}

// billing is one commit, shared by the calls that race for it.
type billing struct {
	done    chan struct{}
	err     error
	expires time.Time
}

// NewNotices returns the Notices of a, signing with keys, whose billing
// URLs are base with the token added as the query parameter "t" (base is
// where the embedder mounts BillingHandler, e.g.
// https://exchange.example/notice/billing). The bidders' burls are fired
// through notifier, which the caller owns and closes. It returns an error
// wrapping gavel.ErrInvalidOption naming every problem at once.
func NewNotices(a *gavel.Auction, keys *Keys, base string, notifier *Notifier, opts ...NoticesOption) (*Notices, error) {
	c := noticesConfig{ttl: DefaultTokenTTL, memory: DefaultBilledMemory, timeout: DefaultBillingTimeout, now: time.Now}
	for _, o := range opts {
		o.apply(&c)
	}
	errs := c.errs
	if a == nil {
		errs = append(errs, errors.New("nil auction"))
	}
	if keys == nil || len(keys.keys) == 0 {
		errs = append(errs, errors.New("no keys"))
	}
	if notifier == nil {
		errs = append(errs, errors.New("nil notifier"))
	}
	u, err := url.Parse(base)
	if err != nil || !u.IsAbs() || u.Host == "" {
		errs = append(errs, fmt.Errorf("base url %q is not absolute", base))
	}
	if c.ttl <= 0 || c.memory <= 0 || c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("token ttl %v, billed memory %d, billing timeout %v: want all > 0", c.ttl, c.memory, c.timeout))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: gavelhttp: notices: %w", gavel.ErrInvalidOption, errors.Join(errs...))
	}
	return &Notices{a: a, keys: keys, base: u, notifier: notifier, cfg: c, billed: make(map[holdKey]*billing)}, nil
}

// Rewrite replaces the burl of every winning bid in resp, built by
// res.BidResponse(), with a billing URL whose token carries the bid's
// Billing and its own burl (macros expanded, ${AUCTION_IMP_TS} kept);
// each winner of a dynamic pod gets its own. A winner without a burl gets
// one too: billing it still commits its hold. It returns an error wrapping
// ErrNotWinnerBid, and leaves resp unchanged, when a bid of resp is not
// among res's winners.
func (n *Notices) Rewrite(res *gavel.Result, resp *openrtb2.BidResponse) error {
	urls := make([][]string, len(resp.SeatBid))
	for s := range resp.SeatBid {
		urls[s] = make([]string, len(resp.SeatBid[s].Bid))
		for b := range resp.SeatBid[s].Bid {
			bid := &resp.SeatBid[s].Bid[b]
			w := winnerOf(res, resp.SeatBid[s].Seat, bid)
			if w < 0 {
				return fmt.Errorf("%w: seat %q bid %q imp %q", ErrNotWinnerBid, resp.SeatBid[s].Seat, bid.ID, bid.ImpID)
			}
			bill, err := res.Billing(w)
			if err != nil {
				return err
			}
			urls[s][b] = n.URL(bill, bid.BURL)
		}
	}
	for s := range urls {
		for b, u := range urls[s] {
			resp.SeatBid[s].Bid[b].BURL = u
		}
	}
	return nil
}

// winnerOf returns the index in res.Bids of the winner that bid of seat
// is, or -1.
func winnerOf(res *gavel.Result, seat string, bid *openrtb2.Bid) int {
	for i := range res.Bids {
		o := &res.Bids[i]
		if o.Won && o.Seat == seat && o.Bid.ID == bid.ID && o.Bid.ImpID == bid.ImpID {
			return i
		}
	}
	return -1
}

// URL returns the billing URL of bill, whose bidder's own burl is burl
// ("" for none). Its token expires with the hold, or after WithTokenTTL
// for a winner without a hold.
func (n *Notices) URL(bill gavel.Billing, burl string) string {
	exp := bill.Hold.Expires
	if bill.Hold == (gavel.Hold{}) {
		exp = n.cfg.now().Add(n.cfg.ttl)
	}
	u := *n.base
	q := u.Query()
	q.Set("t", n.keys.Sign(&Notice{Billing: bill, BURL: burl, Expires: exp}))
	u.RawQuery = q.Encode()
	return u.String()
}

// BillingHandler returns the handler of billing notices (GET or POST, the
// token in the query parameter "t"); see Notices for its answers.
func (n *Notices) BillingHandler() http.Handler {
	return http.HandlerFunc(n.serveBilling)
}

func (n *Notices) serveBilling(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	nt, err := n.keys.Verify(r.URL.Query().Get("t"), n.cfg.now())
	if err != nil {
		http.Error(w, err.Error(), tokenStatus(err))
		return
	}
	if err := n.Bill(r.Context(), nt); err != nil {
		http.Error(w, "gavelhttp: billing failed", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
// processes), and the ledger's error otherwise, in which case a later call
// may try again.
func (n *Notices) Bill(ctx context.Context, nt *Notice) error {
	b := &nt.Billing
	k := holdKey{account: b.Hold.Account, id: b.Hold.ID}
	if b.Hold == (gavel.Hold{}) {
		k = holdKey{auction: b.AuctionID, imp: b.ImpID, bid: b.BidID, account: b.Seat}
	}
	n.mu.Lock()
	if e := n.billed[k]; e != nil {
		n.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if e.err == nil {
			return nil
		}
		return n.Bill(ctx, nt) // the first attempt failed: try again
	}
	e := &billing{done: make(chan struct{}), expires: nt.Expires}
	n.remember(k, e)
	n.mu.Unlock()

	e.err = n.commit(ctx, nt)
	if e.err != nil {
		n.mu.Lock()
		delete(n.billed, k)
		n.mu.Unlock()
	}
	close(e.done)
	return e.err
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
	err := n.a.Commit(ctx, b, cost)
	if errors.Is(err, gavel.ErrHoldNotFound) {
		return nil // ended by another process (or a loss notice): nothing to fire
	}
	if err != nil {
		return err
	}
	if nt.BURL != "" {
		ts := strconv.FormatInt(n.cfg.now().UnixMilli(), 10)
		n.notifier.Send(KindBilling, b.Bidder, strings.ReplaceAll(nt.BURL, "${AUCTION_IMP_TS}", ts))
	}
	return nil
}

// remember records e under k, first forgetting expired entries and, when
// the memory is full, the oldest. n.mu is held.
func (n *Notices) remember(k holdKey, e *billing) {
	now := n.cfg.now()
	drop := 0
	for drop < len(n.order) {
		old := n.billed[n.order[drop]]
		if old != nil && len(n.order)-drop < n.cfg.memory && now.Before(old.expires) {
			break
		}
		if old != nil && isDone(old) {
			delete(n.billed, n.order[drop])
		} else if old != nil {
			break // still committing: keep it and what follows
		}
		drop++
	}
	n.order = append(n.order[drop:], k)
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
