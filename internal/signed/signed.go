// Package signed makes and checks the stateless tokens of gavel's URLs
// (billing notices in gavelhttp, clicks and conversions in campaign):
// a payload signed with HMAC-SHA256 under a rotating set of keys.
//
// Format: base64url(payload) "." base64url(HMAC-SHA256(secret, payload)),
// unpadded, strict. The payload is a kind byte, the signing key's id
// (length-prefixed), then the body its maker wrote with AppendString and
// the encoding/binary Append functions. The kind tells tokens of one use
// from another's, so that none is taken for a token of another kind.
package signed

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"strings"
	"sync"
)

// Errors of Verify, in the order of its checks. gavelhttp exports them as
// its ErrToken... errors.
var (
	ErrMalformed  = errors.New("gavelhttp: malformed token")
	ErrUnknownKey = errors.New("gavelhttp: token signed with an unknown key")
	ErrSignature  = errors.New("gavelhttp: bad token signature")
	ErrKind       = errors.New("gavelhttp: token of another kind")
)

// A Key is one signing key and the id that names it in tokens. Make it
// with NewKey: a Key made so keeps its HMACs for reuse (a new HMAC-SHA256
// costs two SHA-256 blocks of its key and four allocations, which was a
// tenth of an exchange's CPU when every winner's burl was signed); a Key
// literal works too, with a new HMAC for each token.
type Key struct {
	ID     string
	Secret []byte
	macs   *sync.Pool // of *mac keyed with Secret; nil: none kept
}

// NewKey returns the key id with secret, which it does not copy: the
// caller must not change it afterwards.
func NewKey(id string, secret []byte) Key {
	return Key{ID: id, Secret: secret, macs: &sync.Pool{New: func() any { return newMAC(secret) }}}
}

// A mac is an HMAC-SHA256 and room for its sum, pooled together: a sum
// written to an array on the stack escapes through the hash.Hash
// interface, one allocation per token.
type mac struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

func newMAC(secret []byte) *mac { return &mac{h: hmac.New(sha256.New, secret)} }

// of returns the HMAC-SHA256 of p, valid until m is put back.
func (m *mac) of(p []byte) []byte {
	m.h.Write(p)
	return m.h.Sum(m.sum[:0])
}

// mac returns an HMAC keyed with k, reset; give it back with putMAC.
func (k *Key) mac() *mac {
	if k.macs == nil {
		return newMAC(k.Secret)
	}
	m := k.macs.Get().(*mac)
	m.h.Reset()
	return m
}

func (k *Key) putMAC(m *mac) {
	if k.macs != nil {
		k.macs.Put(m)
	}
}

// Keys are signing keys, the newest last: the newest signs, any verifies.
// Their maker checks them (ids unique and short, secrets long enough).
type Keys []Key

var enc = base64.RawURLEncoding.Strict()

// Begin returns a payload of the given kind signed by the newest key, with
// room for n bytes of body: append the body to it, then Sign it.
func (ks Keys) Begin(kind byte, n int) []byte {
	id := ks[len(ks)-1].ID
	return ks.AppendBegin(make([]byte, 0, 1+binary.MaxVarintLen64+len(id)+n), kind)
}

// AppendBegin is Begin into p, a caller's scratch buffer, for a signer
// that reuses its payloads.
func (ks Keys) AppendBegin(p []byte, kind byte) []byte {
	p = append(p, kind)
	return AppendString(p, ks[len(ks)-1].ID)
}

// Sign returns the token of payload, made by Begin and the body appended
// to it.
func (ks Keys) Sign(payload []byte) string {
	return string(ks.AppendSign(make([]byte, 0, ks.TokenLen(len(payload))), payload))
}

// TokenLen is the length of the token of a payload of n bytes.
func (ks Keys) TokenLen(n int) int { return enc.EncodedLen(n) + 1 + enc.EncodedLen(sha256.Size) }

// AppendSign appends the token of payload (see Sign) to dst, which must
// not overlap payload, and returns the extended buffer.
func (ks Keys) AppendSign(dst, payload []byte) []byte {
	key := &ks[len(ks)-1]
	m := key.mac()
	dst = enc.AppendEncode(dst, payload)
	dst = append(dst, '.')
	dst = enc.AppendEncode(dst, m.of(payload))
	key.putMAC(m)
	return dst
}

// Verify checks token and returns a Reader over its body. It returns
// ErrMalformed, ErrUnknownKey, ErrSignature, then ErrKind when the token
// is not of kind, in that order: nothing of an unsigned payload is
// trusted beyond its key id.
func (ks Keys) Verify(token string, kind byte) (*Reader, error) {
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return nil, ErrMalformed
	}
	p, err1 := enc.DecodeString(p64)
	sum, err2 := enc.DecodeString(m64)
	if err1 != nil || err2 != nil || len(sum) != sha256.Size || len(p) == 0 {
		return nil, ErrMalformed
	}
	r := &Reader{b: p[1:]}
	id := r.String()
	if r.bad {
		return nil, ErrMalformed
	}
	key := ks.key(id)
	if key == nil {
		return nil, ErrUnknownKey
	}
	m := key.mac()
	ok = hmac.Equal(m.of(p), sum)
	key.putMAC(m)
	if !ok {
		return nil, ErrSignature
	}
	if p[0] != kind {
		return nil, ErrKind
	}
	return r, nil
}

func (ks Keys) key(id string) *Key {
	for i := range ks {
		if ks[i].ID == id {
			return &ks[i]
		}
	}
	return nil
}

// AppendString appends s, prefixed by its length as a uvarint.
func AppendString(p []byte, s string) []byte {
	p = binary.AppendUvarint(p, uint64(len(s)))
	return append(p, s...)
}

// A Reader decodes a token's body. The first field that does not decode
// makes it bad, and every later read returns a zero value.
type Reader struct {
	b   []byte
	bad bool
}

// Uvarint reads a uvarint.
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a varint.
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// String reads a string written by AppendString.
func (r *Reader) String() string {
	n := r.Uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// Done reports whether the whole body decoded, with nothing left over.
func (r *Reader) Done() bool { return !r.bad && len(r.b) == 0 }
