package gavelhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelrtb/gavel"
)

// Defaults of the Notifier's options.
const (
	DefaultNotifierWorkers = 16                     // WithNotifierWorkers
	DefaultNotifierQueue   = 4096                   // WithNotifierQueue
	DefaultPerHostLimit    = 4                      // WithPerHostLimit
	DefaultNoticeTimeout   = 2 * time.Second        // WithNoticeTimeout
	DefaultBillingRetries  = 3                      // WithBillingRetries
	DefaultRetryBackoff    = 200 * time.Millisecond // WithRetryBackoff
	maxNoticeBody          = 4 << 10                // bytes of a notice's answer read, the rest dropped
)

// Kind is the kind of a notice.
type Kind uint8

// The kinds of notices.
const (
	KindWin     Kind = iota + 1 // nurl: retried never
	KindLoss                    // lurl: retried never
	KindBilling                 // the bidder's burl, after the impression is billed: retried with backoff
)

// String returns "win", "loss" or "billing".
func (k Kind) String() string {
	switch k {
	case KindWin:
		return "win"
	case KindLoss:
		return "loss"
	case KindBilling:
		return "billing"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// NoticeResult is what became of one notice, for hooks.
type NoticeResult struct {
	Kind     Kind
	Bidder   string
	URL      string
	Status   int   // the HTTP status of the last attempt; 0 when none was answered
	Attempts int   // attempts made; 0 when refused before any
	Err      error // nil when the bidder answered 2xx
}

// A NoticeDoneHook is told of every notice that was sent or failed (after
// its last attempt), refused by the guard included. It is called from the
// notifier's workers, or from Send for a URL refused at once: it must be
// quick and safe for concurrent use.
type NoticeDoneHook interface {
	OnNoticeDone(r NoticeResult)
}

// A NoticeDroppedHook is told of every notice dropped because the queue
// was full or the notifier closed.
type NoticeDroppedHook interface {
	OnNoticeDropped(kind Kind, bidder, url string)
}

// NotifierStats counts the notifier's notices since it started.
type NotifierStats struct {
	Queued  int64 // accepted into the queue
	Sent    int64 // answered 2xx
	Failed  int64 // failed after their last attempt, refusals included
	Refused int64 // refused by the guard (address, host, redirect), never sent
	Dropped int64 // not queued (queue full, closed) or abandoned by Close
	Retries int64 // billing attempts after the first
}

// A Notifier fires win, loss and billing notices to bidders,
// asynchronously: a bounded queue, a fixed number of workers, a limit per
// host, a timeout per attempt, retries with backoff for billing notices
// only, and an SSRF guard (see ErrForbiddenAddress). It follows no
// redirects. Use NewNotifier; the zero Notifier is not usable. It is safe
// for concurrent use. Close it to stop its workers.
type Notifier struct {
	cfg    notifierConfig
	client *http.Client
	queue  chan notice
	ctx    context.Context // canceled when Close gives up waiting
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool

	hostMu sync.Mutex
	hosts  map[string]chan struct{} // per-host semaphores, removed when idle
	users  map[string]int

	queued, sent, failed, refused, dropped, retries atomic.Int64
}

type notice struct {
	kind        Kind
	bidder, url string
}

type notifierConfig struct {
	workers, queue, perHost, retries int
	timeout, backoff                 time.Duration
	guard                            guard
	done                             []NoticeDoneHook
	dropped                          []NoticeDroppedHook
	errs                             []error
}

// A NotifierOption configures a Notifier.
type NotifierOption interface{ apply(*notifierConfig) }

type notifierOptionFunc func(*notifierConfig)

func (f notifierOptionFunc) apply(c *notifierConfig) { f(c) }

// WithNotifierWorkers sets how many notices are in flight at most, all
// hosts together (> 0). Default DefaultNotifierWorkers.
func WithNotifierWorkers(n int) NotifierOption {
	return notifierOptionFunc(func(c *notifierConfig) { c.workers = n })
}

// WithNotifierQueue sets how many notices wait at most (> 0); a notice
// that finds the queue full is dropped and counted. Default
// DefaultNotifierQueue.
func WithNotifierQueue(n int) NotifierOption {
	return notifierOptionFunc(func(c *notifierConfig) { c.queue = n })
}

// WithPerHostLimit sets how many notices to one host are in flight at
// most (> 0); it cannot exceed the workers. Default DefaultPerHostLimit.
func WithPerHostLimit(n int) NotifierOption {
	return notifierOptionFunc(func(c *notifierConfig) { c.perHost = n })
}

// WithNoticeTimeout sets the time limit of one attempt (> 0), connection
// included. Default DefaultNoticeTimeout.
func WithNoticeTimeout(d time.Duration) NotifierOption {
	return notifierOptionFunc(func(c *notifierConfig) { c.timeout = d })
}

// WithBillingRetries sets how many times a failed billing notice is tried
// again (>= 0), after WithRetryBackoff, doubling each time; a refusal by
// the guard and a 4xx answer are not retried. Win and loss notices are
// never retried. Default DefaultBillingRetries.
func WithBillingRetries(n int) NotifierOption {
	return notifierOptionFunc(func(c *notifierConfig) { c.retries = n })
}

// WithRetryBackoff sets the wait before the first retry (> 0). Default
// DefaultRetryBackoff.
func WithRetryBackoff(d time.Duration) NotifierOption {
	return notifierOptionFunc(func(c *notifierConfig) { c.backoff = d })
}

// WithAllowPrivateNetworks lets notices reach the addresses the guard
// refuses by default (ErrForbiddenAddress): for demos, tests and private
// deployments only. Default false.
func WithAllowPrivateNetworks(allow bool) NotifierOption {
	return notifierOptionFunc(func(c *notifierConfig) { c.guard.allowPrivate = allow })
}

// WithAllowedAddresses lets notices reach the given prefixes even where
// the guard would refuse them, e.g. 127.0.0.1/32 for a local DSP. Default
// none.
func WithAllowedAddresses(prefixes ...netip.Prefix) NotifierOption {
	return notifierOptionFunc(func(c *notifierConfig) {
		for _, p := range prefixes {
			if !p.IsValid() {
				c.errs = append(c.errs, fmt.Errorf("invalid allowed prefix %v", p))
				continue
			}
			c.guard.allowed = append(c.guard.allowed, p.Masked())
		}
	})
}

// WithBidderHosts restricts the notices of bidder to the listed host names
// (exact, case-insensitive, without port). A bidder without a list may
// notify any host that the guard lets through. Default none.
func WithBidderHosts(bidder string, hosts ...string) NotifierOption {
	return notifierOptionFunc(func(c *notifierConfig) {
		if bidder == "" || len(hosts) == 0 {
			c.errs = append(c.errs, fmt.Errorf("bidder hosts: empty bidder or no host for %q", bidder))
			return
		}
		if c.guard.hosts == nil {
			c.guard.hosts = make(map[string]map[string]bool)
		}
		hs := c.guard.hosts[bidder]
		if hs == nil {
			hs = make(map[string]bool, len(hosts))
			c.guard.hosts[bidder] = hs
		}
		for _, h := range hosts {
			hs[strings.ToLower(h)] = true
		}
	})
}

// WithNotifierHooks registers hooks, each implementing NoticeDoneHook,
// NoticeDroppedHook or both. Default none.
func WithNotifierHooks(hooks ...any) NotifierOption {
	return notifierOptionFunc(func(c *notifierConfig) {
		for _, h := range hooks {
			d, ok1 := h.(NoticeDoneHook)
			p, ok2 := h.(NoticeDroppedHook)
			if ok1 {
				c.done = append(c.done, d)
			}
			if ok2 {
				c.dropped = append(c.dropped, p)
			}
			if !ok1 && !ok2 {
				c.errs = append(c.errs, fmt.Errorf("hook %T implements no notifier hook interface", h))
			}
		}
	})
}

// NewNotifier starts a Notifier. It returns an error wrapping
// gavel.ErrInvalidOption that names every invalid option at once.
func NewNotifier(opts ...NotifierOption) (*Notifier, error) {
	c := notifierConfig{workers: DefaultNotifierWorkers, queue: DefaultNotifierQueue, perHost: DefaultPerHostLimit,
		timeout: DefaultNoticeTimeout, retries: DefaultBillingRetries, backoff: DefaultRetryBackoff}
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	n := &Notifier{cfg: c, queue: make(chan notice, c.queue),
		hosts: make(map[string]chan struct{}), users: make(map[string]int)}
	n.client = &http.Client{
		Transport: c.newTransport(),
		// Redirects are not followed: a bidder could point one anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	for range c.workers {
		n.wg.Add(1)
		go n.work()
	}
	return n, nil
}

func (c *notifierConfig) validate() error {
	errs := c.errs
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.workers > 0, "workers %d, want > 0", c.workers)
	check(c.queue > 0, "queue %d, want > 0", c.queue)
	check(c.perHost > 0 && c.perHost <= max(c.workers, 1), "per-host limit %d, want 1 to workers (%d)", c.perHost, c.workers)
	check(c.timeout > 0, "notice timeout %v, want > 0", c.timeout)
	check(c.retries >= 0, "billing retries %d, want >= 0", c.retries)
	check(c.backoff > 0, "retry backoff %v, want > 0", c.backoff)
	if len(errs) > 0 {
		return fmt.Errorf("%w: gavelhttp: notifier: %w", gavel.ErrInvalidOption, errors.Join(errs...))
	}
	return nil
}

func (c *notifierConfig) newTransport() *http.Transport {
	d := c.guard.dialer(&net.Dialer{Timeout: c.timeout})
	return &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, out of the guard's sight
		DialContext:           d.DialContext,
		MaxIdleConns:          c.workers,
		MaxIdleConnsPerHost:   c.perHost,
		MaxConnsPerHost:       c.perHost,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   c.timeout,
		ResponseHeaderTimeout: c.timeout,
	}
}

// Win queues the win notice (nurl) of bidder. It reports whether the
// notice was queued; a notice not queued is counted as dropped or, when
// the guard refuses its URL, as refused.
func (n *Notifier) Win(bidder, url string) bool { return n.Send(KindWin, bidder, url) }

// Loss queues the loss notice (lurl) of bidder, as Win.
func (n *Notifier) Loss(bidder, url string) bool { return n.Send(KindLoss, bidder, url) }

// Send queues a notice of the given kind without blocking. It returns
// false when the URL is refused (bad, forbidden literal address, host not
// allowed for the bidder), the queue is full or the notifier is closed.
func (n *Notifier) Send(kind Kind, bidder, url string) bool {
	if _, err := n.cfg.guard.check(bidder, url); err != nil {
		n.refused.Add(1)
		n.finish(NoticeResult{Kind: kind, Bidder: bidder, URL: url, Err: err})
		return false
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if !n.closed {
		select {
		case n.queue <- notice{kind: kind, bidder: bidder, url: url}:
			n.queued.Add(1)
			return true
		default:
		}
	}
	n.drop(notice{kind: kind, bidder: bidder, url: url})
	return false
}

func (n *Notifier) drop(nt notice) {
	n.dropped.Add(1)
	for _, h := range n.cfg.dropped {
		h.OnNoticeDropped(nt.kind, nt.bidder, nt.url)
	}
}

// Stats returns the notifier's counters.
func (n *Notifier) Stats() NotifierStats {
	return NotifierStats{Queued: n.queued.Load(), Sent: n.sent.Load(), Failed: n.failed.Load(),
		Refused: n.refused.Load(), Dropped: n.dropped.Load(), Retries: n.retries.Load()}
}

// Close stops taking notices and waits for the queued ones to be sent.
// When ctx ends first, it abandons what is in flight or queued (counted as
// dropped), waits for the workers to stop and returns ctx.Err(). Later
// calls return nil at once; Send after Close drops.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	close(n.queue)
	n.mu.Unlock()
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		n.client.CloseIdleConnections()
		close(done)
	}()
	select {
	case <-done:
		n.cancel()
		return nil
	case <-ctx.Done():
		n.cancel()
		<-done
		return ctx.Err()
	}
}

// work sends queued notices until the queue is closed and empty; once the
// notifier's ctx is canceled it drops what is left.
func (n *Notifier) work() {
	defer n.wg.Done()
	for nt := range n.queue {
		if n.ctx.Err() != nil {
			n.drop(nt)
			continue
		}
		n.deliver(nt)
	}
}

// deliver sends nt, with retries for billing notices.
func (n *Notifier) deliver(nt notice) {
	u, _ := n.cfg.guard.check(nt.bidder, nt.url) // checked by Send
	release := n.acquire(u.Host)
	defer release()
	res := NoticeResult{Kind: nt.kind, Bidder: nt.bidder, URL: nt.url}
	wait := n.cfg.backoff
	for {
		res.Attempts++
		res.Status, res.Err = n.attempt(nt.url)
		if res.Err == nil || !n.retriable(nt.kind, &res) {
			break
		}
		if !n.sleep(wait) {
			break
		}
		wait *= 2
		n.retries.Add(1)
	}
	switch {
	case res.Err == nil:
		n.sent.Add(1)
	case errors.Is(res.Err, ErrForbiddenAddress) || errors.Is(res.Err, ErrRedirect):
		n.refused.Add(1)
	}
	n.finish(res)
}

// finish counts a failure and tells the hooks.
func (n *Notifier) finish(res NoticeResult) {
	if res.Err != nil {
		n.failed.Add(1)
	}
	for _, h := range n.cfg.done {
		h.OnNoticeDone(res)
	}
}

// retriable reports whether the failed attempt res may be tried again.
func (n *Notifier) retriable(k Kind, res *NoticeResult) bool {
	if k != KindBilling || res.Attempts > n.cfg.retries || n.ctx.Err() != nil {
		return false
	}
	if errors.Is(res.Err, ErrForbiddenAddress) || errors.Is(res.Err, ErrRedirect) {
		return false
	}
	return res.Status == 0 || res.Status >= 500 || res.Status == http.StatusTooManyRequests
}

// sleep waits d, or less when the notifier is abandoned; it reports
// whether the whole wait passed.
func (n *Notifier) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.ctx.Done():
		return false
	}
}

// attempt makes one GET of url and returns its status.
func (n *Notifier) attempt(url string) (int, error) {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadNoticeURL, err)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxNoticeBody))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return resp.StatusCode, fmt.Errorf("%w: %d to %q", ErrRedirect, resp.StatusCode, resp.Header.Get("Location"))
	case resp.StatusCode >= 400:
		return resp.StatusCode, fmt.Errorf("gavelhttp: notice answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// acquire takes a place among the notices in flight to host and returns
// the function that gives it back.
func (n *Notifier) acquire(host string) func() {
	n.hostMu.Lock()
	sem := n.hosts[host]
	if sem == nil {
		sem = make(chan struct{}, n.cfg.perHost)
		n.hosts[host] = sem
	}
	n.users[host]++
	n.hostMu.Unlock()
	sem <- struct{}{}
	return func() {
		<-sem
		n.hostMu.Lock()
		if n.users[host]--; n.users[host] == 0 {
			delete(n.users, host)
			delete(n.hosts, host)
		}
		n.hostMu.Unlock()
	}
}
