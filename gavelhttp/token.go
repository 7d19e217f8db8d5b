package gavelhttp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/internal/signed"
)

// MinKeyBytes is the least length of a signing key: 32 bytes, the size of
// an HMAC-SHA256 output.
const MinKeyBytes = 32

// tokenVersion is the first byte of every token's payload.
const tokenVersion = 1

// Errors of Keys.Verify. Each refusal has its own sentinel so that the
// billing endpoint can answer it with its own status. The campaign
// package's click and conversion tokens are refused with the same errors.
var (
	// ErrTokenMalformed is returned for a token that is not one: bad
	// encoding, a truncated payload, an unknown version or a token of
	// another kind.
	ErrTokenMalformed = signed.ErrMalformed
	// ErrTokenUnknownKey is returned for a token signed with a key id that
	// the key set does not hold (a key rotated out, or a forgery).
	ErrTokenUnknownKey = signed.ErrUnknownKey
	// ErrTokenSignature is returned for a token whose signature does not
	// match its payload: it was tampered with.
	ErrTokenSignature = signed.ErrSignature
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
	keys   []Key
	signed signed.Keys // the same keys
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
		secret := append([]byte(nil), k.Secret...)
		ks.keys = append(ks.keys, Key{ID: k.ID, Secret: secret})
		ks.signed = append(ks.signed, signed.NewKey(k.ID, secret))
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

// Sign returns the token of n, signed with the newest key.
//
// Format: base64url(payload) "." base64url(HMAC-SHA256(secret, payload)),
// unpadded. The payload is a version byte (1), the key id, then n's
// fields as varint-length-prefixed strings and varints: expiry (Unix ms),
// auction id, imp id, bidder, seat, bid id, deal id, currency, clear
// micros, hold account, hold id, hold amount, hold expiry (Unix ns, 0 for
// none), burl. It is signed, not encrypted: the bidder can read it.
func (k *Keys) Sign(n *Notice) string {
	return k.token("", n)
}

// payloads are the scratch buffers of token, whose payloads end
// up in the token, base64-encoded.
var payloads = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledPayload is the largest payload buffer put back in the pool.
const maxPooledPayload = 4 << 10

// token returns prefix and the token of n (see Sign), in one allocation
// of their exact length.
func (k *Keys) token(prefix string, n *Notice) string {
	scratch := payloads.Get().(*[]byte)
	p := k.payload((*scratch)[:0], n)
	b := make([]byte, 0, len(prefix)+k.signed.TokenLen(len(p)))
	b = k.signed.AppendSign(append(b, prefix...), p)
	if cap(p) <= maxPooledPayload {
		*scratch = p[:0]
		payloads.Put(scratch)
	}
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is not written again
}

// payload appends the payload of n's token to p.
func (k *Keys) payload(p []byte, n *Notice) []byte {
	b := n.Billing
	p = k.signed.AppendBegin(p, tokenVersion)
	p = binary.AppendVarint(p, n.Expires.UnixMilli())
	for _, s := range [...]string{b.AuctionID, b.ImpID, b.Bidder, b.Seat, b.BidID, b.DealID, b.Currency} {
		p = signed.AppendString(p, s)
	}
	p = binary.AppendVarint(p, b.ClearMicros)
	p = signed.AppendString(p, b.Hold.Account)
	p = binary.AppendUvarint(p, b.Hold.ID)
	p = binary.AppendVarint(p, b.Hold.Amount)
	var hx int64
	if !b.Hold.Expires.IsZero() {
		hx = b.Hold.Expires.UnixNano()
	}
	p = binary.AppendVarint(p, hx)
	return signed.AppendString(p, n.BURL)
}

// Verify checks token and returns its Notice. It returns ErrTokenMalformed,
// ErrTokenUnknownKey, ErrTokenSignature, or ErrTokenExpired when now is at
// or past the token's expiry, in that order of checks: nothing of an
// unsigned payload is trusted beyond its key id.
func (k *Keys) Verify(token string, now time.Time) (*Notice, error) {
	r, err := k.signed.Verify(token, tokenVersion)
	if errors.Is(err, signed.ErrKind) {
		return nil, ErrTokenMalformed // another use's token, or a version to come
	}
	if err != nil {
		return nil, err
	}
	n, err := decodeNotice(r)
	if err != nil {
		return nil, err
	}
	if !now.Before(n.Expires) {
		return nil, ErrTokenExpired
	}
	return n, nil
}

// decodeNotice decodes the fields after the key id.
func decodeNotice(r *signed.Reader) (*Notice, error) {
	n := &Notice{Expires: time.UnixMilli(r.Varint())}
	b := &n.Billing
	for _, s := range []*string{&b.AuctionID, &b.ImpID, &b.Bidder, &b.Seat, &b.BidID, &b.DealID, &b.Currency} {
		*s = r.String()
	}
	b.ClearMicros = r.Varint()
	b.Hold.Account = r.String()
	b.Hold.ID = r.Uvarint()
	b.Hold.Amount = r.Varint()
	if hx := r.Varint(); hx != 0 {
		b.Hold.Expires = time.Unix(0, hx)
	}
	n.BURL = r.String()
	if !r.Done() {
		return nil, ErrTokenMalformed
	}
	return n, nil
}
