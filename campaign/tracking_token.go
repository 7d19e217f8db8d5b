package campaign

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"

	"github.com/gavelrtb/gavel/gavelhttp"
	"github.com/gavelrtb/gavel/internal/signed"
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

// signer signs and verifies click and conversion tokens with the keys of
// gavelhttp (HMAC-SHA256, the last key signs, any verifies) and the token
// format that billing tokens have (internal/signed); the kind byte keeps
// the three apart.
type signer struct {
	keys signed.Keys
}

// newSigner copies keys; NewTracker has checked them with
// gavelhttp.NewKeys.
func newSigner(keys []gavelhttp.Key) signer {
	s := signer{keys: make(signed.Keys, len(keys))}
	for i, k := range keys {
		s.keys[i] = signed.NewKey(k.ID, append([]byte(nil), k.Secret...))
	}
	return s
}

// sign returns the token of tk, signed with the newest key. After the kind
// and the key id, the payload holds issued and expiry (Unix ms, varints),
// auction id, imp id, bid id, campaign, creative, account, currency
// (length-prefixed strings), price micros (varint), and the landing URL
// (click) or the click id (conversion).
func (s *signer) sign(tk *token) string {
	c := &tk.info
	p := s.keys.Begin(tk.kind, 128+len(c.Landing))
	p = binary.AppendVarint(p, tk.issued.UnixMilli())
	p = binary.AppendVarint(p, tk.expires.UnixMilli())
	for _, f := range []string{c.AuctionID, c.ImpID, c.BidID, c.CampaignID, c.CreativeID, c.Account, c.Currency} {
		p = signed.AppendString(p, f)
	}
	p = binary.AppendVarint(p, c.PriceMicros)
	if tk.kind == kindClick {
		p = signed.AppendString(p, c.Landing)
	} else {
		p = signed.AppendString(p, tk.clickID)
	}
	return s.keys.Sign(p)
}

// verify checks tok and returns its token if it is of kind and not expired
// at now. It returns gavelhttp.ErrTokenMalformed, ErrTokenUnknownKey,
// ErrTokenSignature, then ErrWrongToken (a well-signed token of another
// kind: a conversion token at the click endpoint, a billing token), then
// ErrTokenExpired, in that order of checks: nothing of an unsigned payload
// is trusted beyond its key id.
func (s *signer) verify(tok string, kind byte, now time.Time) (*token, error) {
	r, err := s.keys.Verify(tok, kind)
	if errors.Is(err, signed.ErrKind) {
		return nil, ErrWrongToken
	}
	if err != nil {
		return nil, err
	}
	tk := decodeToken(r, kind)
	if tk == nil {
		return nil, gavelhttp.ErrTokenMalformed
	}
	if !now.Before(tk.expires) {
		return nil, gavelhttp.ErrTokenExpired
	}
	return tk, nil
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

// decodeToken decodes the fields after the key id, or returns nil.
func decodeToken(r *signed.Reader, kind byte) *token {
	tk := &token{kind: kind}
	tk.issued = time.UnixMilli(r.Varint())
	tk.expires = time.UnixMilli(r.Varint())
	c := &tk.info
	for _, f := range []*string{&c.AuctionID, &c.ImpID, &c.BidID, &c.CampaignID, &c.CreativeID, &c.Account, &c.Currency} {
		*f = r.String()
	}
	c.PriceMicros = r.Varint()
	if kind == kindClick {
		c.Landing = r.String()
	} else {
		tk.clickID = r.String()
	}
	if !r.Done() {
		return nil
	}
	return tk
}
