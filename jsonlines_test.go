package gavel_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/internal/codectest"
)

// countingWriter records each Write call it gets.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes []int
	err    error
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	w.writes = append(w.writes, len(p))
	return w.buf.Write(p)
}

func parseLines(t *testing.T, data []byte) []gavel.Event {
	t.Helper()
	var events []gavel.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var e gavel.Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), "line %q", sc.Text())
		events = append(events, e)
	}
	require.NoError(t, sc.Err())
	return events
}

func oneOfEachType() []gavel.Event {
	var events []gavel.Event
	for typ := gavel.EventAuction; typ <= gavel.EventConversion; typ++ {
		events = append(events, gavel.Event{Version: gavel.EventSchemaVersion, Type: typ, Time: 1767225600000 + int64(typ),
			AuctionID: "a-" + typ.String(), ImpID: "1", Bidder: "dsp", Seat: "seat", BidID: "b", Currency: "USD",
			PriceMicros: 2_500_000, Status: typ.String(), LatencyUS: 1234, Bids: int(typ)})
	}
	return events
}

func TestJSONLinesSinkRoundTrip(t *testing.T) {
	w := &countingWriter{}
	s := gavel.NewJSONLinesSink(w)
	first, second := oneOfEachType(), makeEvents(0, 40)
	require.NoError(t, s.Write(context.Background(), first))
	require.NoError(t, s.Write(context.Background(), second))
	require.NoError(t, s.Write(context.Background(), nil))

	assert.Len(t, w.writes, 2, "one io.Writer call per non-empty batch")
	assert.Equal(t, append(first, second...), parseLines(t, w.buf.Bytes()))
	assert.Equal(t, len(first)+len(second), strings.Count(w.buf.String(), "\n"))
	assert.True(t, strings.HasSuffix(w.buf.String(), "}\n"))
}

// TestJSONLinesSinkMatchesEncodingJSON checks the hand-written encoder against
// encoding/json, byte for byte, on strings that need escaping and on numbers
// at their limits.
func TestJSONLinesSinkMatchesEncodingJSON(t *testing.T) {
	tricky := []string{
		"", "plain", `quote " and backslash \`, "ctl \x00\x01\x07\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f\x7f",
		"<script>&amp;</script>", "utf-8 é ü 日本 🚀", "bad \xff\xfe utf-8 \xc3", "truncated \xe6\x97",
		"separators \u2028 \u2029 \u2027 \u202a", "\ufffd replacement", "end \\",
	}
	rnd := rand.New(rand.NewPCG(7, 11))
	randomString := func() string {
		b := make([]byte, rnd.IntN(24))
		for i := range b {
			if rnd.IntN(3) == 0 {
				b[i] = byte(rnd.IntN(256))
			} else {
				const alphabet = "ab\"\\<>&\n\t\x00\xe2\x80\xa8é"
				b[i] = alphabet[rnd.IntN(len(alphabet))]
			}
		}
		return string(b)
	}
	ints := []int64{0, 1, -1, 42, math.MaxInt64, math.MinInt64, 1_000_000}
	var events []gavel.Event
	for i := range 400 {
		str := func(j int) string {
			if i < len(tricky) {
				return tricky[(i+j)%len(tricky)]
			}
			return randomString()
		}
		num := func(j int) int64 { return ints[(i+j)%len(ints)] }
		events = append(events, gavel.Event{
			Version: int(num(0)), Type: gavel.EventType(1 + i%10), Time: num(1), AuctionID: str(0), ImpID: str(1),
			Bidder: str(2), Seat: str(3), BidID: str(4), DealID: str(5), Account: str(6), Currency: str(7),
			PriceMicros: num(2), ClearMicros: num(3), CostMicros: num(4), LossReason: int(num(5)), NBR: int(num(6)),
			Status: str(8), LatencyUS: num(7), Bids: int(num(8)), Imps: int(num(9)), Winners: int(num(10)), Error: str(9),
			Campaign: str(10), Creative: str(11), ClickID: str(12), OrderID: str(13),
		})
	}
	w := &countingWriter{}
	require.NoError(t, gavel.NewJSONLinesSink(w).Write(context.Background(), events))
	lines := strings.SplitAfter(w.buf.String(), "\n")
	require.Len(t, lines, len(events)+1)
	assert.Empty(t, lines[len(events)])
	for i, e := range events {
		want, err := json.Marshal(e)
		require.NoError(t, err)
		require.Equal(t, string(want)+"\n", lines[i], "event %d: %+v", i, e)
	}
}

func FuzzJSONLinesSinkString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00<>&", "\xff", "\u2028", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := gavel.Event{Type: gavel.EventError, AuctionID: s, Error: s}
		var buf bytes.Buffer
		require.NoError(t, gavel.NewJSONLinesSink(&buf).Write(context.Background(), []gavel.Event{e}))
		want, err := json.Marshal(e)
		require.NoError(t, err)
		require.Equal(t, string(want)+"\n", buf.String())
	})
}

func TestJSONLinesSinkErrors(t *testing.T) {
	t.Run("invalid type", func(t *testing.T) {
		w := &countingWriter{}
		events := makeEvents(0, 3)
		events[1].Type = 0
		err := gavel.NewJSONLinesSink(w).Write(context.Background(), events)
		assert.ErrorContains(t, err, "unknown event type 0")
		assert.Empty(t, w.writes, "nothing of the batch is written")
	})
	t.Run("ctx done", func(t *testing.T) {
		w := &countingWriter{}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.ErrorIs(t, gavel.NewJSONLinesSink(w).Write(ctx, makeEvents(0, 1)), context.Canceled)
		assert.Empty(t, w.writes)
	})
	t.Run("writer fails", func(t *testing.T) {
		disk := errors.New("disk full")
		err := gavel.NewJSONLinesSink(&countingWriter{err: disk}).Write(context.Background(), makeEvents(0, 1))
		assert.ErrorIs(t, err, disk)
		assert.ErrorContains(t, err, "gavel: json lines sink: disk full")
	})
}

func TestJSONLinesSinkConcurrent(t *testing.T) {
	w := &countingWriter{}
	s := gavel.NewJSONLinesSink(w)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				assert.NoError(t, s.Write(context.Background(), makeEvents(g*10_000+i*10, 10)))
			}
		})
	}
	wg.Wait()
	events := parseLines(t, w.buf.Bytes())
	require.Len(t, events, 2000)
	assert.Len(t, w.writes, 200)
	for i := 0; i < len(events); i += 10 { // batches are never interleaved
		assert.Equal(t, makeEvents(int(events[i].Time), 10), events[i:i+10])
	}
}

func BenchmarkJSONLinesSink(b *testing.B) {
	for _, n := range []int{1, 512} {
		b.Run("events="+strconv.Itoa(n), func(b *testing.B) {
			events := make([]gavel.Event, 0, n)
			for len(events) < n {
				events = append(events, oneOfEachType()...)
			}
			events = events[:n]
			var buf bytes.Buffer
			s := gavel.NewJSONLinesSink(&buf)
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := s.Write(context.Background(), events); err != nil {
					b.Fatal(err)
				}
			}
			if got := strings.Count(buf.String(), "\n"); got != n {
				b.Fatalf("wrote %d lines, want %d", got, n)
			}
			b.SetBytes(int64(buf.Len()))
		})
	}
}

func TestEventAppendJSON(t *testing.T) {
	events := append(oneOfEachType(), gavel.Event{Type: gavel.EventError, AuctionID: "<\xff>", Error: "a\u2028b\n"})
	for _, e := range events {
		want, err := json.Marshal(e)
		require.NoError(t, err)
		got, err := e.AppendJSON([]byte("prefix "))
		require.NoError(t, err)
		assert.Equal(t, "prefix "+string(want), string(got), "appends, keeping dst")
	}

	bad := gavel.Event{Type: 0, AuctionID: "a1"}
	dst := []byte("keep")
	got, err := bad.AppendJSON(dst)
	assert.ErrorContains(t, err, `gavel: event of auction "a1": unknown event type 0`)
	assert.Equal(t, "keep", string(got), "dst unchanged on error")

	e := oneOfEachType()[5]
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = e.AppendJSON(buf[:0])
	})
	assert.Zero(t, allocs, "AppendJSON into a large enough buffer must not allocate")
}

// TestJSONLinesSinkCodec checks that a JSONLinesSink made with a Codec
// encodes every event with it, one line each; that an event the Codec
// refuses fails the Write, which then writes nothing; and that a nil Codec
// is StdCodec.
func TestJSONLinesSinkCodec(t *testing.T) {
	ctx := context.Background()
	c := new(codectest.IDCodec)
	w := &countingWriter{}
	s := gavel.NewJSONLinesSinkCodec(w, c)
	events := oneOfEachType()
	require.NoError(t, s.Write(ctx, events))
	var want strings.Builder
	for _, e := range events {
		want.WriteString(codectest.Line(e.AuctionID) + "\n")
	}
	assert.Equal(t, want.String(), w.buf.String())
	assert.Equal(t, int64(len(events)), c.Events())

	refused := append(oneOfEachType(), gavel.Event{Type: gavel.EventError, AuctionID: "x", Error: "refuse"})
	err := s.Write(ctx, refused)
	assert.ErrorContains(t, err, `gavel: event 10 of auction "x": codec refuses`)
	assert.Len(t, w.writes, 1, "nothing written for the refused batch")

	std, withNil := &countingWriter{}, &countingWriter{}
	require.NoError(t, gavel.NewJSONLinesSink(std).Write(ctx, events))
	require.NoError(t, gavel.NewJSONLinesSinkCodec(withNil, nil).Write(ctx, events))
	assert.Equal(t, std.buf.String(), withNil.buf.String())
}

// TestStdCodecEncodesEvents checks that StdCodec encodes an *Event as
// encoding/json does, without allocating (it uses Event.AppendJSON), and
// refuses an event of an unknown type as encoding/json does.
func TestStdCodecEncodesEvents(t *testing.T) {
	c := gavel.StdCodec()
	for _, e := range oneOfEachType() {
		got, err := c.AppendJSON(nil, &e)
		require.NoError(t, err)
		want, err := json.Marshal(e)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
	}
	e := oneOfEachType()[0]
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.AppendJSON(buf[:0], &e); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
	e.Type = 0
	_, err := c.AppendJSON(nil, &e)
	assert.ErrorContains(t, err, "unknown event type 0")
	_, err = json.Marshal(e)
	assert.Error(t, err)
}
