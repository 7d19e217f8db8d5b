package gavelhttp

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// Errors of reading a request body, each answered with its own status.
var (
	errTooLarge    = errors.New("gavelhttp: request body too large")
	errBadEncoding = errors.New("gavelhttp: unsupported content encoding")
	errBadGzip     = errors.New("gavelhttp: malformed gzip body")
)

// maxPooledBuffer is the largest buffer put back in the pool: a rare huge
// request does not pin its memory for good.
const maxPooledBuffer = 256 << 10

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer {
	b := bufferPool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		bufferPool.Put(b)
	}
}

var gzipReaderPool sync.Pool // of *gzip.Reader

// readBody reads r's body, inflated, into buf: at most max bytes, or
// errTooLarge.
func readBody(buf *bytes.Buffer, r *http.Request, max int64) error {
	enc := r.Header.Get("Content-Encoding")
	switch {
	case enc == "" || strings.EqualFold(enc, "identity"):
		if r.ContentLength > max {
			return errTooLarge
		}
		if r.ContentLength > 0 {
			buf.Grow(int(r.ContentLength))
		}
		return readCapped(buf, r.Body, max)
	case strings.EqualFold(enc, "gzip"):
		return readGzip(buf, r.Body, max)
	default:
		return errBadEncoding
	}
}

func readGzip(buf *bytes.Buffer, body io.Reader, max int64) error {
	zr, _ := gzipReaderPool.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(body)
	} else {
		err = zr.Reset(body)
	}
	if err != nil {
		return errBadGzip
	}
	defer gzipReaderPool.Put(zr)
	err = readCapped(buf, zr, max)
	if err != nil && !errors.Is(err, errTooLarge) {
		return errBadGzip
	}
	return err
}

// readCapped reads src to its end into buf, or fails with errTooLarge as
// soon as more than max bytes have come.
func readCapped(buf *bytes.Buffer, src io.Reader, max int64) error {
	n, err := buf.ReadFrom(io.LimitReader(src, max+1))
	if err != nil {
		return err
	}
	if n > max {
		return errTooLarge
	}
	return nil
}

// decodeRequest decodes one JSON bid request. Unknown fields are accepted
// (OpenRTB extends by ext and by fields newer than the reader's); anything
// but white space after the object is refused, as is an empty body.
func decodeRequest(data []byte) (*openrtb2.BidRequest, error) {
	req := new(openrtb2.BidRequest)
	if err := json.Unmarshal(data, req); err != nil {
		return nil, err
	}
	return req, nil
}
