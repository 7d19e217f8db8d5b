package gavelhttp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gavelrtb/gavel"
)

// MinKeyBytes is the least length of a signing key: 32 bytes, the size of
// an HMAC-SHA256 output.
const MinKeyBytes = 32

// tokenVersion is the first byte of every token's payload.
const tokenVersion = 1

// Errors of Keys.Verify. Each refusal has its own sentinel so that the
// billing endpoint can answer it with its own status.
var (
	// ErrTokenMalformed is returned for a token that is not one: bad
	// encoding, a truncated payload, an unknown version.
	ErrTokenMalformed = errors.New("gavelhttp: malformed token")
	// ErrTokenUnknownKey is returned for a token signed with a key id that
	// the key set does not hold (a key rotated out, or a forgery).
	ErrTokenUnknownKey = errors.New("gavelhttp: token signed with an unknown key")
	// ErrTokenSignature is returned for a token whose signature does not
	// match its payload: it was tampered with.
	ErrTokenSignature = errors.New("gavelhttp: bad token signature")
	// ErrTokenExpired is returned for a well-signed token past its expiry.
	ErrTokenExpired = errors.New("gavelhttp: token expired")
)

// A Key is one HMAC-SHA256 signing key and the id that names it in tokens.
type Key struct {
	ID     string // non-empty, at most 255 bytes, unique within a Keys
	Secret []byte // at least MinKeyBytes
}

// Keys is a set of signing keys for notice tokens, for key rotation: the
// last key signs, any key verifies. To rotate, add a new key at the end
// everywhere, then, once every token signed with the old key has expired,
// remove the old one. A Keys is immutable and safe for concurrent use; the
// zero Keys is not usable (NewKeys builds one).
type Keys struct {
	keys []Key
}

// NewKeys returns the key set of keys, the newest last. It returns an error
// wrapping gavel.ErrInvalidOption that names every problem at once: no
// key, an empty or too long id, a duplicate id, a secret shorter than
// MinKeyBytes. The secrets are copied.
func NewKeys(keys ...Key) (*Keys, error) {
	var errs []error
	if len(keys) == 0 {
		errs = append(errs, errors.New("no signing key"))
	}
	seen := make(map[string]bool, len(keys))
	ks := &Keys{keys: make([]Key, 0, len(keys))}
	for i, k := range keys {
		switch {
		case k.ID == "":
			errs = append(errs, fmt.Errorf("key %d: empty id", i))
		case len(k.ID) > 255:
			errs = append(errs, fmt.Errorf("key %d: id longer than 255 bytes", i))
		case seen[k.ID]:
			errs = append(errs, fmt.Errorf("key %d: duplicate id %q", i, k.ID))
		}
		seen[k.ID] = true
		if len(k.Secret) < MinKeyBytes {
			errs = append(errs, fmt.Errorf("key %d (%q): secret of %d bytes, less than %d", i, k.ID, len(k.Secret), MinKeyBytes))
		}
		ks.keys = append(ks.keys, Key{ID: k.ID, Secret: append([]byte(nil), k.Secret...)})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: gavelhttp: %w", gavel.ErrInvalidOption, errors.Join(errs...))
	}
	return ks, nil
}

// A Notice is what a billing token carries: the Billing of one won
// impression, the bidder's own burl to fire once it is billed (macros
// expanded but ${AUCTION_IMP_TS}), and when the token expires.
type Notice struct {
	Billing gavel.Billing
	BURL    string
	Expires time.Time // the token is refused from this instant on
}

// tokenEnc is the encoding of tokens: URL-safe, unpadded, strict (no
// stray bits), so that every character of a token counts.
var tokenEnc = base64.RawURLEncoding.Strict()

// Sign returns the token of n, signed with the newest key.
//
// Format: base64url(payload) "." base64url(HMAC-SHA256(secret, payload)),
// unpadded. The payload is a version byte (1), the key id, then n's
// fields as varint-length-prefixed strings and varints: expiry (Unix ms),
// auction id, imp id, bidder, seat, bid id, deal id, currency, clear
// micros, hold account, hold id, hold amount, hold expiry (Unix ns, 0 for
// none), burl. It is signed, not encrypted: the bidder can read it.
func (k *Keys) Sign(n *Notice) string {
	key := &k.keys[len(k.keys)-1]
	b := n.Billing
	p := make([]byte, 0, 128+len(n.BURL))
	p = append(p, tokenVersion)
	p = appendString(p, key.ID)
	p = binary.AppendVarint(p, n.Expires.UnixMilli())
	for _, s := range []string{b.AuctionID, b.ImpID, b.Bidder, b.Seat, b.BidID, b.DealID, b.Currency} {
		p = appendString(p, s)
	}
	p = binary.AppendVarint(p, b.ClearMicros)
	p = appendString(p, b.Hold.Account)
	p = binary.AppendUvarint(p, b.Hold.ID)
	p = binary.AppendVarint(p, b.Hold.Amount)
	var hx int64
	if !b.Hold.Expires.IsZero() {
		hx = b.Hold.Expires.UnixNano()
	}
	p = binary.AppendVarint(p, hx)
	p = appendString(p, n.BURL)
	mac := hmac.New(sha256.New, key.Secret)
	mac.Write(p)
	return tokenEnc.EncodeToString(p) + "." + tokenEnc.EncodeToString(mac.Sum(nil))
}

// Verify checks token and returns its Notice. It returns ErrTokenMalformed,
// ErrTokenUnknownKey, ErrTokenSignature, or ErrTokenExpired when now is at
// or past the token's expiry, in that order of checks: nothing of an
// unsigned payload is trusted beyond its key id.
func (k *Keys) Verify(token string, now time.Time) (*Notice, error) {
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return nil, ErrTokenMalformed
	}
	p, err1 := tokenEnc.DecodeString(p64)
	sum, err2 := tokenEnc.DecodeString(m64)
	if err1 != nil || err2 != nil || len(sum) != sha256.Size || len(p) == 0 || p[0] != tokenVersion {
		return nil, ErrTokenMalformed
	}
	r := reader{b: p[1:]}
	id := r.str()
	if r.bad {
		return nil, ErrTokenMalformed
	}
	key := k.key(id)
	if key == nil {
		return nil, ErrTokenUnknownKey
	}
	mac := hmac.New(sha256.New, key.Secret)
	mac.Write(p)
	if !hmac.Equal(mac.Sum(nil), sum) {
		return nil, ErrTokenSignature
	}
	n, err := r.notice()
	if err != nil {
		return nil, err
	}
	if !now.Before(n.Expires) {
		return nil, ErrTokenExpired
	}
	return n, nil
}

func (k *Keys) key(id string) *Key {
	for i := range k.keys {
		if k.keys[i].ID == id {
			return &k.keys[i]
		}
	}
	return nil
}

func appendString(p []byte, s string) []byte {
	p = binary.AppendUvarint(p, uint64(len(s)))
	return append(p, s...)
}

// reader decodes a payload; bad is set by the first field that does not
// decode, and every later read returns a zero value.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// notice decodes the fields after the key id.
func (r *reader) notice() (*Notice, error) {
	n := &Notice{Expires: time.UnixMilli(r.varint())}
	b := &n.Billing
	for _, s := range []*string{&b.AuctionID, &b.ImpID, &b.Bidder, &b.Seat, &b.BidID, &b.DealID, &b.Currency} {
		*s = r.str()
	}
	b.ClearMicros = r.varint()
	b.Hold.Account = r.str()
	b.Hold.ID = r.uvarint()
	b.Hold.Amount = r.varint()
	if hx := r.varint(); hx != 0 {
		b.Hold.Expires = time.Unix(0, hx)
	}
	n.BURL = r.str()
	if r.bad || len(r.b) != 0 {
		return nil, ErrTokenMalformed
	}
	return n, nil
}
