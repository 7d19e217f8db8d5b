// Package gavelsonic is a gavel.Codec on github.com/bytedance/sonic: the
// HTTP bidders' requests and responses and gavelhttp's bid requests and
// answers encoded and decoded with about half of encoding/json's CPU or
// less, to the same values. Turn it on with one option:
//
//	a, err := gavel.New(gavel.WithCodec(gavelsonic.Codec()), gavel.WithBidders(...))
//
// sonic compiles its encoder and decoder for a type on first use (the bid
// request's decoder took 0.68 s on a loaded 2-CPU machine, far more than a
// bidder's deadline); Codec compiles those of the OpenRTB bid request and
// response before it returns, so no auction pays for it.
//
// What it gives is encoding/json's, with sonic configured to match it (the
// measurements and the fuzz test that check it are in gavel's benchmarks
// module): field names matched case-insensitively, unknown fields ignored,
// json.RawMessage extensions kept as written and compacted on output,
// invalid UTF-8 replaced by U+FFFD, duplicate names resolved to the last.
// One difference in bytes, not in values: HTML characters (<, >, &) are
// not escaped, as gavelhttp's answers never were. sonic runs natively on amd64 and
// arm64 with Go up to 1.27; elsewhere it falls back to encoding/json.
package gavelsonic

import (
	"reflect"
	"sync"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/encoder"
	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
)

// encodeOptions are encoding/json's (sonic.ConfigStd's) less HTML escaping.
const encodeOptions = encoder.SortMapKeys | encoder.CompactMarshaler | encoder.ValidateString

// decoder validates strings as encoding/json does. It does not copy them
// out of the input again (sonic.ConfigStd's CopyString): sonic decodes from
// a copy of its own, so no value keeps the caller's buffer.
var decoder = sonic.Config{ValidateString: true}.Froze()

type codec struct{}

// AppendJSON appends v's JSON to dst.
func (codec) AppendJSON(dst []byte, v any) ([]byte, error) {
	err := encoder.EncodeInto(&dst, v, encodeOptions)
	return dst, err
}

// Unmarshal decodes data into v.
func (codec) Unmarshal(data []byte, v any) error { return decoder.Unmarshal(data, v) }

var pretouch sync.Once

// Codec returns the codec. Its first call compiles sonic's code for the
// OpenRTB 2.6 bid request and response; the codec is safe for concurrent
// use, and all its values are the same.
func Codec() gavel.Codec {
	pretouch.Do(func() {
		// An error here only means sonic compiles on first use instead.
		_ = sonic.PretouchMany([]reflect.Type{
			reflect.TypeFor[openrtb2.BidRequest](),
			reflect.TypeFor[openrtb2.BidResponse](),
		})
	})
	return codec{}
}
