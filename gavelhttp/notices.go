package gavelhttp

import (
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
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
	// DefaultBillingTimeout bounds the commit of one billing notice
	// (WithBillingTimeout).
	DefaultBillingTimeout = 5 * time.Second
)

// ErrNotWinnerBid is returned by Rewrite when resp holds a bid that is not
// one of res's winners.
var ErrNotWinnerBid = errors.New("gavelhttp: response bid is not a winner of the result")

// Notices serves signed billing and loss notices for an Auction.
//
// Rewrite points each winner's burl in a response at the billing endpoint
// (a URL the embedder mounts BillingHandler at) with a token that carries
// everything billing needs: the winner's gavel.Billing and the bidder's own
// burl (see Keys.Sign for the format). No state is kept between the
// auction and the notice.
//
// BillingHandler verifies the token and commits the hold once with
// Auction.Commit (which emits the billing event), then fires the bidder's
// burl, ${AUCTION_IMP_TS} set to the billing time in Unix ms, through the
// Notifier as a billing notice (retried). LossHandler takes the same token
// and releases the hold once instead. Answers:
//
//	204 billed (released) now, or before: a retry; no money moves twice
//	400 malformed token, or no token
//	403 token signed with an unknown key, or tampered with
//	405 not GET or POST
//	409 billing an impression released here, or releasing one billed here
//	410 expired token: its hold has returned to the account by itself
//	500 the ledger failed (a retry may succeed)
//
// Idempotency. Within a process, concurrent calls for one impression wait
// for the first, and the outcome of each is remembered until its token
// expires (at most WithBilledMemory of them; past that the oldest is
// forgotten early), so retries answer 204 and fire nothing. Behind that,
// and across processes (several exchanges behind one balancer sharing one
// ledger, such as Redis), the ledger is the arbiter: a hold ends once, so
// only one Commit succeeds, and only the process whose Commit succeeded
// fires the bidder's burl. A call that finds the hold ended
// (gavel.ErrHoldNotFound) while its token is still valid knows that someone
// ended it: it answers 204 and bills and fires nothing. What another
// process cannot tell apart is a hold released there by a loss notice:
// billing it here answers 204 and bills nothing. So money moves at most
// once and the burl fires at most once, in any number of processes; 409
// only within one. A winner without a hold (no account, see
// gavel.Auction.Commit) has nothing in the ledger to arbitrate: its billing
// event is emitted once per process, and each process that receives its
// notice emits it again.
//
// The zero Notices is not usable; NewNotices builds one. It is safe for
// concurrent use.
type Notices struct {
	a        atomic.Pointer[gavel.Auction] // see Swap
	keys     *Keys
	base     *url.URL
	prefix   string // base + "?t=" when base has no query nor fragment; "" otherwise
	notifier *Notifier
	cfg      noticesConfig

	mu     sync.Mutex
	billed map[holdKey]*billing
	order  []remembered // billed in insertion order, for eviction
}

type noticesConfig struct {
	ttl, timeout time.Duration
	memory       int
	now          func() time.Time
	billed       []BilledHook
	released     []ReleasedHook
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

// WithBillingTimeout bounds one commit or release on the ledger (> 0). It
// runs apart from the request's context, so that a notice whose caller
// hangs up is not left half done. Default DefaultBillingTimeout.
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

// A BilledHook is told of every impression a Notices billed: called once
// per impression, after Auction.Commit returned nil for b and costMicros,
// and never for a retry or for a hold that another process ended. gavel
// has no hook of its own on billing, since billing happens outside Run;
// the Prometheus adapter's Metrics is one (its Billed method). It is
// called on the billing request's goroutine: it must be quick and safe for
// concurrent use.
type BilledHook interface {
	Billed(b gavel.Billing, costMicros int64)
}

// A ReleasedHook is told of every hold a Notices gave back on a loss
// notice, once, after Auction.Release returned nil for b. Like BilledHook,
// it must be quick and safe for concurrent use.
type ReleasedHook interface {
	Released(b gavel.Billing)
}

// WithNoticesHooks registers hooks, each implementing BilledHook,
// ReleasedHook or both; a value that implements neither is refused.
// Default none.
func WithNoticesHooks(hooks ...any) NoticesOption {
	return noticesOptionFunc(func(c *noticesConfig) {
		for _, h := range hooks {
			b, isBilled := h.(BilledHook)
			r, isReleased := h.(ReleasedHook)
			if isBilled {
				c.billed = append(c.billed, b)
			}
			if isReleased {
				c.released = append(c.released, r)
			}
			if !isBilled && !isReleased {
				c.errs = append(c.errs, fmt.Errorf("hook %T implements neither BilledHook nor ReleasedHook", h))
			}
		}
	})
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
	n := &Notices{keys: keys, base: u, prefix: tokenPrefix(u), notifier: notifier, cfg: c, billed: make(map[holdKey]*billing)}
	n.a.Store(a)
	return n, nil
}

// tokenPrefix returns base + "?t=" when base has no query nor fragment,
// so that a billing URL is that prefix and the token; "" otherwise.
func tokenPrefix(base *url.URL) string {
	if base.RawQuery != "" || base.ForceQuery || base.Fragment != "" {
		return ""
	}
	return base.String() + "?t="
}

// Rewrite replaces the burl of every winning bid in resp, built by
// res.BidResponse(), with a billing URL whose token carries the bid's
// Billing and its own burl (macros expanded, ${AUCTION_IMP_TS} kept);
// each winner of a dynamic pod gets its own. A winner without a burl gets
// one too: billing it still commits its hold. It returns an error wrapping
// ErrNotWinnerBid, and leaves resp unchanged, when a bid of resp is not
// among res's winners.
func (n *Notices) Rewrite(res *gavel.Result, resp *openrtb2.BidResponse) error {
	// Every bid is checked before any is rewritten, so that an error
	// leaves resp unchanged without a copy of its URLs.
	for s := range resp.SeatBid {
		sb := &resp.SeatBid[s]
		for b := range sb.Bid {
			if bid := &sb.Bid[b]; winnerOf(res, sb.Seat, bid) < 0 {
				return fmt.Errorf("%w: seat %q bid %q imp %q", ErrNotWinnerBid, sb.Seat, bid.ID, bid.ImpID)
			}
		}
	}
	for s := range resp.SeatBid {
		sb := &resp.SeatBid[s]
		for b := range sb.Bid {
			bid := &sb.Bid[b]
			bill, err := res.Billing(winnerOf(res, sb.Seat, bid))
			if err != nil { // not after the check above
				return err
			}
			bid.BURL = n.URL(bill, bid.BURL)
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
	notice := Notice{Billing: bill, BURL: burl, Expires: exp}
	if n.prefix != "" {
		// The URL below, without parsing and encoding a query: a token is
		// base64url and a dot, which a query does not escape.
		return n.keys.token(n.prefix, &notice)
	}
	token := n.keys.Sign(&notice)
	u := *n.base
	q := u.Query()
	q.Set("t", token)
	u.RawQuery = q.Encode()
	return u.String()
}
