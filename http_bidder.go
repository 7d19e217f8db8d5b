package gavel

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel/internal/httpwire"
)

// DefaultHTTPMaxResponseSize is the default cap on an HTTP bidder's response
// body, in bytes: 256 KiB, ample for a response with a few bids and their
// markup. See WithHTTPMaxResponseSize.
const DefaultHTTPMaxResponseSize = 256 << 10

// An HTTPBidder is a Bidder that sends bid requests to an OpenRTB 2.6
// endpoint as JSON over HTTP POST. Create one with NewHTTPBidder; the zero
// value is not usable. An HTTPBidder is safe for concurrent use; one value
// serves every auction of a process.
//
// Each call posts the request with the headers Content-Type:
// application/json, x-openrtb-version: 2.6 and Accept-Encoding: gzip, plus
// those of WithHTTPHeader. The JSON is built once per auction and shared by
// all the auction's HTTP bidders that get the same request (bidders with
// different timeouts get requests with different tmax, so different JSON),
// with the auction's Codec; responses are decoded with it too, unless the
// bidder has a codec of its own (WithCodec, WithHTTPCodec).
//
// The endpoint's answer is read as follows:
//   - 204 No Content, an empty body, or a response without bids (such as
//     {"id": "...", "nbr": 2}) is a no-bid: Bid returns nil, nil.
//   - Any status other than 200 and 204 gives an *HTTPStatusError; without
//     WithHTTPClient, redirects are not followed, so a 3xx is one too.
//   - A 200 body is decoded from gzip when its Content-Encoding says so, and
//     read up to the size cap (WithHTTPMaxResponseSize): a body past the cap,
//     on the wire or decompressed, gives an error wrapping
//     ErrResponseTooLarge and is not read further.
//   - A body that cannot be read or is not a JSON bid response gives an
//     error wrapping ErrInvalidResponse.
//
// When ctx is done before the answer is in, Bid returns ctx.Err(), which
// the auction reports as a timeout when the deadline passed.
//
// The bidder keeps idle connections open for later calls, up to the limits
// of its transport; CloseIdleConnections closes them.
type HTTPBidder struct {
	name    string
	maxSize int64
	gzipReq bool

	// out is the template of every request: method, URL and the full
	// header. Each call makes a shallow copy with its own context and
	// body, sharing URL and header, which net/http only reads.
	out *http.Request

	// Exactly one of these sends the requests. A transport (the default
	// one, or WithHTTPTransport's) the bidder calls directly: it needs
	// nothing of what http.Client adds (redirects, cookies, timeouts) but
	// its cost. A client from WithHTTPClient gets each request with a
	// header of its own, in case its transport or middleware write to it.
	rt     http.RoundTripper // NewHTTPTransport() or WithHTTPTransport's; tests may swap it
	client *http.Client

	// encode is encodeBody; tests wrap it to watch the shared body.
	encode func(context.Context, *openrtb2.BidRequest) ([]byte, error)

	ownCodec Codec // WithHTTPCodec; nil: the auction's, see codec
}

// An HTTPOption configures an HTTPBidder. Options are applied in order by
// NewHTTPBidder, which validates the result; a later option overrides an
// earlier one of the same kind, except WithHTTPHeader, which adds.
type HTTPOption interface {
	apply(*httpConfig)
}

type httpOptionFunc func(*httpConfig)

func (f httpOptionFunc) apply(c *httpConfig) { f(c) }

type httpConfig struct {
	client  *http.Client      // WithHTTPClient
	rt      http.RoundTripper // WithHTTPTransport
	header  http.Header
	maxSize int64
	gzipReq bool
	codec   Codec
	optionErrors
}

// WithHTTPClient makes the bidder send its requests with client.Do, for a
// transport of your own (TLS settings, a proxy, HTTP/2, instrumentation).
// The client may be shared with other bidders; its redirect policy, cookie
// jar and timeout apply, and each request gets its own copy of the header,
// so middleware may change it. The bidder sets Accept-Encoding itself and
// decompresses gzip on its own, so the transport's transparent
// decompression never applies. Deadlines come from the auction through the
// request context; a client Timeout shorter than them cuts calls short.
// Default: the bidder has a transport of its own from NewHTTPTransport and
// calls it directly, without an http.Client: no redirect is followed and no
// cookie kept.
func WithHTTPClient(client *http.Client) HTTPOption {
	return httpOptionFunc(func(c *httpConfig) {
		if client == nil {
			c.fail("http client must not be nil")
			return
		}
		c.client, c.rt = client, nil
	})
}

// WithHTTPTransport makes the bidder send its requests with rt.RoundTrip,
// as it does with its default transport: no http.Client in between, so no
// redirect followed, no cookie kept, no client timeout, and no copy of the
// request header per call (the bidder's own, which rt must not modify, as
// the http.RoundTripper contract says). For a transport of your own (TLS
// settings, HTTP/2, instrumentation) without what a client adds and what
// it costs per call. It replaces an earlier WithHTTPClient, and a later
// WithHTTPClient replaces it. Default: NewHTTPTransport().
func WithHTTPTransport(rt http.RoundTripper) HTTPOption {
	return httpOptionFunc(func(c *httpConfig) {
		if rt == nil {
			c.fail("http transport must not be nil")
			return
		}
		c.rt, c.client = rt, nil
	})
}

// WithHTTPHeader adds a header to every request, such as an API key. Given
// more than once, it adds every value, in order. The headers that the bidder
// sets itself (Content-Type, Content-Encoding, Content-Length,
// Accept-Encoding, Host, x-openrtb-version) cannot be set with it. Default:
// no extra headers.
func WithHTTPHeader(key, value string) HTTPOption {
	return httpOptionFunc(func(c *httpConfig) {
		if problem := httpwire.CheckHeader(key, value); problem != "" {
			c.fail("%s", problem)
			return
		}
		c.header.Add(key, value)
	})
}

// WithHTTPMaxResponseSize caps the response body at n bytes, both as sent
// and decompressed; a larger body fails the call with ErrResponseTooLarge.
// Default DefaultHTTPMaxResponseSize (256 KiB).
func WithHTTPMaxResponseSize(n int64) HTTPOption {
	return httpOptionFunc(func(c *httpConfig) {
		if n <= 0 {
			c.fail("max response size must be positive, got %d", n)
			return
		}
		c.maxSize = n
	})
}

// WithHTTPGzipRequests makes the bidder send its requests gzip-compressed,
// with Content-Encoding: gzip, for endpoints that accept it. The JSON is
// still shared by the auction's bidders, but each bidder compresses it on
// its own call (at gzip.BestSpeed). Default false: requests are sent as
// plain JSON.
func WithHTTPGzipRequests(on bool) HTTPOption {
	return httpOptionFunc(func(c *httpConfig) { c.gzipReq = on })
}

// NewHTTPBidder returns a bidder with the given name (its seat, see Bidder)
// that posts bid requests to endpoint, an absolute http or https URL. It
// returns an error wrapping ErrInvalidOption when the name is empty, the
// endpoint is not such a URL or an option is out of range; all such
// problems are reported at once.
func NewHTTPBidder(name, endpoint string, opts ...HTTPOption) (*HTTPBidder, error) {
	cfg := httpConfig{header: make(http.Header), maxSize: DefaultHTTPMaxResponseSize}
	if name == "" {
		cfg.fail("http bidder name must not be empty")
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		cfg.fail("http bidder %q: endpoint %q is not an absolute http or https url", name, endpoint)
	}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.err(); err != nil {
		return nil, err
	}
	out, err := http.NewRequest(http.MethodPost, endpoint, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: http bidder %q: %w", ErrInvalidOption, name, err)
	}
	out.Header = cfg.header
	out.Header.Set("Content-Type", "application/json")
	out.Header.Set("X-Openrtb-Version", "2.6")
	out.Header.Set("Accept-Encoding", "gzip")
	if cfg.gzipReq {
		out.Header.Set("Content-Encoding", "gzip")
	}
	b := &HTTPBidder{
		name: name, maxSize: cfg.maxSize, gzipReq: cfg.gzipReq,
		out: out, client: cfg.client, rt: cfg.rt, ownCodec: cfg.codec,
	}
	b.encode = b.encodeBody
	if b.client == nil && b.rt == nil {
		b.rt = NewHTTPTransport()
	}
	return b, nil
}

// NewHTTPTransport returns a new transport tuned for bid requests, the one
// that HTTP bidders use unless given a client (WithHTTPClient) or a
// transport (WithHTTPTransport) of their own. Start from it to build your
// own: the returned value is not shared.
//
// It keeps connections alive and up to 256 idle ones per host, enough for
// a bidder's share of a busy exchange (http.DefaultTransport keeps 2, so
// under load most calls would pay for a new connection), with no limit on
// the total. Idle connections are closed after 50s, before the 60s idle
// timeout common in load balancers, so that a request seldom races a
// server-side close. Dialing gives up after 250ms and a TLS handshake after
// 1s; a request's own deadline usually ends it sooner, but a canceled dial
// carries on in the background and may yield a connection for later calls.
// Response headers are capped at 64 KiB. It speaks HTTP/1.1 only
// (ForceAttemptHTTP2 is off): bidders expect it, and many connections spread
// the load of a fan-out better than one multiplexed one; set
// ForceAttemptHTTP2 on the returned transport for HTTP/2. It uses no proxy.
// It does not ask for compression itself (DisableCompression), as the HTTP
// bidder does.
func NewHTTPTransport() *http.Transport {
	d := &net.Dialer{Timeout: 250 * time.Millisecond, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:            d.DialContext,
		MaxIdleConnsPerHost:    256,
		IdleConnTimeout:        50 * time.Second,
		TLSHandshakeTimeout:    time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		DisableCompression:     true,
	}
}

// encodeBody is the request body of a call with ctx: the auction's shared
// JSON within Run, encoded with the bidder's own codec (or StdCodec)
// outside.
func (b *HTTPBidder) encodeBody(ctx context.Context, req *openrtb2.BidRequest) ([]byte, error) {
	return encodeRequest(ctx, req, b.ownCodec)
}

// Name returns the bidder's name.
func (b *HTTPBidder) Name() string { return b.name }

// EncodesBidRequest marks the bidder a JSONBidder.
func (b *HTTPBidder) EncodesBidRequest() {}

// CloseIdleConnections closes the idle connections of the bidder's client,
// as http.Client.CloseIdleConnections does. Call it when the bidder is no
// longer used; it may be used again after.
func (b *HTTPBidder) CloseIdleConnections() {
	if b.client != nil {
		b.client.CloseIdleConnections()
		return
	}
	if c, ok := b.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Bid implements Bidder: it posts req to the endpoint and reads the answer.
// See HTTPBidder for what the answers mean.
func (b *HTTPBidder) Bid(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	body, err := b.encode(ctx, req)
	if err != nil {
		return nil, encodeError(b.name, err)
	}
	if b.gzipReq {
		body = gzipBytes(body)
	}
	httpwire.GrowStack(0)
	hreq := b.out.WithContext(ctx)
	hreq.Body, hreq.ContentLength = newBodyReader(body), int64(len(body))
	hreq.GetBody = func() (io.ReadCloser, error) { return newBodyReader(body), nil }
	var hresp *http.Response
	if b.client != nil {
		hreq.Header = hreq.Header.Clone()
		hresp, err = b.client.Do(hreq)
	} else {
		hresp, err = b.rt.RoundTrip(hreq)
	}
	if err != nil {
		return nil, HTTPCallError(ctx, b.name, err)
	}
	resp, err := b.read(hresp, b.codec(ctx))
	if err != nil {
		drainClose(hresp.Body)
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	hresp.Body.Close()
	return resp, nil
}

// bodyReader is a request body: a reader of bytes that may be shared.
type bodyReader struct{ bytes.Reader }

func newBodyReader(p []byte) *bodyReader {
	r := new(bodyReader)
	r.Reset(p)
	return r
}

func (*bodyReader) Close() error { return nil }

// read interprets the response (see ReadHTTPAnswer). It reads a 200 body
// to its end or fails; the caller closes the body.
func (b *HTTPBidder) read(hresp *http.Response, c Codec) (*openrtb2.BidResponse, error) {
	return ReadHTTPAnswer(b.name, &HTTPAnswer{
		StatusCode:      hresp.StatusCode,
		ContentEncoding: hresp.Header.Get("Content-Encoding"),
		ContentLength:   hresp.ContentLength,
		Body:            hresp.Body,
		Codec:           c,
	}, b.maxSize)
}

// drainLimit is how much of an unread body is read away before closing it,
// so that its connection can be reused; a longer body costs the connection.
const drainLimit = 4 << 10

func drainClose(body io.ReadCloser) {
	io.CopyN(io.Discard, body, drainLimit)
	body.Close()
}

// gzipBytes returns p gzip-compressed, in a new slice: the transport may
// read a request body after the call has returned, so it cannot be pooled.
func gzipBytes(p []byte) []byte {
	s := getScratch()
	_ = httpwire.Gzip(&s.buf, p) // writes to a bytes.Buffer do not fail
	out := bytes.Clone(s.buf.Bytes())
	putScratch(s)
	return out
}
