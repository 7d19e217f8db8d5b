package benchmarks_test

import (
	"encoding/json"
	"errors"
	"testing"
)

// fuzzCodec compares the codec named name with encoding/json on arbitrary
// input, decoded as a bid request and as a bid response: both fail, or both
// give deep-equal values; and a value encoding/json decoded encodes with
// the codec to JSON that decodes to the same value. A panic fails too. The
// seeds are the corpus, the fixture's payloads and the edge cases. Inputs
// on which the codec's documented differences show (known) are skipped;
// a loose codec's differences skip the input, with the difference as the
// reason (go test -v shows them), instead of failing.
//
//	go test -run '^$' -fuzz '^FuzzCodecSonic$' -fuzztime 60s .
func fuzzCodec(f *testing.F, name string, known func([]byte) bool, lenient bool) {
	var c jsonCodec
	for _, cc := range jsonCodecs {
		if cc.name == name {
			c = cc
		}
	}
	if c.name == "" {
		f.Skipf("codec %s is not built in (GOEXPERIMENT?)", name)
	}
	for _, docs := range codecPayloads(f) {
		for _, d := range docs {
			f.Add(d.data)
		}
	}
	for _, e := range codecEdges {
		f.Add([]byte(e.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if known != nil && known(data) {
			t.Skip("a documented difference")
		}
		fail := t.Fatalf
		if c.loose {
			fail = t.Skipf
		}
		for _, mk := range []func() any{newRequest, newResponse} {
			if d := decodeDiff(c, data, mk); d != "" {
				if lenient && acceptsBadSyntax(c, data, mk) {
					t.Skipf("a documented difference: %s accepts invalid JSON: %s", c.name, firstLine(d))
				}
				fail("decoding %.200q as %T: %s", data, mk(), firstLine(d))
			}
			v := mk()
			if json.Unmarshal(data, v) != nil {
				continue
			}
			if d, _ := encodeDiff(c, v, mk); d != "" {
				fail("encoding the %T of %.200q: %s", v, data, d)
			}
		}
	})
}

// acceptsBadSyntax reports whether c decodes data, which encoding/json
// refuses as syntactically invalid JSON.
func acceptsBadSyntax(c jsonCodec, data []byte, mk func() any) bool {
	var se *json.SyntaxError
	return errors.As(json.Unmarshal(data, mk()), &se) && c.unmarshal(data, mk()) == nil
}

// deeperThan reports whether data nests arrays and objects deeper than
// max, counting brackets outside strings.
func deeperThan(data []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, b := range data {
		switch {
		case inString && escaped:
			escaped = false
		case inString && b == '\\':
			escaped = true
		case inString:
			inString = b != '"'
		case b == '"':
			inString = true
		case b == '[' || b == '{':
			if depth++; depth > max {
				return true
			}
		case b == ']' || b == '}':
			depth--
		}
	}
	return false
}

func FuzzCodecGoccy(f *testing.F)      { fuzzCodec(f, "goccy", nil, false) }
func FuzzCodecGavelgoccy(f *testing.F) { fuzzCodec(f, "gavelgoccy", nil, false) }
func FuzzCodecJSONv2(f *testing.F)     { fuzzCodec(f, "jsonv2", nil, false) }

// FuzzCodecSonic and FuzzCodecGavelsonic skip invalid JSON that sonic
// accepts: it found that sonic's skipping of unknown fields misses some
// bad escapes (testdata/fuzz/FuzzCodecGavelsonic). Values of valid JSON
// must still be encoding/json's.
func FuzzCodecSonic(f *testing.F)      { fuzzCodec(f, "sonic", nil, true) }
func FuzzCodecGavelsonic(f *testing.F) { fuzzCodec(f, "gavelsonic", nil, true) }

// FuzzCodecSegmentio skips input nested deeper than encoding/json's limit
// (10000), which segmentio decodes and encoding/json refuses.
func FuzzCodecSegmentio(f *testing.F) {
	fuzzCodec(f, "segmentio", func(data []byte) bool { return deeperThan(data, 10000) }, false)
}
