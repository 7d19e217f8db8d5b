package gavelkafka

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel"
)

// SchemaVersionHeader is the name of the record header that holds the
// event's schema version (gavel.Event.Version), in decimal.
const SchemaVersionHeader = "schema-version"

// maxPooledBuffer is the largest record buffer kept for reuse: a rare huge
// event (a long error text) does not pin its memory in the pool.
const maxPooledBuffer = 16 << 10

// A recordPool hands out records whose value, key and header share one
// buffer, and takes them back once the client is done with them (their
// promise has run): a record is never reused while the client holds it.
type recordPool struct {
	p sync.Pool // *kgo.Record; Value has the buffer's capacity, Headers has one element
}

// encode returns a pooled record for e, to be produced to topic: its value
// is e's JSON as c encodes it, its key e's AuctionID, and its one header
// the schema version. It returns an error, and no record, if e's type is
// not one of gavel's or c fails on e.
func (p *recordPool) encode(c gavel.Codec, e *gavel.Event, topic string) (*kgo.Record, error) {
	if !e.Type.Valid() {
		return nil, fmt.Errorf("gavel: event of auction %q: unknown event type %d", e.AuctionID, uint8(e.Type))
	}
	r := p.get()
	buf, err := c.AppendJSON(r.Value[:0], e)
	if err != nil {
		p.put(r)
		return nil, err
	}
	v := len(buf)
	buf = append(buf, e.AuctionID...)
	k := len(buf)
	buf = strconv.AppendInt(buf, int64(e.Version), 10)
	hdr := r.Headers[:1]
	hdr[0] = kgo.RecordHeader{Key: SchemaVersionHeader, Value: buf[k:len(buf):len(buf)]}
	// Value keeps the buffer's capacity, for put; the client never
	// appends to a record's slices.
	*r = kgo.Record{Topic: topic, Key: buf[v:k:k], Value: buf[:v], Headers: hdr}
	return r, nil
}

func (p *recordPool) get() *kgo.Record {
	if r, ok := p.p.Get().(*kgo.Record); ok {
		return r
	}
	return &kgo.Record{Value: make([]byte, 0, 512), Headers: make([]kgo.RecordHeader, 1)}
}

// put resets r, keeping its buffer and header slice, and pools it.
func (p *recordPool) put(r *kgo.Record) {
	buf, hdr := r.Value[:0], r.Headers[:1]
	if cap(buf) > maxPooledBuffer {
		buf = make([]byte, 0, 512)
	}
	hdr[0] = kgo.RecordHeader{}
	*r = kgo.Record{Value: buf, Headers: hdr}
	p.p.Put(r)
}

// recordSize is the size of r as the client counts it against its
// MaxBufferedBytes: key, value and headers.
func recordSize(r *kgo.Record) int64 {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return int64(n)
}
