// Package httpwire holds what gavel's HTTP bidders share whatever their
// HTTP client (net/http in the core, fasthttp in adapters/gavelfasthttp):
// the rules of the headers a user may add and the compression of request
// bodies. It is for gavel's own modules only.
package httpwire

import (
	"compress/gzip"
	"io"
	"net/textproto"
	"strings"
	"sync"
)

// CheckHeader returns what is wrong with adding the header key: value to
// a bidder's requests, or "" when nothing is. Its key is canonicalized
// first (see CanonicalKey).
func CheckHeader(key, value string) string {
	switch {
	case !ValidKey(key):
		return "invalid http header name " + quote(key)
	case strings.ContainsAny(value, "\r\n\x00"):
		return "invalid value for http header " + quote(key)
	case Reserved(CanonicalKey(key)):
		return "http header " + quote(key) + " is set by the bidder"
	}
	return ""
}

func quote(s string) string { return `"` + s + `"` }

// CanonicalKey is http.CanonicalHeaderKey.
func CanonicalKey(key string) string { return textproto.CanonicalMIMEHeaderKey(key) }

// Reserved reports whether the bidder sets the header with the canonical
// key k itself.
func Reserved(k string) bool {
	switch k {
	case "Content-Type", "Content-Encoding", "Content-Length", "Accept-Encoding", "Host", "X-Openrtb-Version":
		return true
	}
	return false
}

// ValidKey reports whether key is a non-empty RFC 7230 token.
func ValidKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// gzipWriters holds *gzip.Writer at gzip.BestSpeed for request bodies.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// Gzip writes p to w gzip-compressed at gzip.BestSpeed, with a pooled
// compressor. It returns the first error of w.
func Gzip(w io.Writer, p []byte) error {
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(w)
	_, err := zw.Write(p)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	zw.Reset(io.Discard) // let go of w before pooling
	gzipWriters.Put(zw)
	return err
}
