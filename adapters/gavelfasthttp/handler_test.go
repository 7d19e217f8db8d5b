package gavelfasthttp_test

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/gavelrtb/gavel/adapters/gavelfasthttp"
	"github.com/gavelrtb/gavel/gavelhttp"
	"github.com/gavelrtb/gavel/internal/handlertest"
)

// serveFast serves handler with a fasthttp.Server on 127.0.0.1 until the
// test ends, and returns its base URL.
func serveFast(t *testing.T, handler fasthttp.RequestHandler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &fasthttp.Server{Handler: handler}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown())
		require.NoError(t, <-done)
	})
	return "http://" + l.Addr().String()
}

// TestHandlersOverFastHTTP runs the endpoints' end-to-end suite, the one
// gavelhttp's net/http handlers pass, on a fasthttp server.
func TestHandlersOverFastHTTP(t *testing.T) {
	handlertest.Run(t, func(t *testing.T, h *gavelhttp.AuctionHandler, n *gavelhttp.Notices) string {
		auction := gavelfasthttp.AuctionHandler(h)
		var billing, loss fasthttp.RequestHandler
		if n != nil {
			billing, loss = gavelfasthttp.BillingHandler(n), gavelfasthttp.LossHandler(n)
		}
		return serveFast(t, func(ctx *fasthttp.RequestCtx) {
			switch p := string(ctx.Path()); {
			case p == handlertest.AuctionPath:
				auction(ctx)
			case p == handlertest.BillingPath && billing != nil:
				billing(ctx)
			case p == handlertest.LossPath && loss != nil:
				loss(ctx)
			default:
				ctx.NotFound()
			}
		})
	})
}
