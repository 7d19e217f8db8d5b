package gavel_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/internal/httpbidtest"
)

// TestHTTPBidderConformance runs the HTTP bidders' shared suite against
// NewHTTPBidder, on its own transport (tuned for a connection limit when
// the test asks for one) and through an http.Client.
func TestHTTPBidderConformance(t *testing.T) {
	httpbidtest.Run(t, func(t testing.TB, name, endpoint string, c httpbidtest.Config) httpbidtest.Bidder {
		var opts []gavel.HTTPOption
		if c.MaxResponseSize > 0 {
			opts = append(opts, gavel.WithHTTPMaxResponseSize(c.MaxResponseSize))
		}
		opts = append(opts, gavel.WithHTTPGzipRequests(c.GzipRequests))
		for _, h := range c.Headers {
			opts = append(opts, gavel.WithHTTPHeader(h[0], h[1]))
		}
		if c.MaxConnsPerHost > 0 {
			tr := gavel.NewHTTPTransport()
			tr.MaxConnsPerHost = c.MaxConnsPerHost
			opts = append(opts, gavel.WithHTTPTransport(tr))
		}
		b, err := gavel.NewHTTPBidder(name, endpoint, opts...)
		require.NoError(t, err)
		return b
	})
}
