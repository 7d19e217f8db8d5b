package campaign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/gavelrtb/gavel/gavelhttp"
)

// Token kinds: the first byte of a token's payload. gavelhttp's billing
// tokens start with 1, so no token of one kind verifies as another.
const (
	kindClick      byte = 0xc1
	kindConversion byte = 0xc2
)

// token is what a click or conversion token carries. A click token
// carries info.Landing; a conversion token carries clickID instead, and
// its issued time is the click's.
type token struct {
	kind            byte
	issued, expires time.Time // Unix ms in the payload
	info            ClickInfo
	clickID         string // 32 hex digits; conversion tokens only
}

// tokenEnc is the encoding of tokens: URL-safe, unpadded, strict, as
// gavelhttp's.
var tokenEnc = base64.RawURLEncoding.Strict()

// signer signs and verifies tokens with HMAC-SHA256 over the key type of
// gavelhttp, with its rotation rule: the last key signs, any verifies. It
// is the same scheme as gavelhttp.Keys, whose Sign and Verify take only a
// billing Notice.
type signer struct {
	keys []gavelhttp.Key
}

// newSigner copies keys; NewTracker has checked them with
// gavelhttp.NewKeys.
func newSigner(keys []gavelhttp.Key) signer {
	s := signer{keys: make([]gavelhttp.Key, len(keys))}
	for i, k := range keys {
		s.keys[i] = gavelhttp.Key{ID: k.ID, Secret: append([]byte(nil), k.Secret...)}
	}
	return s
}

// sign returns the token of tk, signed with the newest key.
//
// Format: base64url(payload) "." base64url(HMAC-SHA256(secret, payload)),
// unpadded. The payload is the kind byte, the key id, then issued and
// expiry (Unix ms, varints), auction id, imp id, bid id, campaign,
// creative, account, currency (varint-length-prefixed strings), price
// micros (varint), and the landing URL (click) or the click id
// (conversion).
func (s *signer) sign(tk *token) string {
	key := &s.keys[len(s.keys)-1]
	c := &tk.info
	p := make([]byte, 0, 128+len(c.Landing))
	p = append(p, tk.kind)
	p = appendString(p, key.ID)
	p = binary.AppendVarint(p, tk.issued.UnixMilli())
	p = binary.AppendVarint(p, tk.expires.UnixMilli())
	for _, f := range []string{c.AuctionID, c.ImpID, c.BidID, c.CampaignID, c.CreativeID, c.Account, c.Currency} {
		p = appendString(p, f)
	}
	p = binary.AppendVarint(p, c.PriceMicros)
	if tk.kind == kindClick {
		p = appendString(p, c.Landing)
	} else {
		p = appendString(p, tk.clickID)
	}
	mac := hmac.New(sha256.New, key.Secret)
	mac.Write(p)
	return tokenEnc.EncodeToString(p) + "." + tokenEnc.EncodeToString(mac.Sum(nil))
}

// verify checks s and returns its token if it is of kind and not expired
// at now. It returns gavelhttp.ErrTokenMalformed, ErrTokenUnknownKey,
// ErrTokenSignature, then ErrWrongToken, then ErrTokenExpired, in that
// order of checks: nothing of an unsigned payload is trusted beyond its
// key id.
func (s *signer) verify(tok string, kind byte, now time.Time) (*token, error) {
	p64, m64, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, gavelhttp.ErrTokenMalformed
	}
	p, err1 := tokenEnc.DecodeString(p64)
	sum, err2 := tokenEnc.DecodeString(m64)
	if err1 != nil || err2 != nil || len(sum) != sha256.Size || len(p) == 0 || (p[0] != kindClick && p[0] != kindConversion) {
		return nil, gavelhttp.ErrTokenMalformed
	}
	r := reader{b: p[1:]}
	id := r.str()
	if r.bad {
		return nil, gavelhttp.ErrTokenMalformed
	}
	key := s.key(id)
	if key == nil {
		return nil, gavelhttp.ErrTokenUnknownKey
	}
	mac := hmac.New(sha256.New, key.Secret)
	mac.Write(p)
	if !hmac.Equal(mac.Sum(nil), sum) {
		return nil, gavelhttp.ErrTokenSignature
	}
	if p[0] != kind {
		return nil, ErrWrongToken
	}
	tk := r.token(kind)
	if tk == nil {
		return nil, gavelhttp.ErrTokenMalformed
	}
	if !now.Before(tk.expires) {
		return nil, gavelhttp.ErrTokenExpired
	}
	return tk, nil
}

func (s *signer) key(id string) *gavelhttp.Key {
	for i := range s.keys {
		if s.keys[i].ID == id {
			return &s.keys[i]
		}
	}
	return nil
}

// clickID is the id of the click made through tok: 32 hex digits of its
// SHA-256, and the same 16 bytes as a dedupe key.
func clickID(tok string) (string, [16]byte) {
	sum := sha256.Sum256([]byte(tok))
	var k [16]byte
	copy(k[:], sum[:16])
	return hex.EncodeToString(k[:]), k
}

// conversionKey is the dedupe key of a conversion: one per click id and
// order id.
func conversionKey(clickID, orderID string) [16]byte {
	h := sha256.New()
	h.Write([]byte(clickID))
	h.Write([]byte{0})
	h.Write([]byte(orderID))
	var k [16]byte
	copy(k[:], h.Sum(nil))
	return k
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
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.bad = true
		return ""
	}
	s := string(r.b[k : k+int(n)])
	r.b = r.b[k+int(n):]
	return s
}

// token decodes the fields after the key id, or returns nil.
func (r *reader) token(kind byte) *token {
	tk := &token{kind: kind}
	tk.issued = time.UnixMilli(r.varint())
	tk.expires = time.UnixMilli(r.varint())
	c := &tk.info
	for _, f := range []*string{&c.AuctionID, &c.ImpID, &c.BidID, &c.CampaignID, &c.CreativeID, &c.Account, &c.Currency} {
		*f = r.str()
	}
	c.PriceMicros = r.varint()
	if kind == kindClick {
		c.Landing = r.str()
	} else {
		tk.clickID = r.str()
	}
	if r.bad || len(r.b) != 0 {
		return nil
	}
	return tk
}
