package gavelhttp_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/gavelhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func secret(c byte) []byte { return bytes.Repeat([]byte{c}, gavelhttp.MinKeyBytes) }

func testKeys(t *testing.T, ks ...gavelhttp.Key) *gavelhttp.Keys {
	t.Helper()
	if len(ks) == 0 {
		ks = []gavelhttp.Key{{ID: "k1", Secret: secret('a')}}
	}
	keys, err := gavelhttp.NewKeys(ks...)
	require.NoError(t, err)
	return keys
}

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func testNotice() *gavelhttp.Notice {
	return &gavelhttp.Notice{
		Billing: gavel.Billing{AuctionID: "auction-1", ImpID: "imp-1", Bidder: "dsp", Seat: "seat-9", BidID: "b1",
			DealID: "deal-7", Currency: "EUR", ClearMicros: 2_510_000,
			Hold: gavel.Hold{Account: "seat-9", ID: 1<<40 | 17, Amount: 2510, Expires: t0.Add(time.Minute)}},
		BURL:    "https://dsp.example/bill?p=2.51&ts=${AUCTION_IMP_TS}",
		Expires: t0.Add(time.Minute),
	}
}

func TestTokenRoundTrip(t *testing.T) {
	keys := testKeys(t)
	for name, n := range map[string]*gavelhttp.Notice{
		"full":    testNotice(),
		"no hold": {Billing: gavel.Billing{AuctionID: "a", ImpID: "1", Bidder: "x"}, Expires: t0.Add(time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			tok := keys.Sign(n)
			assert.NotContains(t, tok, "=")
			assert.Empty(t, strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."), "url-safe")
			got, err := keys.Verify(tok, t0)
			require.NoError(t, err)
			assert.Equal(t, n.Billing.Hold.Expires.UnixNano(), got.Billing.Hold.Expires.UnixNano())
			got.Billing.Hold.Expires, n.Billing.Hold.Expires = time.Time{}, time.Time{}
			assert.Equal(t, n.Billing, got.Billing)
			assert.Equal(t, n.BURL, got.BURL)
			assert.Equal(t, n.Expires.UnixMilli(), got.Expires.UnixMilli())
		})
	}
}

// Every byte of a token counts: flipping any bit of any character is
// refused, as malformed or as a bad signature.
func TestTokenTamper(t *testing.T) {
	keys := testKeys(t)
	tok := keys.Sign(testNotice())
	for i := range len(tok) {
		for _, bit := range []byte{1, 2, 0x20} {
			b := []byte(tok)
			b[i] ^= bit
			_, err := keys.Verify(string(b), t0)
			require.Error(t, err, "byte %d ^ %#x", i, bit)
			require.ErrorIs(t, errAny(err, gavelhttp.ErrTokenMalformed, gavelhttp.ErrTokenSignature, gavelhttp.ErrTokenUnknownKey), err)
		}
	}
	for _, bad := range []string{"", ".", "abc", tok + ".x", tok[:len(tok)-2], strings.Replace(tok, ".", "", 1)} {
		_, err := keys.Verify(bad, t0)
		assert.ErrorIs(t, err, gavelhttp.ErrTokenMalformed, "%q", bad)
	}
}

// errAny returns err when it is one of the targets, else nil.
func errAny(err error, targets ...error) error {
	for _, e := range targets {
		if err == e {
			return err
		}
	}
	return nil
}

func TestTokenExpiry(t *testing.T) {
	keys := testKeys(t)
	n := testNotice()
	tok := keys.Sign(n)
	_, err := keys.Verify(tok, n.Expires.Add(-time.Millisecond))
	require.NoError(t, err)
	_, err = keys.Verify(tok, n.Expires)
	require.ErrorIs(t, err, gavelhttp.ErrTokenExpired)
	_, err = keys.Verify(tok, n.Expires.Add(time.Hour))
	require.ErrorIs(t, err, gavelhttp.ErrTokenExpired)
}

func TestTokenKeyRotation(t *testing.T) {
	old := gavelhttp.Key{ID: "2026-11", Secret: secret('o')}
	cur := gavelhttp.Key{ID: "2026-12", Secret: secret('n')}
	before := testKeys(t, old)
	during := testKeys(t, old, cur)
	after := testKeys(t, cur)

	oldTok := before.Sign(testNotice())
	_, err := during.Verify(oldTok, t0)
	require.NoError(t, err, "the old key still verifies")
	newTok := during.Sign(testNotice())
	_, err = after.Verify(newTok, t0)
	require.NoError(t, err, "the newest key signs")
	_, err = before.Verify(newTok, t0)
	require.ErrorIs(t, err, gavelhttp.ErrTokenUnknownKey)
	_, err = after.Verify(oldTok, t0)
	require.ErrorIs(t, err, gavelhttp.ErrTokenUnknownKey, "a removed key is refused")

	forged := testKeys(t, gavelhttp.Key{ID: "2026-12", Secret: secret('x')}).Sign(testNotice())
	_, err = after.Verify(forged, t0)
	require.ErrorIs(t, err, gavelhttp.ErrTokenSignature)
}

func TestNewKeysReportsAllProblems(t *testing.T) {
	_, err := gavelhttp.NewKeys()
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	_, err = gavelhttp.NewKeys(
		gavelhttp.Key{ID: "", Secret: secret('a')},
		gavelhttp.Key{ID: "a", Secret: []byte("short")},
		gavelhttp.Key{ID: "b", Secret: secret('b')},
		gavelhttp.Key{ID: "b", Secret: secret('c')},
	)
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, want := range []string{"key 0: empty id", "key 1 (\"a\"): secret of 5 bytes", "key 3: duplicate id \"b\""} {
		assert.Contains(t, err.Error(), want)
	}
}
