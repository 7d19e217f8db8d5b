package gavel

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"unicode/utf8"
)

// A JSONLinesSink is an EventSink that writes events to an io.Writer as JSON
// lines: one JSON object per event, each followed by "\n", encoded by its
// Codec (StdCodec unless made with NewJSONLinesSinkCodec). With StdCodec
// the object is byte for byte what encoding/json's Marshal makes of the
// Event, written without reflection or allocation (Event.AppendJSON).
//
// Each Write makes exactly one call to the io.Writer, with the whole batch,
// so a batch is never interleaved with another. A JSONLinesSink is safe for
// concurrent use; its Writes are serialized. It keeps one buffer, as large
// as the largest batch it has written, and reuses it. It does not close or
// flush the io.Writer; wrap a slow writer (a file, a network connection) in
// an AsyncSink. The zero value is not usable; use NewJSONLinesSink.
type JSONLinesSink struct {
	mu    sync.Mutex
	w     io.Writer
	codec Codec
	buf   []byte
}

// NewJSONLinesSink returns a JSONLinesSink that writes to w, its events
// encoded by StdCodec.
func NewJSONLinesSink(w io.Writer) *JSONLinesSink {
	return NewJSONLinesSinkCodec(w, nil)
}

// NewJSONLinesSinkCodec returns a JSONLinesSink that writes to w, its
// events encoded by c (nil: StdCodec), which is given each as an *Event.
func NewJSONLinesSinkCodec(w io.Writer, c Codec) *JSONLinesSink {
	if c == nil {
		c = StdCodec()
	}
	return &JSONLinesSink{w: w, codec: c}
}

// Write encodes events and writes them to the io.Writer in one call. It
// returns ctx.Err() without writing if ctx is already done, an error and
// writes nothing if an event's Type is not one of the EventType constants
// or the Codec fails on an event, and otherwise the io.Writer's error, if
// any.
func (s *JSONLinesSink) Write(ctx context.Context, events []Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := s.buf[:0]
	for i := range events {
		e := &events[i]
		if !e.Type.Valid() {
			return fmt.Errorf("gavel: event %d of auction %q: unknown event type %d", i, e.AuctionID, uint8(e.Type))
		}
		var err error
		if buf, err = s.codec.AppendJSON(buf, e); err != nil {
			return fmt.Errorf("gavel: event %d of auction %q: %w", i, e.AuctionID, err)
		}
		buf = append(buf, '\n')
	}
	s.buf = buf
	if _, err := s.w.Write(buf); err != nil {
		return withContext(err, "json lines sink")
	}
	return nil
}

// AppendJSON appends the JSON object of e to dst and returns the extended
// slice: byte for byte what encoding/json's Marshal makes of the Event, with
// no trailing newline, built without reflection. It allocates only if dst
// must grow. It returns dst unchanged and an error if e.Type is not one of
// the EventType constants. AppendJSON only reads e, so it is safe to call
// concurrently on the same Event.
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	if !e.Type.Valid() {
		return dst, fmt.Errorf("gavel: event of auction %q: unknown event type %d", e.AuctionID, uint8(e.Type))
	}
	return appendEventJSON(dst, e), nil
}

// appendEventJSON appends the JSON object of e, in the field order and with
// the omissions of encoding/json, to b. e.Type must be valid.
func appendEventJSON(b []byte, e *Event) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(e.Version), 10)
	b = append(b, `,"type":"`...)
	b = append(b, eventTypeNames[e.Type]...)
	b = append(b, `","ts":`...)
	b = strconv.AppendInt(b, e.Time, 10)
	b = append(b, `,"auction_id":`...)
	b = appendJSONString(b, e.AuctionID)
	b = appendStringField(b, `,"imp_id":`, e.ImpID)
	b = appendStringField(b, `,"bidder":`, e.Bidder)
	b = appendStringField(b, `,"seat":`, e.Seat)
	b = appendStringField(b, `,"bid_id":`, e.BidID)
	b = appendStringField(b, `,"deal_id":`, e.DealID)
	b = appendStringField(b, `,"account":`, e.Account)
	b = appendStringField(b, `,"cur":`, e.Currency)
	b = appendIntField(b, `,"price_micros":`, e.PriceMicros)
	b = appendIntField(b, `,"clear_micros":`, e.ClearMicros)
	b = appendIntField(b, `,"cost_micros":`, e.CostMicros)
	b = appendIntField(b, `,"loss_reason":`, int64(e.LossReason))
	b = appendIntField(b, `,"nbr":`, int64(e.NBR))
	b = appendStringField(b, `,"status":`, e.Status)
	b = appendIntField(b, `,"latency_us":`, e.LatencyUS)
	b = appendIntField(b, `,"bids":`, int64(e.Bids))
	b = appendIntField(b, `,"imps":`, int64(e.Imps))
	b = appendIntField(b, `,"winners":`, int64(e.Winners))
	b = appendStringField(b, `,"error":`, e.Error)
	b = appendStringField(b, `,"campaign":`, e.Campaign)
	b = appendStringField(b, `,"creative":`, e.Creative)
	b = appendStringField(b, `,"click_id":`, e.ClickID)
	b = appendStringField(b, `,"order_id":`, e.OrderID)
	return append(b, '}')
}

// appendStringField appends key and v unless v is empty (omitempty).
func appendStringField(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendJSONString(append(b, key...), v)
}

// appendIntField appends key and v unless v is 0 (omitempty).
func appendIntField(b []byte, key string, v int64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(append(b, key...), v, 10)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes by default: '"' and '\\' with a backslash; \b, \f, \n, \r and \t
// by name; other control characters, '<', '>' and '&' as \u00XX; U+2028 and
// U+2029 as \u2028 and \u2029; and each byte of invalid UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0 // s[start:i] is still to be copied as is
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !jsonSafeASCII(c) {
				b = appendEscapedASCII(append(b, s[start:i]...), c)
				start = i + 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
			start = i + size
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonSafeASCII reports whether the ASCII byte c stands for itself in a
// JSON string as encoding/json writes it.
func jsonSafeASCII(c byte) bool {
	return c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// appendEscapedASCII appends the escape of the ASCII byte c.
func appendEscapedASCII(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}
