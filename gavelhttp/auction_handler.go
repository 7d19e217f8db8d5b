package gavelhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prebid/openrtb/v20/openrtb3"

	"github.com/gavelrtb/gavel"
)

// Headers the handler sets.
const (
	// HeaderOpenRTBVersion is set on every response to OpenRTBVersion.
	HeaderOpenRTBVersion = "X-Openrtb-Version"
	// OpenRTBVersion is the version of OpenRTB the handler speaks.
	OpenRTBVersion = "2.6"
	// HeaderNBR carries the OpenRTB no-bid reason of a 204 answer, which
	// has no body to hold it.
	HeaderNBR = "Gavel-Nbr"
)

// AuctionHandler is the OpenRTB 2.6 auction endpoint: an http.Handler that
// runs one auction of its gavel.Auction per POST. Its answers:
//
//   - 200 with the Result's BidResponse as JSON when something won, its
//     burls rewritten by WithNotices when given;
//   - 204 when nothing won, with the Result's no-bid reason in HeaderNBR;
//     also 204 with nbr 1 (technical) when Run returns a *gavel.CurrencyError:
//     the request is valid, the exchange cannot price it;
//   - 400 with a JSON error body {"error": ..., "nbr": 2, "problems": [...]}
//     for an empty or malformed body, trailing data after the JSON object,
//     a malformed gzip body, or a request Run refuses (*gavel.RequestError:
//     its reason and Problems);
//   - 405 for a method other than POST, 413 for a body past the size cap
//     (WithMaxRequestSize, after inflating), 415 for a Content-Encoding other
//     than gzip or identity;
//   - 503 after the Auction is closed, 500 for another error of Run or of
//     Notices.Rewrite;
//   - when more auctions are in flight than WithMaxInFlight allows, the
//     request is shed before its body is read: 204 with nbr ShedNBR, or 503
//     (WithShedStatus), either with HeaderShed.
//
// Every response carries HeaderOpenRTBVersion. A response body is gzipped
// when the request's Accept-Encoding allows it. Run gets the request's
// context, so the auction ends at the earlier of the client going away and
// the request's tmax; a client that went away is counted as canceled and
// gets a 204 it will not read. Swap puts another Auction in service
// without failing a request.
//
// The handler runs each auction with Auction.RunInto on a pooled Result,
// which a later request reuses once the answer is written. So the
// Auction's hooks must not keep the *Result, *BidOutcome or *BidderResult
// they are given after returning, as gavel.Hook already requires: a hook
// that keeps something copies it.
type AuctionHandler struct {
	gen   atomic.Pointer[generation] // the Auction that new requests run on; see Swap
	cfg   *config
	limit limiter
	stats counters
}

// NewAuctionHandler returns the auction endpoint for a. It returns an error
// wrapping gavel.ErrInvalidOption, listing every problem at once, when a is
// nil or an option is out of range.
func NewAuctionHandler(a *gavel.Auction, opts ...HandlerOption) (*AuctionHandler, error) {
	cfg, err := newConfig(opts)
	if a == nil {
		err = errors.Join(err, errNilAuction)
	}
	if err != nil {
		return nil, err
	}
	h := &AuctionHandler{cfg: cfg}
	h.gen.Store(newGeneration(a))
	h.limit.max = int64(cfg.maxInFlight)
	return h, nil
}

var errNilAuction = fmt.Errorf("%w: gavelhttp: auction must not be nil", gavel.ErrInvalidOption)

// ServeHTTP runs one auction for the bid request in r's body.
func (h *AuctionHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in := Request{
		Method:          r.Method,
		ContentLength:   r.ContentLength,
		ContentEncoding: r.Header.Get("Content-Encoding"),
		AcceptEncoding:  r.Header.Values("Accept-Encoding"),
		Body:            r.Body,
	}
	h.ServeRequest(r.Context(), w, &in)
}

// A Request is what the auction endpoint reads of an HTTP request, as a
// server other than net/http's hands it to ServeRequest (see
// adapters/gavelfasthttp). Its strings and bytes are only read, and only
// until ServeRequest returns.
type Request struct {
	Method          string
	ContentLength   int64    // -1 when unknown
	ContentEncoding string   // the Content-Encoding header
	AcceptEncoding  []string // the values of the Accept-Encoding headers
	// Body is read up to the size cap (WithMaxRequestSize); nil for a body
	// held whole in Data instead, as a server that reads bodies before its
	// handler (fasthttp) has it.
	Body io.Reader
	Data []byte
}

// ServeRequest runs one auction for r, with ctx as Run's context, and
// writes the answer to w, exactly as ServeHTTP does: ServeHTTP is
// ServeRequest on the net/http request. It is the handler's entry for other
// servers, which give it their request as a Request and an
// http.ResponseWriter that writes their response: WriteHeader and Write
// are called once each at most, after the headers are set.
func (h *AuctionHandler) ServeRequest(ctx context.Context, w http.ResponseWriter, r *Request) {
	if r.Method != http.MethodPost {
		h.stats.badMethod.Add(1)
		w.Header().Set("Allow", http.MethodPost)
		h.writeError(w, r, http.StatusMethodNotAllowed, "gavelhttp: method not allowed", nil)
		return
	}
	if !h.limit.acquire() {
		h.shed(w)
		return
	}
	defer h.limit.release()

	buf := getBuffer()
	defer putBuffer(buf)
	body, err := readBody(buf, r, h.cfg.maxRequestSize)
	if err != nil {
		h.bodyError(w, r, err)
		return
	}
	req, err := decodeRequest(h.codec(), body)
	if err != nil {
		h.stats.malformed.Add(1)
		h.writeError(w, r, http.StatusBadRequest, "gavelhttp: malformed bid request: "+err.Error(), nil)
		return
	}
	h.stats.decoded.Add(1)

	res := getResult()
	defer putResult(res) // once the answer is written: see result_pool.go
	if err := h.run(ctx, req, res); err != nil {
		h.runError(w, r, err)
		return
	}
	if !hasWinner(res) {
		if n := h.cfg.results; n != nil {
			n.notifyResult(res, nil, false)
		}
		h.stats.noBid.Add(1)
		h.noBid(w, res.NBR)
		return
	}
	resp := getResponse()
	defer putResponse(resp) // runs before putResult: once the answer is written
	res.BidResponseInto(resp)
	if n := h.cfg.notices; n != nil {
		if err := n.Rewrite(res, resp); err != nil {
			h.stats.errors.Add(1)
			h.writeError(w, r, http.StatusInternalServerError, err.Error(), nil)
			return
		}
	}
	if n := h.cfg.results; n != nil {
		n.notifyResult(res, resp, true)
	}
	h.stats.won.Add(1)
	buf.Reset()
	h.writeJSON(w, r, buf, http.StatusOK, resp)
}

func hasWinner(res *gavel.Result) bool {
	for i := range res.Imps {
		if res.Imps[i].Winner >= 0 {
			return true
		}
	}
	return false
}

// bodyError answers a body that could not be read.
func (h *AuctionHandler) bodyError(w http.ResponseWriter, r *Request, err error) {
	switch {
	case errors.Is(err, errTooLarge):
		h.stats.tooLarge.Add(1)
		w.Header().Set("Connection", "close")
		h.writeError(w, r, http.StatusRequestEntityTooLarge, err.Error(), nil)
	case errors.Is(err, errBadEncoding):
		h.stats.badEncoding.Add(1)
		h.writeError(w, r, http.StatusUnsupportedMediaType, err.Error(), nil)
	case errors.Is(err, errBadGzip):
		h.stats.badEncoding.Add(1)
		h.writeError(w, r, http.StatusBadRequest, err.Error(), nil)
	default: // the connection failed while the body was read
		h.stats.canceled.Add(1)
		h.writeError(w, r, http.StatusBadRequest, "gavelhttp: reading request body: "+err.Error(), nil)
	}
}

// runError answers an error of Run.
func (h *AuctionHandler) runError(w http.ResponseWriter, r *Request, err error) {
	var reqErr *gavel.RequestError
	var curErr *gavel.CurrencyError
	switch {
	case errors.As(err, &reqErr):
		h.stats.invalid.Add(1)
		h.writeError(w, r, http.StatusBadRequest, reqErr.Error(), reqErr)
	case errors.As(err, &curErr):
		h.stats.noBid.Add(1)
		h.noBid(w, curErr.Reason)
	case errors.Is(err, gavel.ErrNoCurrency):
		h.stats.noBid.Add(1)
		h.noBid(w, openrtb3.NoBidTechnicalError)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		h.stats.canceled.Add(1)
		h.noBid(w, openrtb3.NoBidTechnicalError)
	case errors.Is(err, gavel.ErrClosed):
		h.stats.errors.Add(1)
		h.writeError(w, r, http.StatusServiceUnavailable, err.Error(), nil)
	default:
		h.stats.errors.Add(1)
		h.writeError(w, r, http.StatusInternalServerError, err.Error(), nil)
	}
}

// noBid answers 204 with nbr in HeaderNBR.
func (h *AuctionHandler) noBid(w http.ResponseWriter, nbr openrtb3.NoBidReason) {
	hdr := w.Header()
	hdr.Set(HeaderOpenRTBVersion, OpenRTBVersion)
	hdr.Set(HeaderNBR, strconv.Itoa(int(nbr)))
	w.WriteHeader(http.StatusNoContent)
}
