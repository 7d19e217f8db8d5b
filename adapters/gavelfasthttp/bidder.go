package gavelfasthttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/valyala/fasthttp"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/internal/httpwire"
)

// Defaults of the bidder's own fasthttp.HostClient (see NewBidder).
const (
	// DefaultMaxConnsPerHost bounds the connections to the endpoint; a
	// call that finds them all busy waits for one until its deadline.
	DefaultMaxConnsPerHost = 512
	// DefaultMaxIdleConnDuration closes a connection idle that long, before
	// the 60s idle timeout common in load balancers.
	DefaultMaxIdleConnDuration = 50 * time.Second
	// DefaultDialTimeout bounds a dial; a call's deadline may end it sooner.
	DefaultDialTimeout = 250 * time.Millisecond
)

// A Bidder is a gavel.Bidder that posts bid requests to an OpenRTB 2.6
// endpoint over fasthttp, with the contract of gavel.HTTPBidder: the same
// headers (Content-Type: application/json, x-openrtb-version: 2.6,
// Accept-Encoding: gzip, those of WithHeader), the JSON body shared by the
// auction's HTTP bidders (gavel.EncodeBidRequest), and its answers read by
// gavel.ReadHTTPAnswer, so with the same meaning and errors: 204, an empty
// body or a response without bids (nbr) is a no-bid; another status than
// 200 and 204 an *gavel.HTTPStatusError (redirects are not followed); a
// body past the cap (WithMaxResponseSize), as sent or inflated, an error
// wrapping gavel.ErrResponseTooLarge; an unreadable one an error wrapping
// gavel.ErrInvalidResponse.
//
// Deadlines: the call ends at the deadline of the bidder's context (an
// auction always gives one), which bounds the wait for a connection, the
// dial, the write and the read: fasthttp sets it on the connection, so the
// call returns then with ctx.Err() whatever the endpoint does, without a
// goroutine of its own. A context already done is answered with its error
// before anything is sent. fasthttp has no cancellation: a context
// canceled while the call is under way (without its deadline passing) is
// seen when the answer is in.
//
// A Bidder is safe for concurrent use; create it with NewBidder.
type Bidder struct {
	name    string
	maxSize int64
	gzipReq bool
	codec   gavel.Codec      // nil: the auction's
	tmpl    fasthttp.Request // method and headers of every request
	uri     fasthttp.URI     // the endpoint, parsed once
	doer    doer
	calls   sync.Pool // *call, its request's method, headers and URI set (getCall)
}

// doer is what the bidder needs of a fasthttp.Client or HostClient.
type doer interface {
	Do(req *fasthttp.Request, resp *fasthttp.Response) error
	DoDeadline(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) error
	CloseIdleConnections()
}

// NewBidder returns a bidder with the given name (its seat) that posts to
// endpoint, an absolute http or https URL. Without WithClient or
// WithHostClient it has a fasthttp.HostClient of its own for the endpoint's
// host: up to DefaultMaxConnsPerHost connections (WithMaxConnsPerHost),
// kept alive and closed after DefaultMaxIdleConnDuration idle, dialed with
// DefaultDialTimeout (or by WithDial), bodies read up to the size cap, no
// User-Agent, the URL sent as given. It returns an error wrapping
// gavel.ErrInvalidOption, naming every problem, when the name is empty, the
// endpoint is not such a URL or an option is out of range.
func NewBidder(name, endpoint string, opts ...Option) (*Bidder, error) {
	c := config{maxSize: gavel.DefaultHTTPMaxResponseSize, maxConns: DefaultMaxConnsPerHost}
	if name == "" {
		c.fail("fasthttp bidder name must not be empty")
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.fail("fasthttp bidder %q: endpoint %q is not an absolute http or https url", name, endpoint)
	}
	for _, o := range opts {
		if o == nil {
			c.fail("nil option")
			continue
		}
		o.apply(&c)
	}
	c.check()
	if len(c.problems) > 0 {
		return nil, errors.Join(c.problems...)
	}
	b := &Bidder{name: name, maxSize: c.maxSize, gzipReq: c.gzipReq, codec: c.codec, doer: c.doer()}
	if b.doer == nil {
		b.doer = c.ownClient(u)
	}
	b.tmpl.Header.SetMethod(fasthttp.MethodPost)
	if err := b.uri.Parse(nil, []byte(endpoint)); err != nil {
		return nil, fmt.Errorf("%w: gavelfasthttp: fasthttp bidder %q: endpoint %q: %w", gavel.ErrInvalidOption, name, endpoint, err)
	}
	b.uri.DisablePathNormalizing = true
	b.tmpl.Header.SetContentType("application/json")
	b.tmpl.Header.Set("X-Openrtb-Version", "2.6")
	b.tmpl.Header.Set("Accept-Encoding", "gzip")
	if c.gzipReq {
		b.tmpl.Header.Set("Content-Encoding", "gzip")
	}
	for _, h := range c.header {
		b.tmpl.Header.Add(h[0], h[1])
	}
	return b, nil
}

// hostClient returns the bidder's own client for u's host.
func (c *config) ownClient(u *url.URL) *fasthttp.HostClient {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return &fasthttp.HostClient{
		Addr:                     net.JoinHostPort(u.Hostname(), port),
		IsTLS:                    u.Scheme == "https",
		Dial:                     c.dial,
		DialTimeout:              dialTimeout(c.dial),
		MaxConns:                 c.maxConns,
		MaxConnWaitTimeout:       time.Minute, // the call's deadline comes first
		MaxIdleConnDuration:      DefaultMaxIdleConnDuration,
		MaxResponseBodySize:      int(c.maxSize),
		NoDefaultUserAgentHeader: true,
		DisablePathNormalizing:   true,
	}
}

// dialTimeout returns the dial of the bidder's own client: TCP, given up
// after DefaultDialTimeout or at the call's deadline, whichever comes
// first; nil when WithDial gave a dial of its own.
func dialTimeout(own fasthttp.DialFunc) fasthttp.DialFuncWithTimeout {
	if own != nil {
		return nil
	}
	return func(addr string, timeout time.Duration) (net.Conn, error) {
		if timeout <= 0 || timeout > DefaultDialTimeout {
			timeout = DefaultDialTimeout
		}
		d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
		return d.Dial("tcp", addr)
	}
}

// Name returns the bidder's name.
func (b *Bidder) Name() string { return b.name }

// EncodesBidRequest marks the bidder a gavel.JSONBidder: Run encodes the
// request before it starts the bidder.
func (b *Bidder) EncodesBidRequest() {}

// CloseIdleConnections closes the idle connections of the bidder's client.
// The bidder may be used again after.
func (b *Bidder) CloseIdleConnections() { b.doer.CloseIdleConnections() }

// call is the working memory of one Bid, pooled by its Bidder.
type call struct {
	req  fasthttp.Request
	resp fasthttp.Response
	ans  gavel.HTTPAnswer
}

// getCall returns a call whose request is ready but for its body: a pooled
// one keeps the method, headers and URI it was given when it was made,
// which are the same for every call of the bidder, so nothing is copied
// per call but the body.
func (b *Bidder) getCall() *call {
	if c, ok := b.calls.Get().(*call); ok {
		return c
	}
	c := new(call)
	b.tmpl.Header.CopyTo(&c.req.Header)
	c.req.SetURI(&b.uri) // a copy of the parsed URI: nothing parsed per call
	return c
}

// putCall ends a call. One that failed is not kept: its request is left
// as fasthttp had it when it gave up.
func (b *Bidder) putCall(c *call, failed bool) {
	if failed {
		return
	}
	c.req.ResetBody()
	c.resp.Reset()
	c.ans = gavel.HTTPAnswer{}
	b.calls.Put(c)
}

// Bid implements gavel.Bidder: it posts req to the endpoint and reads the
// answer. See Bidder for what the answers mean.
func (b *Bidder) Bid(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	body, err := gavel.EncodeBidRequest(ctx, req)
	if err != nil {
		return nil, gavel.HTTPCallError(context.Background(), b.name, fmt.Errorf("encoding the request: %w", err))
	}
	httpwire.GrowStack(0)
	c := b.getCall()
	failed := true
	defer func() { b.putCall(c, failed) }()
	if b.gzipReq {
		_ = httpwire.Gzip(c.req.BodyWriter(), body) // writes to the body buffer do not fail
	} else {
		c.req.SetBodyRaw(body) // not copied: the call is over when Bid returns
	}
	deadline, ok := ctx.Deadline()
	if ok {
		err = b.doer.DoDeadline(&c.req, &c.resp, deadline)
	} else {
		err = b.doer.Do(&c.req, &c.resp)
	}
	if err != nil {
		return nil, b.callError(ctx, c, err, deadline, ok)
	}
	failed = false
	c.ans = gavel.HTTPAnswer{
		StatusCode:      c.resp.StatusCode(),
		ContentEncoding: contentEncoding(c.resp.Header.ContentEncoding()),
		ContentLength:   int64(c.resp.Header.ContentLength()),
		Data:            c.resp.Body(),
		Codec:           b.codecFor(ctx),
	}
	resp, err := gavel.ReadHTTPAnswer(b.name, &c.ans, b.maxSize)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
	}
	return resp, err
}

// codecFor is the codec that decodes the answer of a call with ctx.
func (b *Bidder) codecFor(ctx context.Context) gavel.Codec {
	if b.codec != nil {
		return b.codec
	}
	if c, ok := gavel.CodecFromContext(ctx); ok {
		return c
	}
	return nil // gavel.StdCodec
}

// callError is what Bid returns for a call that failed with err.
func (b *Bidder) callError(ctx context.Context, c *call, err error, deadline time.Time, hasDeadline bool) error {
	switch {
	case hasDeadline && !time.Now().Before(deadline):
		// The connection's deadline, set from ctx's, ended the call:
		// ctx's timer fires now, if it has not yet.
		<-ctx.Done()
		return ctx.Err()
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		// The status was read before the body: a non-200 is a status
		// error whatever its body, as with net/http.
		c.ans = gavel.HTTPAnswer{StatusCode: c.resp.StatusCode(), ContentLength: b.maxSize + 1}
		_, err = gavel.ReadHTTPAnswer(b.name, &c.ans, b.maxSize)
		return err
	}
	return gavel.HTTPCallError(ctx, b.name, err)
}

// contentEncoding returns the header's value as a string, without
// allocating for the usual values.
func contentEncoding(v []byte) string {
	switch {
	case len(v) == 0:
		return ""
	case bytes.EqualFold(v, []byte("gzip")):
		return "gzip"
	case bytes.EqualFold(v, []byte("identity")):
		return "identity"
	}
	return string(v)
}
