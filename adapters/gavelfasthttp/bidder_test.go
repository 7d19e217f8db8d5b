package gavelfasthttp_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/adapters/gavelfasthttp"
	"github.com/gavelrtb/gavel/internal/httpbidtest"
)

// TestBidderConformance runs the HTTP bidders' shared suite, the one
// gavel.NewHTTPBidder passes, against the fasthttp bidder.
func TestBidderConformance(t *testing.T) {
	httpbidtest.Run(t, func(t testing.TB, name, endpoint string, c httpbidtest.Config) httpbidtest.Bidder {
		var opts []gavelfasthttp.Option
		if c.MaxResponseSize > 0 {
			opts = append(opts, gavelfasthttp.WithMaxResponseSize(c.MaxResponseSize))
		}
		if c.MaxConnsPerHost > 0 {
			opts = append(opts, gavelfasthttp.WithMaxConnsPerHost(c.MaxConnsPerHost))
		}
		opts = append(opts, gavelfasthttp.WithGzipRequests(c.GzipRequests))
		for _, h := range c.Headers {
			opts = append(opts, gavelfasthttp.WithHeader(h[0], h[1]))
		}
		b, err := gavelfasthttp.NewBidder(name, endpoint, opts...)
		require.NoError(t, err)
		return b
	})
}
