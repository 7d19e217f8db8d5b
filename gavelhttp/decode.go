package gavelhttp

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
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

// readBody returns r's body, inflated: at most max bytes, or errTooLarge.
// A gzip body is capped twice, as sent and inflated, so that neither a
// bomb nor an endless stream of empty blocks is read past max. The body is
// read into buf, unless r holds it whole in Data and it needs no inflating.
func readBody(buf *bytes.Buffer, r *Request, max int64) ([]byte, error) {
	if r.ContentLength > max || int64(len(r.Data)) > max {
		return nil, errTooLarge
	}
	enc := r.ContentEncoding
	switch {
	case enc == "" || strings.EqualFold(enc, "identity"):
		if r.Body == nil {
			return r.Data, nil
		}
		if r.ContentLength > 0 {
			buf.Grow(int(r.ContentLength))
		}
		err := readCapped(buf, r.Body, max)
		return buf.Bytes(), err
	case strings.EqualFold(enc, "gzip"):
		body := r.Body
		if body == nil {
			body = bytes.NewReader(r.Data)
		}
		err := readGzip(buf, body, max)
		return buf.Bytes(), err
	default:
		return nil, errBadEncoding
	}
}

// inflater is a pooled gzip.Reader with the bufio.Reader it reads through:
// gzip.Reader.Reset would allocate one per request otherwise.
type inflater struct {
	br *bufio.Reader
	zr gzip.Reader
}

var inflaterPool = sync.Pool{New: func() any { return &inflater{br: bufio.NewReader(eofReader{})} }}

// readGzip inflates body into buf with a pooled inflater.
func readGzip(buf *bytes.Buffer, body io.Reader, max int64) error {
	sent := &cappedReader{r: body, n: max}
	in := inflaterPool.Get().(*inflater)
	defer func() {
		in.br.Reset(eofReader{}) // let go of the body before pooling
		inflaterPool.Put(in)
	}()
	in.br.Reset(sent)
	err := in.zr.Reset(in.br)
	if err == nil {
		err = readCapped(buf, &in.zr, max)
	}
	switch {
	case err == nil:
		return nil
	case sent.over || errors.Is(err, errTooLarge):
		return errTooLarge
	default:
		return errBadGzip
	}
}

// cappedReader reads at most n bytes of r, then fails with errTooLarge.
type cappedReader struct {
	r    io.Reader
	n    int64
	over bool
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		// At the cap: the body may end right here, or go on.
		var one [1]byte
		if n, err := c.r.Read(one[:]); n == 0 {
			return 0, err
		}
		c.over = true
		return 0, errTooLarge
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// eofReader is an empty body.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

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
func decodeRequest(c gavel.Codec, data []byte) (*openrtb2.BidRequest, error) {
	req := new(openrtb2.BidRequest)
	if err := c.Unmarshal(data, req); err != nil {
		return nil, err
	}
	return req, nil
}
