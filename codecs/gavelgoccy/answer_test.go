package gavelgoccy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/codecs/gavelgoccy"
)

// TestReadHTTPAnswerSameAsStd checks that an HTTP bidder's answer read
// with the codec is the one read with encoding/json, with one seat and
// one bid (which ReadHTTPAnswer decodes into memory with room for just
// them) and with more, which go-json grows its slices for.
func TestReadHTTPAnswerSameAsStd(t *testing.T) {
	docs := []string{
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1.5,"adm":"<a>\u003c/a>","ext":{"x":1}}]}],"cur":"USD"}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1},{"id":"2","impid":"i","price":2},{"id":"3","impid":"j","price":3},{"id":"4","impid":"j","price":4},{"id":"5","impid":"k","price":5}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1}]},{"seat":"b","bid":[{"id":"2","impid":"i","price":2}]},{"seat":"c","bid":[{"id":"3","impid":"i","price":3},{"id":"4","impid":"i","price":4}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a"},{"seat":"b","bid":[{"id":"2","impid":"i","price":2}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":null},{"seat":"b","bid":[{"id":"2","impid":"i","price":2}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1}]}],"seatbid":[{"seat":"b","bid":[{"id":"2","impid":"i","price":2},{"id":"3","impid":"i","price":3}]}]}`,
		`{"id":"r","seatbid":[],"nbr":2}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[]}]}`,
	}
	for _, doc := range docs {
		read := func(c gavel.Codec) any {
			a := gavel.HTTPAnswer{StatusCode: 200, ContentLength: int64(len(doc)), Data: []byte(doc), Codec: c}
			resp, err := gavel.ReadHTTPAnswer("b", &a, 1<<20)
			require.NoError(t, err, doc)
			return resp
		}
		assert.Equal(t, read(gavel.StdCodec()), read(gavelgoccy.Codec()), doc)
	}
}
