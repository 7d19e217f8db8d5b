// Package codectest holds a gavel.Codec of a user's own for events, which
// the tests of the event sinks (the core's JSON-lines sink, gavelkafka's
// Kafka sink) encode with. It is for gavel's own tests only.
package codectest

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/gavelrtb/gavel"
)

// IDCodec writes an event as an object of its auction id alone,
// {"id":"..."}, refuses one whose Error is "refuse" with an error saying
// "codec refuses", and counts the events it is given. Anything but an
// *gavel.Event is an error.
type IDCodec struct{ n atomic.Int64 }

// Events returns how many events the codec was given.
func (c *IDCodec) Events() int64 { return c.n.Load() }

// AppendJSON implements gavel.Codec.
func (c *IDCodec) AppendJSON(dst []byte, v any) ([]byte, error) {
	e, ok := v.(*gavel.Event)
	if !ok {
		return dst, fmt.Errorf("not an event: %T", v)
	}
	c.n.Add(1)
	if e.Error == "refuse" {
		return dst, errors.New("codec refuses")
	}
	return append(strconv.AppendQuote(append(dst, `{"id":`...), e.AuctionID), '}'), nil
}

// Unmarshal implements gavel.Codec; it is not used.
func (*IDCodec) Unmarshal([]byte, any) error { return errors.New("codectest: Unmarshal is not used") }

// Line is what the codec writes for an event of auction id.
func Line(id string) string { return `{"id":` + strconv.Quote(id) + `}` }
