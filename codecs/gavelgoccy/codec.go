// Package gavelgoccy is a gavel.Codec on github.com/goccy/go-json: the HTTP
// bidders' requests and responses and gavelhttp's bid requests and answers
// encoded and decoded with less CPU and fewer allocations than with
// encoding/json, to the same values (events, which no reflecting encoder
// writes faster, keep gavel's own encoder). Turn it on with one option:
//
//	a, err := gavel.New(gavel.WithCodec(gavelgoccy.Codec()), gavel.WithBidders(...))
//
// What it gives is encoding/json's (the measurements, the edge cases and
// the fuzz test that check it are in gavel's benchmarks module): field
// names matched case-insensitively, unknown fields ignored, json.RawMessage
// extensions kept as written and compacted on output, invalid UTF-8 and
// lone surrogates replaced by U+FFFD, the last of duplicate names kept,
// invalid JSON refused; its output is byte for byte encoding/json.Marshal's
// on gavel's payloads (HTML characters escaped, as Marshal does). Decoded
// strings are copied out of the input: no value keeps the caller's buffer.
package gavelgoccy

import (
	"sync"

	goccy "github.com/goccy/go-json"
	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
)

type codec struct{}

// AppendJSON appends v's JSON to dst. An *gavel.Event is written by its
// own encoder, Event.AppendJSON, as gavel.StdCodec writes it: the same
// bytes as encoding/json, without reflection or allocation.
func (codec) AppendJSON(dst []byte, v any) ([]byte, error) {
	if e, ok := v.(*gavel.Event); ok {
		return e.AppendJSON(dst)
	}
	b, err := goccy.Marshal(v)
	if err != nil {
		return dst, err
	}
	if dst == nil {
		return b, nil
	}
	return append(dst, b...), nil
}

// Unmarshal decodes data into v.
func (codec) Unmarshal(data []byte, v any) error { return goccy.Unmarshal(data, v) }

var warm sync.Once

// Codec returns the codec, safe for concurrent use; all its values are the
// same. Its first call builds go-json's encoder and decoder of the OpenRTB
// 2.6 bid request and response, which go-json otherwise builds on their
// first use, in an auction.
func Codec() gavel.Codec {
	warm.Do(func() {
		for _, v := range []any{new(openrtb2.BidRequest), new(openrtb2.BidResponse)} {
			b, _ := goccy.Marshal(v)
			_ = goccy.Unmarshal(b, v)
		}
	})
	return codec{}
}
