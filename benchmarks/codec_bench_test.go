package benchmarks_test

import (
	"testing"
)

// BenchmarkCodec measures each JSON library on gavel's payloads: decode is
// Unmarshal of the wire bytes into a new openrtb2 value (what the HTTP
// bidder does with a response and the HTTP handler with a request), encode
// appends the value's JSON to a reused buffer (what the auction does once
// per request for its HTTP bidders, and the handler with its response).
// For the corpus, one op handles every document once. Each op is checked:
// decode gives no error, encode some bytes. cpu-ns/op is the process's CPU
// time per op, garbage collection included: on a loaded machine it moves
// less than ns/op.
//
//	go test -run '^$' -bench BenchmarkCodec -count 6 . | tee codec.txt
//	GOEXPERIMENT=jsonv2 go test -run '^$' -bench BenchmarkCodec -count 6 .
func BenchmarkCodec(b *testing.B) {
	payloads := codecPayloads(b)
	for _, p := range payloadOrder {
		docs := payloads[p]
		values := make([]any, len(docs))
		size := 0
		for i, d := range docs {
			values[i] = d.new()
			if err := jsonCodecs[0].unmarshal(d.data, values[i]); err != nil {
				b.Fatalf("%s: %v", d.name, err)
			}
			size += len(d.data)
		}
		for _, c := range jsonCodecs {
			// Warm up: sonic compiles a type's decoder and encoder on its
			// first use (several ms under load); that is not measured.
			for i, d := range docs {
				_ = c.unmarshal(d.data, d.new())
				_, _ = c.appendJSON(nil, values[i])
			}
		}
		for _, c := range jsonCodecs {
			b.Run("payload="+p+"/op=decode/codec="+c.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				cpu := cpuTime()
				for b.Loop() {
					for _, d := range docs {
						if err := c.unmarshal(d.data, d.new()); err != nil {
							b.Fatalf("%s: %v", d.name, err)
						}
					}
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
		for _, c := range jsonCodecs {
			b.Run("payload="+p+"/op=encode/codec="+c.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				buf := make([]byte, 0, 64<<10)
				cpu := cpuTime()
				for b.Loop() {
					for _, v := range values {
						out, err := c.appendJSON(buf[:0], v)
						if err != nil || len(out) == 0 {
							b.Fatalf("%T: %d bytes, %v", v, len(out), err)
						}
					}
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
