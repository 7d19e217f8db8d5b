package benchmarks_test

import (
	"encoding/json"
	"testing"
)

// fuzzCodec compares the codec named name with encoding/json on arbitrary
// input, decoded as a bid request and as a bid response: both fail, or both
// give deep-equal values; and a value encoding/json decoded encodes with
// the codec to JSON that decodes to the same value. A panic fails too. The
// seeds are the corpus, the fixture's payloads and the edge cases.
//
//	go test -run '^$' -fuzz '^FuzzCodecSonic$' -fuzztime 60s .
func fuzzCodec(f *testing.F, name string) {
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
		for _, mk := range []func() any{newRequest, newResponse} {
			if d := decodeDiff(c, data, mk); d != "" {
				t.Fatalf("decoding %q as %T: %s", data, mk(), d)
			}
			v := mk()
			if json.Unmarshal(data, v) != nil {
				continue
			}
			if d, _ := encodeDiff(c, v, mk); d != "" {
				t.Fatalf("encoding the %T of %q: %s", v, data, d)
			}
		}
	})
}

func FuzzCodecSonic(f *testing.F)      { fuzzCodec(f, "sonic") }
func FuzzCodecGavelsonic(f *testing.F) { fuzzCodec(f, "gavelsonic") }
func FuzzCodecGoccy(f *testing.F)      { fuzzCodec(f, "goccy") }
func FuzzCodecSegmentio(f *testing.F)  { fuzzCodec(f, "segmentio") }
func FuzzCodecJSONv2(f *testing.F)     { fuzzCodec(f, "jsonv2") }
