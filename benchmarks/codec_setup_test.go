package benchmarks_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/encoder"
	goccy "github.com/goccy/go-json"
	"github.com/prebid/openrtb/v20/openrtb2"
	segjson "github.com/segmentio/encoding/json"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/benchmarks"
	"github.com/gavelrtb/gavel/codecs/gavelgoccy"
)

// A jsonCodec is one JSON library under measurement, in the shape of
// gavel.Codec: an append encoder and an Unmarshal.
type jsonCodec struct {
	name       string
	appendJSON func(dst []byte, v any) ([]byte, error)
	unmarshal  func(data []byte, v any) error
	// loose is set for a configuration that does not try to be
	// encoding/json's: its differences are shown, not failed on.
	loose bool
}

// jsonCodecs are the libraries measured; std (encoding/json) comes first
// and is the reference. codec_jsonv2_test.go adds encoding/json/v2 when
// built with GOEXPERIMENT=jsonv2.
var jsonCodecs = []jsonCodec{
	{"std", appendStd, json.Unmarshal, false},
	// sonic.ConfigStd: HTML escaping, sorted map keys, strings copied out
	// of the input and invalid UTF-8 replaced, as encoding/json does.
	{"sonic", appendSonic(sonic.ConfigStd, encoder.EscapeHTML|encoder.SortMapKeys|encoder.CompactMarshaler|encoder.ValidateString), sonic.ConfigStd.Unmarshal, false},
	// sonic as a gavel codec would use it: encoding/json's values, HTML
	// not escaped (as gavelhttp's answers), strings not copied a second
	// time (sonic decodes from its own copy of the input).
	{"gavelsonic", appendSonic(sonic.ConfigStd, encoder.SortMapKeys|encoder.CompactMarshaler|encoder.ValidateString), sonicLean.Unmarshal, false},
	// sonic.ConfigDefault: sonic's own defaults, for the speed it gives up.
	{"sonic-default", appendSonic(sonic.ConfigDefault, 0), sonic.ConfigDefault.Unmarshal, true},
	{"goccy", appendGoccy, goccy.Unmarshal, false},
	// goccy as codecs/gavelgoccy ships it (the same calls).
	{"gavelgoccy", gavelgoccy.Codec().AppendJSON, gavelgoccy.Codec().Unmarshal, false},
	{"segmentio", appendSegmentio, segjson.Unmarshal, false},
}

var sonicLean = sonic.Config{ValidateString: true}.Froze()

func appendStd(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || dst == nil {
		return b, err
	}
	return append(dst, b...), nil
}

func appendSonic(_ sonic.API, opts encoder.Options) func([]byte, any) ([]byte, error) {
	return func(dst []byte, v any) ([]byte, error) {
		err := encoder.EncodeInto(&dst, v, opts)
		return dst, err
	}
}

func appendGoccy(dst []byte, v any) ([]byte, error) {
	b, err := goccy.Marshal(v)
	if err != nil || dst == nil {
		return b, err
	}
	return append(dst, b...), nil
}

func appendSegmentio(dst []byte, v any) ([]byte, error) {
	return segjson.Append(dst, v, segjson.EscapeHTML|segjson.SortMapKeys)
}

// A codecDoc is one JSON document of gavel's traffic and the type it
// decodes into.
type codecDoc struct {
	name string
	data []byte
	new  func() any
}

func newRequest() any  { return new(openrtb2.BidRequest) }
func newResponse() any { return new(openrtb2.BidResponse) }

// codecPayloads returns the measured payloads: the benchmark fixture's
// request, a response with 20 bids, and the conformance corpus (every
// request.json and responses/*.json of the core's testdata/corpus).
func codecPayloads(tb testing.TB) map[string][]codecDoc {
	tb.Helper()
	f, err := benchmarks.NewFixture(benchmarks.RequestFile, 7, 3)
	require.NoError(tb, err)
	reqJSON, err := json.Marshal(f.Request)
	require.NoError(tb, err)
	respJSON, err := json.Marshal(twentyBids(f))
	require.NoError(tb, err)
	one, err := json.Marshal(oneBid(f))
	require.NoError(tb, err)
	return map[string][]codecDoc{
		"request":    {{"fixture-request", reqJSON, newRequest}},
		"response1":  {{"response-1-bid", one, newResponse}},
		"response20": {{"response-20-bids", respJSON, newResponse}},
		"corpus":     corpusDocs(tb),
	}
}

// payloadOrder is the order in which payloads are reported.
var payloadOrder = []string{"request", "response1", "response20", "corpus"}

// oneBid is what each bidder of the per-bidder HTTP benchmarks answers:
// one bid on the fixture's open-market banner imp, in one seat.
func oneBid(f *benchmarks.Fixture) *openrtb2.BidResponse {
	r := f.Responses[0]
	return &openrtb2.BidResponse{ID: r.ID, BidID: r.BidID, Cur: r.Cur,
		SeatBid: []openrtb2.SeatBid{{Seat: r.SeatBid[0].Seat, Bid: r.SeatBid[0].Bid[1:2]}}}
}

// twentyBids gathers the fixture's bids (7 bidders x 3 imps) into one
// response of 20 bids in 2 seats, each bid with an ext as DSPs send.
func twentyBids(f *benchmarks.Fixture) *openrtb2.BidResponse {
	resp := &openrtb2.BidResponse{ID: f.Request.ID, BidID: "resp-20", Cur: "USD"}
	seats := []openrtb2.SeatBid{{Seat: "dsp-a"}, {Seat: "dsp-b"}}
	n := 0
	for _, r := range f.Responses {
		for _, sb := range r.SeatBid {
			for _, b := range sb.Bid {
				if n == 20 {
					break
				}
				b.Ext = json.RawMessage(`{"prebid":{"type":"banner","meta":{"advertiserDomains":["` + b.ADomain[0] + `"],"networkId":` + strconv.Itoa(n) + `}}}`)
				seats[n%2].Bid = append(seats[n%2].Bid, b)
				n++
			}
		}
	}
	resp.SeatBid = seats
	return resp
}

// corpusDocs reads the conformance corpus of the core module.
func corpusDocs(tb testing.TB) []codecDoc {
	tb.Helper()
	reqs, err := filepath.Glob("../testdata/corpus/*/request.json")
	require.NoError(tb, err)
	resps, err := filepath.Glob("../testdata/corpus/*/responses/*.json")
	require.NoError(tb, err)
	require.NotEmpty(tb, reqs)
	require.NotEmpty(tb, resps)
	sort.Strings(reqs)
	sort.Strings(resps)
	var docs []codecDoc
	add := func(paths []string, mk func() any) {
		for _, p := range paths {
			data, err := os.ReadFile(p)
			require.NoError(tb, err)
			rel, _ := filepath.Rel("../testdata/corpus", p)
			docs = append(docs, codecDoc{rel, data, mk})
		}
	}
	add(reqs, newRequest)
	add(resps, newResponse)
	return docs
}
