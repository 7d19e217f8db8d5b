package gavelgoccy_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/codecs/gavelgoccy"
)

// TestEventsAsEncodingJSON checks that the codec writes events, given as
// *gavel.Event, byte for byte as encoding/json does (strings that need
// escaping included), through a JSON-lines sink too, and refuses an event
// of an unknown type.
func TestEventsAsEncodingJSON(t *testing.T) {
	c := gavelgoccy.Codec()
	var events []gavel.Event
	for typ := gavel.EventAuction; typ <= gavel.EventConversion; typ++ {
		events = append(events, gavel.Event{Version: gavel.EventSchemaVersion, Type: typ, Time: 1767225600000,
			AuctionID: "a-<1>&\"2\"", ImpID: "1", Bidder: "dsp \u2028 é", Seat: "s\x00\x1f", Currency: "USD",
			PriceMicros: 2_500_000, LossReason: 102, Error: "bad \xff utf-8", LatencyUS: 1234, Bids: int(typ)})
	}
	var lines []byte
	for _, e := range events {
		got, err := c.AppendJSON(nil, &e)
		require.NoError(t, err)
		want, err := json.Marshal(e)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
		lines = append(append(lines, want...), '\n')
	}
	var w bytesWriter
	require.NoError(t, gavel.NewJSONLinesSinkCodec(&w, c).Write(context.Background(), events))
	assert.Equal(t, string(lines), string(w))

	e := events[0]
	e.Type = 0
	_, err := c.AppendJSON(nil, &e)
	assert.ErrorContains(t, err, "unknown event type 0")
}

type bytesWriter []byte

func (w *bytesWriter) Write(p []byte) (int, error) {
	*w = append(*w, p...)
	return len(p), nil
}
