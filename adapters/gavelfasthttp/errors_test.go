package gavelfasthttp_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelfasthttp"
	"github.com/gavelrtb/gavel/internal/modtest"
)

func TestNewBidderReportsEveryProblem(t *testing.T) {
	_, err := gavelfasthttp.NewBidder("", "ftp://dsp.example",
		gavelfasthttp.WithMaxResponseSize(0),
		gavelfasthttp.WithMaxConnsPerHost(-1),
		gavelfasthttp.WithHeader("Content-Type", "text/plain"),
		gavelfasthttp.WithHeader("X Key", "v"),
		gavelfasthttp.WithHeader("X-Key", "a\r\nb"),
		gavelfasthttp.WithClient(&fasthttp.Client{}),
		gavelfasthttp.WithHostClient(&fasthttp.HostClient{}),
		nil,
	)
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	modtest.PrefixedOnce(t, err)
	for _, want := range []string{"name must not be empty", "not an absolute http or https url", "max response size",
		"max conns per host", `"Content-Type" is set by the bidder`, `invalid http header name "X Key"`,
		`invalid value for http header "X-Key"`, "exclusive", "MaxResponseBodySize", "nil option"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestNewBidderWithClients(t *testing.T) {
	for _, opt := range []gavelfasthttp.Option{
		gavelfasthttp.WithClient(&fasthttp.Client{MaxResponseBodySize: 1 << 20}),
		gavelfasthttp.WithHostClient(&fasthttp.HostClient{Addr: "dsp.example:443", IsTLS: true, MaxResponseBodySize: 1 << 20}),
	} {
		b, err := gavelfasthttp.NewBidder("dsp", "https://dsp.example/bid", opt)
		require.NoError(t, err)
		assert.Equal(t, "dsp", b.Name())
		b.CloseIdleConnections()
	}
}
