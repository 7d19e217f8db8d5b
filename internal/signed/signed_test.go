package signed

import (
	"errors"
	"testing"
)

func testKeys() Keys {
	return Keys{NewKey("old", []byte("an older secret of at least 32 bytes")), NewKey("new", []byte("the newest secret, at least 32 bytes long"))}
}

// TestSignVerify: a token verifies under its keys, with a literal Key as
// with one from NewKey, and every tampering is refused.
func TestSignVerify(t *testing.T) {
	for _, ks := range []Keys{testKeys(), {{ID: "lit", Secret: []byte("a literal key's secret, 32 bytes+")}}} {
		p := AppendString(ks.Begin(7, 16), "body")
		tok := ks.Sign(p)
		for range 3 { // the pooled HMACs are reset between uses
			r, err := ks.Verify(tok, 7)
			if err != nil || r.String() != "body" || !r.Done() {
				t.Fatalf("Verify(%q) = %v", tok, err)
			}
		}
		if _, err := ks.Verify(tok, 8); !errors.Is(err, ErrKind) {
			t.Errorf("other kind: %v", err)
		}
		bad := []byte(tok)
		bad[len(bad)-2] ^= 1
		if _, err := ks.Verify(string(bad), 7); err == nil {
			t.Errorf("tampered signature verified")
		}
		if _, err := ks.Verify("x"+tok, 7); err == nil {
			t.Errorf("tampered payload verified")
		}
	}
	// A token of the old key still verifies after rotation.
	old := testKeys()[:1]
	tok := old.Sign(AppendString(old.Begin(1, 0), "x"))
	if _, err := testKeys().Verify(tok, 1); err != nil {
		t.Errorf("rotated: %v", err)
	}
	if _, err := (Keys{NewKey("other", []byte("another secret of at least 32 bytes"))}).Verify(tok, 1); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
}

func BenchmarkSign(b *testing.B) {
	for _, tc := range []struct {
		name string
		ks   Keys
	}{{"key=pooled", testKeys()}, {"key=literal", Keys{{ID: "lit", Secret: []byte("a literal key's secret, 32 bytes+")}}}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				p := AppendString(tc.ks.Begin(7, 64), "a body of about the size of a billing notice's fields")
				n += len(tc.ks.Sign(p))
			}
			if n == 0 {
				b.Fatal("nothing signed")
			}
		})
	}
}
