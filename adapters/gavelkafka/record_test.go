package gavelkafka

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

func TestRecordPoolEncode(t *testing.T) {
	var p recordPool
	e := gavel.Event{Version: 7, Type: gavel.EventWin, Time: 1767225600123, AuctionID: "auction-1", ImpID: "1",
		Bidder: "dsp", BidID: "b1", Currency: "USD", PriceMicros: 2_500_000, ClearMicros: 2_010_000, CostMicros: 2010}
	r, err := p.encode(gavel.StdCodec(), &e, "topic")
	require.NoError(t, err)
	want, err := json.Marshal(e)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(r.Value))
	assert.Equal(t, "auction-1", string(r.Key))
	assert.Equal(t, "topic", r.Topic)
	require.Len(t, r.Headers, 1)
	assert.Equal(t, SchemaVersionHeader, r.Headers[0].Key)
	assert.Equal(t, "7", string(r.Headers[0].Value))
	assert.Equal(t, int64(len(want)+len("auction-1")+len(SchemaVersionHeader)+1), recordSize(r))
	assert.Len(t, r.Key, cap(r.Key), "appending to the key cannot overwrite the header")

	e.Type = 0
	_, err = p.encode(gavel.StdCodec(), &e, "topic")
	assert.ErrorContains(t, err, "unknown event type 0")
}

// TestRecordPoolHugeEvent checks that a huge event encodes, and that its
// buffer is not kept for reuse.
func TestRecordPoolHugeEvent(t *testing.T) {
	var p recordPool
	e := gavel.Event{Version: 1, Type: gavel.EventError, AuctionID: "a", Error: strings.Repeat("x", 2*maxPooledBuffer)}
	r, err := p.encode(gavel.StdCodec(), &e, "t")
	require.NoError(t, err)
	assert.Greater(t, len(r.Value), 2*maxPooledBuffer)
	p.put(r)
	assert.LessOrEqual(t, cap(r.Value), maxPooledBuffer)
}

// TestRecordPoolAllocs checks that encoding an event into a pooled record
// allocates nothing once the pool is warm: what Write adds to the client's
// own allocations is nothing.
func TestRecordPoolAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	var p recordPool
	e := gavel.Event{Version: 1, Type: gavel.EventLoss, Time: 1767225600123, AuctionID: "0b7f4a2e-9c1d-4e5f-8a6b-3c2d1e0f9a8b",
		ImpID: "1", Bidder: "dsp-3", Seat: "seat-3", BidID: "b-3", Currency: "USD", PriceMicros: 1_230_000, LossReason: 102}
	allocs := testing.AllocsPerRun(1000, func() {
		r, err := p.encode(gavel.StdCodec(), &e, "topic")
		if err != nil {
			panic(err)
		}
		p.put(r)
	})
	assert.Zero(t, allocs)
}
