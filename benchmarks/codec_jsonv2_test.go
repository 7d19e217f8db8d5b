//go:build goexperiment.jsonv2

package benchmarks_test

import (
	jsonv2 "encoding/json/v2"
)

// Under GOEXPERIMENT=jsonv2, encoding/json itself runs on the v2 engine
// (the "std" codec measures that), and encoding/json/v2 is measured with
// its own defaults: field names matched case-sensitively, duplicate names
// and invalid UTF-8 refused, nil slices and maps encoded as [] and {}.
func init() {
	jsonCodecs = append(jsonCodecs, jsonCodec{"jsonv2", appendJSONv2, unmarshalJSONv2, true})
}

func appendJSONv2(dst []byte, v any) ([]byte, error) {
	b, err := jsonv2.Marshal(v)
	if err != nil || dst == nil {
		return b, err
	}
	return append(dst, b...), nil
}

func unmarshalJSONv2(data []byte, v any) error { return jsonv2.Unmarshal(data, v) }
