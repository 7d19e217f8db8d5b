package gavel

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// This file holds what an HTTP bidder does whatever its HTTP client: the
// HTTPBidder of this package (net/http) and the bidders of other clients,
// such as adapters/gavelfasthttp's, share it, so that they read answers
// alike and return the same errors.

// EncodeBidRequest returns the JSON body of req for an HTTP bidder's call
// with ctx. When ctx is the context that Run gives a bidder, the bytes are
// encoded once per auction and shared by all the auction's HTTP bidders
// that get the same request (a bidder with a timeout of its own gets a
// different tmax, so a body of its own); the caller must not modify them.
// Otherwise it encodes req on its own.
func EncodeBidRequest(ctx context.Context, req *openrtb2.BidRequest) ([]byte, error) {
	return encodeRequest(ctx, req, nil)
}

// JSONBidder is an optional capability of a Bidder: one that sends the
// request as the JSON of EncodeBidRequest, as HTTPBidder and the bidder of
// adapters/gavelfasthttp do, says so with an EncodesBidRequest method. Run
// then encodes that JSON on its own goroutine before it starts the bidder,
// instead of the first such bidder doing it while the others wait for it;
// and the encoder's deep stack is then Run's, grown long ago, rather than
// a new goroutine's, which would grow it by copying it.
type JSONBidder interface {
	EncodesBidRequest()
}

// An HTTPAnswer is what an HTTP bidder got back from its endpoint, for
// ReadHTTPAnswer.
type HTTPAnswer struct {
	StatusCode      int
	ContentEncoding string // the Content-Encoding header, "" for none
	ContentLength   int64  // -1 when unknown
	// Body is read to its end or to the size cap; nil for a body held in
	// Data instead, all of it, as a client that reads whole bodies (such
	// as fasthttp) has it.
	Body io.Reader
	Data []byte
	// Codec decodes the body; nil is StdCodec. A bidder called by Run
	// decodes with the auction's (CodecFromContext) unless it has one of
	// its own.
	Codec Codec
}

// ReadHTTPAnswer interprets an HTTP bidder's answer as HTTPBidder does,
// bidder being the bidder's name and maxSize its cap on the body, as sent
// and decompressed: a 204, an empty body and a response without bids
// (with or without nbr) are a no-bid (nil, nil); a status other than 200
// and 204 gives an *HTTPStatusError; a body past maxSize an error wrapping
// ErrResponseTooLarge, without reading further; a body that cannot be read,
// inflated or decoded an error wrapping ErrInvalidResponse. It reads a.Body
// only for a 200; the caller closes it. The returned response shares no
// memory with a.Data.
func ReadHTTPAnswer(bidder string, a *HTTPAnswer, maxSize int64) (*openrtb2.BidResponse, error) {
	switch {
	case a.StatusCode == 204:
		return nil, nil
	case a.StatusCode != 200:
		return nil, &HTTPStatusError{StatusCode: a.StatusCode}
	case a.ContentLength > maxSize:
		return nil, tooLarge(bidder, maxSize)
	}
	s := getScratch()
	defer putScratch(s)
	data, err := s.readAnswer(a, maxSize)
	switch {
	case errors.Is(err, ErrResponseTooLarge):
		return nil, tooLarge(bidder, maxSize)
	case err != nil:
		return nil, fmt.Errorf("%w: http bidder %q: reading the body: %w", ErrInvalidResponse, bidder, err)
	case len(bytes.TrimSpace(data)) == 0:
		return nil, nil
	}
	resp, err := decodeBidResponse(a.Codec, data)
	if err != nil {
		return nil, fmt.Errorf("%w: http bidder %q: %v", ErrInvalidResponse, bidder, err)
	}
	if !hasBids(resp) {
		return nil, nil // no bids, with or without nbr
	}
	return resp, nil
}

// decodeBidResponse decodes the JSON of a bid response with c (nil:
// StdCodec).
func decodeBidResponse(c Codec, data []byte) (*openrtb2.BidResponse, error) {
	if c == nil {
		c = StdCodec()
	}
	m := new(oneBidResponse)
	resp := m.preset()
	if err := c.Unmarshal(data, resp); err != nil {
		return nil, err
	}
	m.unset()
	return resp, nil
}

// A oneBidResponse is the memory of a decoded bid response, in one
// allocation, with room for the usual answer of an HTTP bidder: one seat
// with one bid, of one advertiser domain and one category. A decoder fills
// a slice's array up to its capacity before it grows it, and decodes into
// the element it finds there (encoding/json and go-json alike), so such an
// answer is decoded without growing a slice (go-json grows them to 4
// elements, a few KB of bids); a larger one grows them as without it.
type oneBidResponse struct {
	resp    openrtb2.BidResponse
	seat    [1]openrtb2.SeatBid
	bid     [1]openrtb2.Bid
	adomain [1]string
	cat     [1]string
}

// preset returns the response to decode into, its seats, the first seat's
// bids and the first bid's adomain and cat empty slices of m's arrays.
func (m *oneBidResponse) preset() *openrtb2.BidResponse {
	m.bid[0].ADomain = m.adomain[:0:1]
	m.bid[0].Cat = m.cat[:0:1]
	m.seat[0].Bid = m.bid[:0:1]
	m.resp.SeatBid = m.seat[:0:1]
	return &m.resp
}

// unset gives the response decoded after preset the slices a decoding
// without preset gives, but for an empty list ("bid": [], "adomain": []):
// nil here as when absent, as a list of seats, of the first seat's bids or
// of the first bid's adomain or cat left empty is. A preset slice may have
// moved with its bid or seat to a grown array, or stayed in m's, unused.
func (m *oneBidResponse) unset() {
	if len(m.resp.SeatBid) == 0 {
		m.resp.SeatBid = nil // absent or empty: a no-bid either way
	}
	if s := m.resp.SeatBid; len(s) > 0 && len(s[0].Bid) == 0 {
		s[0].Bid = nil
	}
	if s := m.resp.SeatBid; len(s) > 0 && len(s[0].Bid) > 0 {
		unsetLists(&s[0].Bid[0])
	}
	unsetLists(&m.bid[0]) // where it is unused, or the same bid
	if len(m.resp.SeatBid) == 0 || &m.resp.SeatBid[0] != &m.seat[0] {
		m.seat[0].Bid = nil // seats grown elsewhere: m.seat is unused
	}
}

// unsetLists makes b's adomain and cat nil when empty.
func unsetLists(b *openrtb2.Bid) {
	if len(b.ADomain) == 0 {
		b.ADomain = nil
	}
	if len(b.Cat) == 0 {
		b.Cat = nil
	}
}

// HTTPCallError returns what an HTTP bidder's Bid returns when its call
// with ctx failed with err before an answer came: ctx's error when ctx is
// done (the auction reports a timeout when its deadline passed), err with
// the bidder's name otherwise.
func HTTPCallError(ctx context.Context, bidder string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return withContext(err, "http bidder %q", bidder)
}

// encodeError is the error of a request that could not be encoded.
func encodeError(bidder string, err error) error {
	return withContext(err, "http bidder %q: encoding the request", bidder)
}

func tooLarge(bidder string, max int64) error {
	return fmt.Errorf("%w: http bidder %q: body over %d bytes", ErrResponseTooLarge, bidder, max)
}

// httpScratch is the working memory of reading one response body, pooled.
type httpScratch struct {
	buf      bytes.Buffer
	data     bytes.Reader     // a.Data, when the body comes whole
	wire     io.LimitedReader // the body as sent
	inflated io.LimitedReader // the body decompressed
	br       *bufio.Reader    // buffers wire for gz; nil until first needed
	gz       *gzip.Reader     // nil until first needed
}

// maxPooledBuffer is the largest buffer put back in the pool; larger ones
// come from rare large responses and are left to the garbage collector.
const maxPooledBuffer = 1 << 20

var scratchPool = sync.Pool{New: func() any { return new(httpScratch) }}

func getScratch() *httpScratch { return scratchPool.Get().(*httpScratch) }

func putScratch(s *httpScratch) {
	if s.buf.Cap() > maxPooledBuffer {
		s.buf = bytes.Buffer{}
	}
	s.buf.Reset()
	s.data.Reset(nil)
	s.wire.R, s.inflated.R = nil, nil
	scratchPool.Put(s)
}

// readAnswer returns the body of a, decompressing gzip, valid until s goes
// back to the pool. Past limit bytes, on the wire or decompressed, it
// stops and returns ErrResponseTooLarge.
func (s *httpScratch) readAnswer(a *HTTPAnswer, limit int64) ([]byte, error) {
	body := a.Body
	if body == nil {
		if int64(len(a.Data)) > limit {
			return nil, ErrResponseTooLarge
		}
		if plainEncoding(a.ContentEncoding) {
			return a.Data, nil // read whole already, and capped
		}
		s.data.Reset(a.Data)
		body = &s.data
	}
	s.wire = io.LimitedReader{R: body, N: limit + 1}
	src := io.Reader(&s.wire)
	switch enc := strings.TrimSpace(a.ContentEncoding); {
	case plainEncoding(enc):
		if n := a.ContentLength; n > 0 {
			s.buf.Grow(int(n) + 1) // room for the read that sees EOF
		}
	case strings.EqualFold(enc, "gzip") || strings.EqualFold(enc, "x-gzip"):
		if err := s.resetGzip(); err != nil {
			if s.wire.N <= 0 {
				return nil, ErrResponseTooLarge
			}
			if err == io.EOF {
				return nil, nil // an empty body, with or without the header
			}
			return nil, err
		}
		s.inflated = io.LimitedReader{R: s.gz, N: limit + 1}
		src = &s.inflated
	default:
		return nil, fmt.Errorf("unsupported content encoding %q", enc)
	}
	_, err := s.buf.ReadFrom(src)
	if s.wire.N <= 0 || int64(s.buf.Len()) > limit {
		return nil, ErrResponseTooLarge
	}
	return s.buf.Bytes(), err
}

// plainEncoding reports whether the Content-Encoding enc leaves the body
// as it is.
func plainEncoding(enc string) bool {
	enc = strings.TrimSpace(enc)
	return enc == "" || strings.EqualFold(enc, "identity")
}

// resetGzip points s.gz at s.wire and reads the gzip header.
func (s *httpScratch) resetGzip() error {
	if s.br == nil {
		s.br = bufio.NewReaderSize(&s.wire, 4<<10)
	} else {
		s.br.Reset(&s.wire) // drop what is left of the last body
	}
	if s.gz == nil {
		gz, err := gzip.NewReader(s.br)
		s.gz = gz // nil on error
		return err
	}
	return s.gz.Reset(s.br)
}
