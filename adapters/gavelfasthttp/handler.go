package gavelfasthttp

import (
	"context"
	"net/http"
	"sync"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/gavelrtb/gavel/gavelhttp"
)

// AuctionHandler returns the auction endpoint of h as a fasthttp request
// handler: every request is answered by h.ServeRequest, so exactly as
// h.ServeHTTP answers it (statuses, headers, gzip, size caps, shedding,
// Stats), from the body that fasthttp has read whole.
//
// Two things differ from net/http, both fasthttp's own: the server reads
// a body before the handler runs, up to its MaxRequestBodySize (4 MiB by
// default; past it the server answers 413 itself, unseen by h's Stats), so
// set it near WithMaxRequestSize; and a handler is not told that its
// client went away, so an auction ends at its tmax, never earlier.
func AuctionHandler(h *gavelhttp.AuctionHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		w := getWriter(ctx)
		defer putWriter(w)
		r := &w.in
		req := &ctx.Request
		r.Method = unsafeString(req.Header.Method())
		r.ContentEncoding = unsafeString(req.Header.ContentEncoding())
		r.AcceptEncoding = w.accept[:0]
		for _, v := range req.Header.PeekAll(fasthttp.HeaderAcceptEncoding) {
			r.AcceptEncoding = append(r.AcceptEncoding, unsafeString(v))
		}
		r.Data = req.Body()
		r.ContentLength = int64(len(r.Data))
		// Not ctx: a RequestCtx is recycled once the handler returns, and
		// a bidder's call may outlive the auction.
		h.ServeRequest(context.Background(), w, r)
		w.flush()
	}
}

// BillingHandler returns the billing endpoint of n (n.BillingHandler) as a
// fasthttp request handler, answered by n.ServeNotice.
func BillingHandler(n *gavelhttp.Notices) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) { serveNotice(ctx, n, gavelhttp.KindBilling) }
}

// LossHandler returns the loss endpoint of n (n.LossHandler) as a
// fasthttp request handler, answered by n.ServeNotice.
func LossHandler(n *gavelhttp.Notices) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) { serveNotice(ctx, n, gavelhttp.KindLoss) }
}

func serveNotice(ctx *fasthttp.RequestCtx, n *gavelhttp.Notices, kind gavelhttp.Kind) {
	w := getWriter(ctx)
	defer putWriter(w)
	token := string(ctx.QueryArgs().Peek("t"))
	n.ServeNotice(context.Background(), w, kind, unsafeString(ctx.Method()), token)
	w.flush()
}

// unsafeString returns b as a string without copying: valid only while
// the request is, which the handlers do not outlive.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// responseWriter is an http.ResponseWriter that writes a fasthttp
// response, for gavelhttp's transport-neutral entries; pooled.
type responseWriter struct {
	ctx    *fasthttp.RequestCtx
	header http.Header
	wrote  bool
	in     gavelhttp.Request
	accept [2]string
}

var writers = sync.Pool{New: func() any { return &responseWriter{header: make(http.Header, 8)} }}

func getWriter(ctx *fasthttp.RequestCtx) *responseWriter {
	w := writers.Get().(*responseWriter)
	w.ctx = ctx
	return w
}

func putWriter(w *responseWriter) {
	clear(w.header)
	*w = responseWriter{header: w.header}
	writers.Put(w)
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	resp := &w.ctx.Response
	resp.SetStatusCode(status)
	for k, vs := range w.header {
		switch k {
		case "Content-Length": // fasthttp sets it from the body
			continue
		case "Content-Type":
			resp.Header.SetContentType(vs[0])
			continue
		}
		for _, v := range vs {
			resp.Header.Add(k, v)
		}
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.ctx.Write(p)
}

// flush ends a response whose handler wrote nothing.
func (w *responseWriter) flush() { w.WriteHeader(http.StatusOK) }
