package gavelgoccy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/codecs/gavelgoccy"
)

// answerDocs are bid responses with one seat, one bid, one advertiser
// domain and one category, with more, empty or absent ones, and with
// duplicate names.
var answerDocs = []string{
	`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1.5,"adm":"<a>\u003c/a>","ext":{"x":1}}]}],"cur":"USD"}`,
	`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1},{"id":"2","impid":"i","price":2},{"id":"3","impid":"j","price":3},{"id":"4","impid":"j","price":4},{"id":"5","impid":"k","price":5}]}]}`,
	`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1}]},{"seat":"b","bid":[{"id":"2","impid":"i","price":2}]},{"seat":"c","bid":[{"id":"3","impid":"i","price":3},{"id":"4","impid":"i","price":4}]}]}`,
	`{"id":"r","seatbid":[{"seat":"a"},{"seat":"b","bid":[{"id":"2","impid":"i","price":2}]}]}`,
	`{"id":"r","seatbid":[{"seat":"a","bid":null},{"seat":"b","bid":[{"id":"2","impid":"i","price":2}]}]}`,
	`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1}]}],"seatbid":[{"seat":"b","bid":[{"id":"2","impid":"i","price":2},{"id":"3","impid":"i","price":3}]}]}`,
	`{"id":"r","seatbid":[],"nbr":2}`,
	`{"id":"r","seatbid":[{"seat":"a","bid":[]}]}`,
	`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1,"adomain":["a.example"],"cat":["IAB1"]}]}]}`,
	`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1,"adomain":[],"cat":null}]}]}`,
	`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1,"adomain":["a.example","b.example"],"cat":["IAB1","IAB2-3","IAB9"]}]}]}`,
	`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","price":1,"adomain":["a.example"]},{"id":"2","price":2,"cat":["IAB2"]},{"id":"3","price":3,"adomain":["c.example"],"cat":["IAB3"]}]}]}`,
	`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","price":1,"adomain":["a.example"],"cat":["IAB1"]}]},{"seat":"b","bid":[{"id":"2","price":2,"adomain":["b.example"]}]}]}`,
	`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","price":1,"adomain":["a.example"],"adomain":["z.example"],"cat":["IAB1"],"cat":[]}]}]}`,
	`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","price":1,"adomain":["a.example"],"cat":["IAB1"]}]}],"seatbid":[{"seat":"b","bid":[{"id":"2","price":2},{"id":"3","price":3,"cat":["IAB3"]}]}]}`,
}

// TestReadHTTPAnswerSameAsStd checks that an HTTP bidder's answer read
// with the codec is the one read with encoding/json, with one seat and
// one bid of one advertiser domain and one category (which
// ReadHTTPAnswer decodes into memory with room for just them) and with
// more, which go-json grows its slices for.
func TestReadHTTPAnswerSameAsStd(t *testing.T) {
	for _, doc := range answerDocs {
		read := func(c gavel.Codec) any {
			a := gavel.HTTPAnswer{StatusCode: 200, ContentLength: int64(len(doc)), Data: []byte(doc), Codec: c}
			resp, err := gavel.ReadHTTPAnswer("b", &a, 1<<20)
			require.NoError(t, err, doc)
			return resp
		}
		assert.Equal(t, read(gavel.StdCodec()), read(gavelgoccy.Codec()), doc)
	}
}

// FuzzReadHTTPAnswerSameAsStd checks on arbitrary bodies that an answer
// read with the codec is the one read with encoding/json, or that both
// fail.
func FuzzReadHTTPAnswerSameAsStd(f *testing.F) {
	for _, doc := range answerDocs {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		read := func(c gavel.Codec) (any, error) {
			a := gavel.HTTPAnswer{StatusCode: 200, ContentLength: int64(len(data)), Data: data, Codec: c}
			return gavel.ReadHTTPAnswer("b", &a, 1<<20)
		}
		want, werr := read(gavel.StdCodec())
		got, gerr := read(gavelgoccy.Codec())
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: encoding/json error %v, go-json error %v", data, werr, gerr)
		}
		if werr == nil {
			assert.Equal(t, want, got, "%q", data)
		}
	})
}
