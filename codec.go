package gavel

import (
	"context"
	"encoding/json"
)

// A Codec encodes and decodes gavel's JSON.
//
// gavel's JSON work goes through one: the JSON of the request that an
// auction sends its HTTP bidders, the HTTP bidders' responses, in
// gavelhttp the bid requests an exchange receives and its answers, and the
// events that the JSON-lines and Kafka sinks write. The default is
// StdCodec (encoding/json); a faster one is turned on with one option,
// WithCodec, and reaches every HTTP bidder of the auction and the gavelhttp
// handlers that serve it; the sinks take theirs when made
// (NewJSONLinesSinkCodec, gavelkafka.WithCodec).
//
// Events are the one value a Codec is given as a pointer, *Event.
// StdCodec and the codecs gavel ships write encoding/json's JSON of it
// with Event.AppendJSON, a hand-made encoder that does not reflect or
// allocate. A Codec of your own may write events otherwise, for readers of
// its own: gavel's readers of events (SpendSummer.ReadJSONLines and
// AddJSON, gavelkafka.SumBilling) expect encoding/json's.
//
// A Codec must be safe for concurrent use, and give what encoding/json
// gives: the same values decoded, field names matched as encoding/json
// matches them (case-insensitively), unknown fields ignored and
// json.RawMessage extensions kept as written. Its encoding may differ in
// bytes (escaping, number formatting) but must decode with encoding/json to
// the same values. Unmarshal must not keep data, or parts of it, after it
// returns: the HTTP bidder reuses its buffers.
type Codec interface {
	// AppendJSON appends the JSON encoding of v to dst, as encoding/json.Marshal would encode it.
	AppendJSON(dst []byte, v any) ([]byte, error)
	// Unmarshal decodes data into v, as encoding/json.Unmarshal does.
	Unmarshal(data []byte, v any) error
}

// StdCodec returns the Codec of encoding/json, the default: AppendJSON is
// json.Marshal, but for an *Event, which it encodes with Event.AppendJSON
// (the same bytes), and Unmarshal is json.Unmarshal. Its values compare
// equal.
func StdCodec() Codec { return stdCodec{} }

type stdCodec struct{}

func (stdCodec) AppendJSON(dst []byte, v any) ([]byte, error) {
	if e, ok := v.(*Event); ok {
		return e.AppendJSON(dst)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	if dst == nil {
		return b, nil
	}
	return append(dst, b...), nil
}

func (stdCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// WithCodec makes the auction do its JSON work with c: it encodes the
// request for its HTTP bidders with it (once per auction, shared by them),
// its HTTP bidders that were not given a codec of their own
// (WithHTTPCodec) decode their responses with it, and gavelhttp's handlers
// serving the auction decode requests and encode answers with it. Other
// bidders find it with CodecFromContext. Default: StdCodec. A nil c is an
// error.
func WithCodec(c Codec) Option {
	return optionFunc(func(cfg *config) {
		if c == nil {
			cfg.fail("codec must not be nil")
			return
		}
		cfg.codec = c
	})
}

// Codec returns the auction's Codec (WithCodec), StdCodec by default.
func (a *Auction) Codec() Codec {
	if a.cfg.codec == nil {
		return StdCodec()
	}
	return a.cfg.codec
}

// CodecFromContext returns the Codec of the auction whose Run made ctx,
// and true; or nil and false when ctx does not come from a Run (a bidder
// called on its own). Bidders that speak JSON use it, so that one option,
// WithCodec, reaches all of them.
func CodecFromContext(ctx context.Context) (Codec, bool) {
	if r, ok := ctx.Value(roundKey{}).(*round); ok {
		return r.a.Codec(), true
	}
	return nil, false
}

// WithHTTPCodec makes the bidder decode its responses with c, whatever the
// codec of the auction that calls it; called on its own (not from Run), the
// bidder also encodes its requests with c. Within an auction the request's
// JSON is the auction's, made once with the auction's codec for all its
// HTTP bidders. Default: the codec of the calling auction (WithCodec), or
// StdCodec outside an auction. A nil c is an error.
func WithHTTPCodec(c Codec) HTTPOption {
	return httpOptionFunc(func(cfg *httpConfig) {
		if c == nil {
			cfg.fail("http codec must not be nil")
			return
		}
		cfg.codec = c
	})
}

// codec returns the codec that decodes the responses of the call of ctx.
func (b *HTTPBidder) codec(ctx context.Context) Codec {
	if b.ownCodec != nil {
		return b.ownCodec
	}
	if c, ok := CodecFromContext(ctx); ok {
		return c
	}
	return StdCodec()
}
