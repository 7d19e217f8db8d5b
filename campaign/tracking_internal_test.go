package campaign

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/gavelhttp"
)

func TestDedupeExpiresAndBounds(t *testing.T) {
	d := newDedupe(dedupeShards * 4)
	now := time.Unix(1_767_225_600, 0)
	k := [16]byte{1}
	assert.True(t, d.add(k, now, now.Add(time.Second)))
	assert.False(t, d.add(k, now.Add(999*time.Millisecond), now.Add(2*time.Second)), "held within its window")
	assert.True(t, d.add(k, now.Add(time.Second), now.Add(2*time.Second)), "expired: new again")

	// One shard (first byte 0) holds at most 4 keys: the oldest go first.
	for i := range 100 {
		d.add([16]byte{0, byte(i)}, now, now.Add(time.Hour))
	}
	assert.LessOrEqual(t, d.len(), 5)
	assert.False(t, d.add([16]byte{0, 99}, now, now.Add(time.Hour)), "the newest is still held")
	assert.True(t, d.add([16]byte{0, 0}, now, now.Add(time.Hour)), "the oldest was forgotten early")
}

func testSigner() signer {
	return newSigner([]gavelhttp.Key{{ID: "k1", Secret: bytes.Repeat([]byte{7}, gavelhttp.MinKeyBytes)}})
}

func TestTokenRoundTrip(t *testing.T) {
	s := testSigner()
	now := time.UnixMilli(1_767_225_600_123)
	info := ClickInfo{AuctionID: "a\x00\"", ImpID: "1", BidID: "b", CampaignID: "c", CreativeID: "cr", Account: "acc",
		PriceMicros: -5, Currency: "USD", Landing: "https://shop.example/é?x=1"}
	click := token{kind: kindClick, issued: now, expires: now.Add(time.Hour), info: info}
	got, err := s.verify(s.sign(&click), kindClick, now)
	require.NoError(t, err)
	assert.Equal(t, click.info, got.info)
	assert.True(t, click.issued.Equal(got.issued) && click.expires.Equal(got.expires))

	info.Landing = ""
	conv := token{kind: kindConversion, issued: now, expires: now.Add(time.Hour), info: info, clickID: "0123"}
	got, err = s.verify(s.sign(&conv), kindConversion, now)
	require.NoError(t, err)
	assert.Equal(t, conv.info, got.info)
	assert.Equal(t, "0123", got.clickID)

	_, err = s.verify(s.sign(&conv), kindClick, now)
	assert.ErrorIs(t, err, ErrWrongToken)
	_, err = s.verify(s.sign(&conv), kindConversion, now.Add(time.Hour))
	assert.ErrorIs(t, err, gavelhttp.ErrTokenExpired, "refused from the expiry on")
}

// FuzzTokenVerify checks that no input makes verify panic or accept a
// token that sign did not make.
func FuzzTokenVerify(f *testing.F) {
	s := testSigner()
	now := time.UnixMilli(1_767_225_600_000)
	good := s.sign(&token{kind: kindClick, issued: now, expires: now.Add(time.Hour), info: ClickInfo{Landing: "https://x.example"}})
	for _, seed := range []string{"", ".", "a.b", good, good[:len(good)-2], good + "A", "wQ.AAAA"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		tk, err := s.verify(tok, kindClick, now)
		if err == nil {
			assert.Equal(t, good, s.sign(tk), "only a token sign made verifies")
		}
	})
}
