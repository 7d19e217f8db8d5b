package gavelfasthttp

import (
	"fmt"

	"github.com/valyala/fasthttp"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/internal/httpwire"
)

// An Option configures a Bidder. Options are applied in order; a later one
// overrides an earlier one of the same kind, except WithHeader, which adds.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	client     *fasthttp.Client
	hostClient *fasthttp.HostClient
	dial       fasthttp.DialFunc
	maxConns   int
	maxSize    int64
	gzipReq    bool
	header     [][2]string
	codec      gavel.Codec
	problems   []error
}

func (c *config) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Errorf("%w: gavelfasthttp: "+format, append([]any{gavel.ErrInvalidOption}, args...)...))
}

// check reports the options that do not go together.
func (c *config) check() {
	if c.client != nil && c.hostClient != nil {
		c.fail("WithClient and WithHostClient are exclusive")
	}
	if (c.client != nil || c.hostClient != nil) && c.dial != nil {
		c.fail("WithDial applies to the bidder's own client, not to one of WithClient or WithHostClient")
	}
	if c.client != nil && c.client.MaxResponseBodySize <= 0 {
		c.fail("the client of WithClient must set MaxResponseBodySize, so that bodies are capped while read")
	}
	if c.hostClient != nil && c.hostClient.MaxResponseBodySize <= 0 {
		c.fail("the client of WithHostClient must set MaxResponseBodySize, so that bodies are capped while read")
	}
}

// doer returns the client of WithClient or WithHostClient, or nil.
func (c *config) doer() doer {
	switch {
	case c.client != nil:
		return c.client
	case c.hostClient != nil:
		return c.hostClient
	}
	return nil
}

// WithClient makes the bidder send its requests with client, which may be
// shared with other bidders. Its settings apply (connections per host,
// TLS, dialing); it must set MaxResponseBodySize, which caps bodies while
// they are read (the bidder's own cap, WithMaxResponseSize, applies too,
// once read and after inflating). Redirects are not followed.
func WithClient(client *fasthttp.Client) Option {
	return optionFunc(func(c *config) {
		if client == nil {
			c.fail("client must not be nil")
		}
		c.client = client
	})
}

// WithHostClient is WithClient for a fasthttp.HostClient, whose Addr must
// be the endpoint's host.
func WithHostClient(client *fasthttp.HostClient) Option {
	return optionFunc(func(c *config) {
		if client == nil {
			c.fail("host client must not be nil")
		}
		c.hostClient = client
	})
}

// WithDial makes the bidder's own client dial with dial instead of TCP,
// such as (*fasthttputil.InmemoryListener).Dial for a server in memory.
func WithDial(dial fasthttp.DialFunc) Option {
	return optionFunc(func(c *config) {
		if dial == nil {
			c.fail("dial must not be nil")
		}
		c.dial = dial
	})
}

// WithMaxConnsPerHost bounds the connections of the bidder's own client to
// the endpoint (> 0); a call that finds them all busy waits for one until
// its deadline. Default DefaultMaxConnsPerHost.
func WithMaxConnsPerHost(n int) Option {
	return optionFunc(func(c *config) {
		if n <= 0 {
			c.fail("max conns per host must be positive, got %d", n)
		}
		c.maxConns = n
	})
}

// WithHeader adds a header to every request, as gavel.WithHTTPHeader does,
// with the same rules: the headers the bidder sets itself cannot be set.
func WithHeader(key, value string) Option {
	return optionFunc(func(c *config) {
		if problem := httpwire.CheckHeader(key, value); problem != "" {
			c.fail("%s", problem)
			return
		}
		c.header = append(c.header, [2]string{httpwire.CanonicalKey(key), value})
	})
}

// WithMaxResponseSize caps the response body at n bytes, as sent and
// decompressed, as gavel.WithHTTPMaxResponseSize does. Default
// gavel.DefaultHTTPMaxResponseSize.
func WithMaxResponseSize(n int64) Option {
	return optionFunc(func(c *config) {
		if n <= 0 {
			c.fail("max response size must be positive, got %d", n)
		}
		c.maxSize = n
	})
}

// WithGzipRequests sends the requests gzip-compressed (Content-Encoding:
// gzip), at gzip.BestSpeed. Default false.
func WithGzipRequests(on bool) Option {
	return optionFunc(func(c *config) { c.gzipReq = on })
}

// WithCodec makes the bidder decode its responses with codec, whatever the
// codec of the auction that calls it, as gavel.WithHTTPCodec does for the
// net/http bidder. Default: the calling auction's (gavel.WithCodec,
// gavel.CodecFromContext), or gavel.StdCodec outside an auction. Within an
// auction the request's JSON is the auction's, encoded once for all its
// HTTP bidders.
func WithCodec(codec gavel.Codec) Option {
	return optionFunc(func(c *config) {
		if codec == nil {
			c.fail("codec must not be nil")
			return
		}
		c.codec = codec
	})
}
