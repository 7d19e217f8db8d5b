package main

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gavelrtb/gavel/adapters/gavelfasthttp"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// newFastServer returns the exchange's fasthttp server (-fast-addr): the
// auction and notice endpoints of the net/http server, the same
// gavelhttp.AuctionHandler and Notices behind them (gavelfasthttp), so
// that both serve the same Auction, follow the same reloads and count in
// the same metrics and dashboard. The other paths are the net/http
// server's alone.
func (x *exchange) newFastServer() *fasthttp.Server {
	auction := gavelfasthttp.AuctionHandler(x.handler)
	billing := gavelfasthttp.BillingHandler(x.notices)
	loss := gavelfasthttp.LossHandler(x.notices)
	return &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			switch string(ctx.Path()) {
			case pathAuction:
				auction(ctx)
			case pathBilling:
				billing(ctx)
			case pathLoss:
				loss(ctx)
			default:
				ctx.NotFound()
			}
		},
		// The auction handler caps the body itself, as sent and inflated;
		// fasthttp reads it whole first, up to this.
		MaxRequestBodySize:           int(x.maxRequestSize()),
		ReadTimeout:                  10 * time.Second,
		IdleTimeout:                  60 * time.Second,
		NoDefaultServerHeader:        true,
		DisablePreParseMultipartForm: true,
	}
}

// maxRequestSize is the auction handler's cap on a request body: the
// config file's server.max_request_size, or gavelhttp's default.
func (x *exchange) maxRequestSize() int64 {
	if x.conf != nil {
		return x.conf.Server.MaxRequestSize
	}
	return gavelhttp.DefaultMaxRequestSize
}

// shutdownFast stops the fasthttp server, if there is one, within ctx, and
// returns what went wrong, its Serve's result (fastErrc) included.
func (x *exchange) shutdownFast(ctx context.Context, fastErrc <-chan error) error {
	if x.fast == nil {
		return nil
	}
	return errors.Join(x.fast.ShutdownWithContext(ctx), <-fastErrc)
}
