package gavelhttp

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gavelrtb/gavel"
)

var gzipWriterPool = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// errorBody is the JSON body of a 4xx or 5xx answer.
type errorBody struct {
	Error    string   `json:"error"`
	NBR      int      `json:"nbr"`
	Problems []string `json:"problems,omitempty"`
}

// writeError answers status with a JSON error body. Its nbr is reqErr's
// reason, or 2 (invalid request) for a 4xx and 1 (technical) for a 5xx.
func (h *AuctionHandler) writeError(w http.ResponseWriter, r *Request, status int, msg string, reqErr *gavel.RequestError) {
	body := errorBody{Error: msg, NBR: 2}
	if status >= 500 {
		body.NBR = 1
	}
	if reqErr != nil {
		body.NBR = int(reqErr.Reason)
		body.Problems = reqErr.Problems
	}
	buf := getBuffer()
	defer putBuffer(buf)
	h.writeJSON(w, r, buf, status, &body)
}

// writeJSON answers status with v as JSON, gzipped when r accepts it. buf
// is empty scratch space.
func (h *AuctionHandler) writeJSON(w http.ResponseWriter, r *Request, buf *bytes.Buffer, status int, v any) {
	hdr := w.Header()
	hdr.Set(HeaderOpenRTBVersion, OpenRTBVersion)
	hdr.Set("Content-Type", "application/json")
	if err := encodeJSON(h.codec(), buf, v); err != nil {
		h.stats.errors.Add(1)
		http.Error(w, "gavelhttp: encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if !acceptsGzip(r.AcceptEncoding) {
		hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes())
		return
	}
	hdr.Set("Content-Encoding", "gzip")
	hdr.Add("Vary", "Accept-Encoding")
	w.WriteHeader(status)
	zw := gzipWriterPool.Get().(*gzip.Writer)
	zw.Reset(w)
	_, _ = zw.Write(buf.Bytes())
	_ = zw.Close()
	zw.Reset(io.Discard) // let go of w before pooling
	gzipWriterPool.Put(zw)
}

// encodeJSON appends v's JSON and a newline to buf, with c. With the std
// codec, HTML characters are not escaped: an adm is HTML, and stays
// readable and small. Another codec escapes them or not as its AppendJSON
// does; the JSON means the same.
func encodeJSON(c gavel.Codec, buf *bytes.Buffer, v any) error {
	if c == gavel.StdCodec() {
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	b, err := c.AppendJSON(buf.AvailableBuffer(), v)
	if err != nil {
		return err
	}
	buf.Write(b)
	return buf.WriteByte('\n')
}

// codec is the Codec of the Auction in service (gavel.WithCodec).
func (h *AuctionHandler) codec() gavel.Codec { return h.gen.Load().auction.Codec() }

// acceptsGzip reports whether the Accept-Encoding values list gzip with a
// non-zero quality.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
