package gavelhttp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gavelrtb/gavel/gavelhttp"
	"github.com/gavelrtb/gavel/internal/handlertest"
)

// TestHandlersOverNetHTTP runs the endpoints' end-to-end suite, shared
// with adapters/gavelfasthttp, on a net/http server.
func TestHandlersOverNetHTTP(t *testing.T) {
	handlertest.Run(t, func(t *testing.T, h *gavelhttp.AuctionHandler, n *gavelhttp.Notices) string {
		mux := http.NewServeMux()
		mux.Handle(handlertest.AuctionPath, h)
		if n != nil {
			mux.Handle(handlertest.BillingPath, n.BillingHandler())
			mux.Handle(handlertest.LossPath, n.LossHandler())
		}
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv.URL
	})
}
