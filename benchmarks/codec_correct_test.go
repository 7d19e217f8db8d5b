package benchmarks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeDiff decodes data with encoding/json and with c into fresh values
// of mk's type. It returns "" when both fail, or both succeed with values
// deep-equal (json.RawMessage extensions byte for byte), and otherwise
// what differs.
func decodeDiff(c jsonCodec, data []byte, mk func() any) string {
	want, got := mk(), mk()
	werr := json.Unmarshal(data, want)
	gerr := c.unmarshal(data, got)
	switch {
	case werr != nil && gerr != nil:
		return ""
	case werr != nil:
		return "encoding/json fails (" + werr.Error() + "), " + c.name + " accepts"
	case gerr != nil:
		return c.name + " fails (" + gerr.Error() + "), encoding/json accepts"
	}
	if d := cmp.Diff(want, got); d != "" {
		return "values differ (-encoding/json +" + c.name + "):\n" + d
	}
	return ""
}

// encodeDiff encodes v with c and with encoding/json, decodes both with
// encoding/json into fresh values of mk's type, and returns "" when they
// are deep-equal, otherwise what differs. same reports whether the bytes
// are identical.
func encodeDiff(c jsonCodec, v any, mk func() any) (diff string, same bool) {
	want, err := json.Marshal(v)
	if err != nil {
		return "", true // nothing to compare: encoding/json cannot encode it
	}
	got, err := c.appendJSON(nil, v)
	if err != nil {
		return c.name + " fails to encode: " + err.Error(), false
	}
	wv, gv := mk(), mk()
	if err := json.Unmarshal(want, wv); err != nil {
		return "encoding/json's own output does not decode: " + err.Error(), false
	}
	if err := json.Unmarshal(got, gv); err != nil {
		return c.name + "'s output does not decode: " + err.Error() + "\n" + string(got), false
	}
	if d := cmp.Diff(wv, gv); d != "" {
		return "round trip differs (-encoding/json +" + c.name + "):\n" + d, false
	}
	return "", bytes.Equal(want, got)
}

// TestCodecCorpus decodes every payload (the corpus, the fixture request,
// the 20-bid response) with every codec, and encodes each value back:
// every codec must give encoding/json's values.
func TestCodecCorpus(t *testing.T) {
	payloads := codecPayloads(t)
	for _, c := range jsonCodecs[1:] {
		t.Run("codec="+c.name, func(t *testing.T) {
			sameBytes, docs, bad := 0, 0, 0
			check := func(diff, doc string) {
				if diff == "" {
					return
				}
				bad++
				if c.loose {
					t.Logf("%s: %s", doc, firstLine(diff))
					return
				}
				t.Errorf("%s: %s", doc, diff)
			}
			for _, p := range payloadOrder {
				for _, d := range payloads[p] {
					docs++
					check(decodeDiff(c, d.data, d.new), d.name)
					v := d.new()
					require.NoError(t, json.Unmarshal(d.data, v), d.name)
					diff, same := encodeDiff(c, v, d.new)
					check(diff, d.name)
					if same {
						sameBytes++
					}
				}
			}
			t.Logf("%s: %d documents, %d differences from encoding/json's values; %d encoded byte for byte as encoding/json", c.name, docs, bad, sameBytes)
		})
	}
}

// codecEdges are inputs on which JSON libraries are known to part from
// encoding/json. TestCodecDifferences shows, per codec, which of them
// decode differently; it fails only for differences in the cases that
// must agree (mustAgree).
var codecEdges = []struct {
	name      string
	data      string
	mustAgree bool
}{
	{"unknown fields", `{"id":"a","zzz":{"q":[1,2,{"r":null}]},"imp":[{"id":"1","newfield":true}]}`, true},
	{"ext kept as written", `{"id":"a","ext":{ "x" : [1, 2] ,"y":"\u00e9"}}`, true},
	{"null ext", `{"id":"a","ext":null}`, true},
	{"null for a value", `{"id":null,"tmax":null,"imp":null}`, true},
	{"case-insensitive keys", `{"ID":"a","Imp":[{"Id":"1","BidFloor":1.5}],"TMAX":100}`, false},
	{"duplicate keys", `{"id":"a","id":"b","imp":[{"id":"1"}],"imp":[{"id":"2"}]}`, false},
	{"invalid UTF-8", "{\"id\":\"a\xff\xfeb\"}", false},
	{"lone surrogate escape", `{"id":"\ud800x"}`, false},
	{"control character in string", "{\"id\":\"a\x01\"}", false},
	{"number for a string", `{"id":1}`, false},
	{"float for an int", `{"id":"a","tmax":1.5}`, false},
	{"exponent for an int", `{"id":"a","tmax":1e3}`, false},
	{"int overflow", `{"id":"a","tmax":99999999999999999999}`, false},
	{"trailing data", `{"id":"a"} {}`, false},
	{"top-level null", `null`, false},
	{"empty input", ``, false},
	{"deep nesting in ext", `{"id":"a","ext":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, false},
	{"invalid JSON in ext", `{"id":"a","ext":{"x":tru}}`, false},
	// found by FuzzCodecGavelsonic: sonic skips these unknown fields
	// without seeing the bad escape.
	{"bad escape in skipped fields", `{"":[{"":{"":"\0"}}],"":{"":{}},"":10,"":[""]}`, false},
}

// TestCodecDifferences logs a matrix of how each codec decodes the edge
// cases compared with encoding/json.
func TestCodecDifferences(t *testing.T) {
	var table strings.Builder
	for _, c := range jsonCodecs[1:] {
		for _, e := range codecEdges {
			d := decodeDiff(c, []byte(e.data), newRequest)
			if e.mustAgree && !c.loose {
				assert.Empty(t, d, "%s: %s", c.name, e.name)
			}
			if d != "" {
				fmt.Fprintf(&table, "%-14s %-28s %s\n", c.name, e.name, firstLine(d))
			}
		}
	}
	t.Logf("differences from encoding/json:\n%s", table.String())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 110 {
		s = s[:110] + "..."
	}
	return s
}
