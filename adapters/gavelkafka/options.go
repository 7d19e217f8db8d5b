package gavelkafka

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel"
)

// An Option configures a Sink. Options are applied in order by NewSink,
// which validates the result; a later option overrides an earlier one of
// the same kind, except WithSinkHooks and WithClientOptions, which add.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Defaults of the options. They are documented on each option too; the
// default codecs are DefaultCompression's.
const (
	DefaultIdempotence        = true
	DefaultLinger             = 10 * time.Millisecond
	DefaultBatchMaxBytes      = 1_000_012 // Kafka's max.message.bytes default
	DefaultMaxBufferedRecords = 100_000
	DefaultMaxBufferedBytes   = 64 << 20
	DefaultDeliveryTimeout    = 2 * time.Minute
)

type config struct {
	brokers     []string
	topic       string
	compression []kgo.CompressionCodec
	idempotent  bool
	linger      time.Duration
	batchBytes  int32
	maxRecords  int
	maxBytes    int64
	timeout     time.Duration
	hooks       []gavel.SinkHook
	codec       gavel.Codec
	client      *kgo.Client
	clientOpts  []kgo.Opt
	configured  []string // options that configure the client, by name: they contradict WithClient
}

// DefaultCompression returns the default of WithCompression, in order of
// preference: zstd at its fastest level, snappy, none.
func DefaultCompression() []kgo.CompressionCodec {
	return []kgo.CompressionCodec{
		kgo.ZstdCompression().WithLevel(int(zstd.SpeedFastest)), kgo.SnappyCompression(), kgo.NoCompression(),
	}
}

func defaultConfig() config {
	return config{
		compression: DefaultCompression(),
		idempotent:  DefaultIdempotence,
		linger:      DefaultLinger,
		batchBytes:  DefaultBatchMaxBytes,
		maxRecords:  DefaultMaxBufferedRecords,
		maxBytes:    DefaultMaxBufferedBytes,
		timeout:     DefaultDeliveryTimeout,
		codec:       gavel.StdCodec(),
	}
}

// clientOption returns an option named name that configures the Sink's own
// client, and so cannot be combined with WithClient.
func clientOption(name string, f func(*config)) Option {
	return optionFunc(func(c *config) {
		c.configured = append(c.configured, name)
		f(c)
	})
}

// WithBrokers sets the seed brokers, "host:port" each, from which the
// Sink's client discovers the cluster. A seed without a port gets Kafka's
// 9092. There is no default: NewSink needs WithBrokers or WithClient.
func WithBrokers(seeds ...string) Option {
	return clientOption("WithBrokers", func(c *config) { c.brokers = append([]string(nil), seeds...) })
}

// WithTopic sets the topic that every event is produced to. The topic must
// exist: the client does not create it, and fails the records of a topic
// that the cluster keeps reporting unknown (kgo.UnknownTopicRetries). If
// the topic is deleted and created again while the Sink runs, the client
// refuses the new one, which has a new topic ID (see franz-go's README):
// every event then fails with kerr.UnknownTopicID until a new Sink is
// made. There is no default: NewSink fails without it.
func WithTopic(topic string) Option {
	return optionFunc(func(c *config) { c.topic = topic })
}

// WithCompression sets the codecs that record batches are compressed with,
// in order of preference: the client uses the first one the broker
// supports, and sends a batch uncompressed if compressing does not make it
// smaller. Every consumer of the topic must be able to decode them.
//
// Default DefaultCompression(): zstd at its fastest level, then snappy,
// then none. The events of
// an auction share a key, so they share a batch, and they repeat their
// field names and ids: in BenchmarkKafkaSink (in the benchmarks module),
// zstd's fastest level leaves 10% of the bytes and snappy 19%, for up to
// 1µs more CPU time per event than snappy; zstd's default level compresses
// no better here and costs 1 to 1.5µs more than its fastest. A batch
// compressed once is sent, stored, replicated and read many times, so the
// bytes weigh more. zstd needs Kafka 2.1 or later and consumers that
// decode it; older brokers get snappy.
func WithCompression(codecs ...kgo.CompressionCodec) Option {
	return clientOption("WithCompression", func(c *config) { c.compression = append([]kgo.CompressionCodec(nil), codecs...) })
}

// WithIdempotence turns the idempotent producer on or off. With it, the
// broker discards a batch that the client sends again after losing the
// answer to the first try, so a retry never writes an event twice, and
// events of one auction keep their order across retries; it requires acks
// from all in-sync replicas, which the Sink always asks for. Without it the
// client sends one request at a time per broker, and a retry can duplicate
// a batch. Default DefaultIdempotence, on (as in franz-go); turn it off
// only if the cluster denies the IDEMPOTENT_WRITE permission (Kafka before
// 3.0).
func WithIdempotence(on bool) Option {
	return clientOption("WithIdempotence", func(c *config) { c.idempotent = on })
}

// WithLinger sets how long a partition's batch waits for more records
// before it is sent (kgo.ProducerLinger). A longer linger makes larger,
// better compressed batches; Flush and Close send at once. It must not be
// negative; 0 sends as soon as the client can. Default DefaultLinger, 10ms.
func WithLinger(d time.Duration) Option {
	return clientOption("WithLinger", func(c *config) { c.linger = d })
}

// WithBatchMaxBytes sets the largest record batch, before compression, that
// the client sends to one partition (kgo.ProducerBatchMaxBytes). It must
// not exceed the topic's max.message.bytes; an event larger than it is
// failed. It must be in [512, 1<<30]. Default DefaultBatchMaxBytes,
// 1,000,012 bytes, Kafka's default max.message.bytes.
func WithBatchMaxBytes(n int32) Option {
	return clientOption("WithBatchMaxBytes", func(c *config) { c.batchBytes = n })
}

// WithMaxBufferedRecords bounds the events that the Sink holds: accepted
// by Write and not yet delivered or failed. A Write that would exceed the
// bound, or the one of WithMaxBufferedBytes, is refused whole with
// ErrBufferFull (so a Write of more events than the bound always is);
// Write never waits for room. It must be at least 1.
// Default DefaultMaxBufferedRecords, 100,000.
func WithMaxBufferedRecords(n int) Option {
	return optionFunc(func(c *config) { c.maxRecords = n })
}

// WithMaxBufferedBytes bounds the bytes of the events that the Sink holds,
// counted as the client counts them: key, value and headers of each record.
// See WithMaxBufferedRecords. It must be at least 1. Default
// DefaultMaxBufferedBytes, 64 MiB.
func WithMaxBufferedBytes(n int64) Option {
	return optionFunc(func(c *config) { c.maxBytes = n })
}

// WithDeliveryTimeout bounds how long an event may wait in the client,
// retried, before it is failed (kgo.RecordDeliveryTimeout). While the
// brokers are out of reach, events wait in the buffer until then, and Write
// refuses new ones once the buffer is full. The bound holds even for an
// event whose request was sent and never answered, which the idempotent
// producer would otherwise hold until a broker answers
// (kgo.AllowIdempotentProduceCancellation): the Sink never produces an
// event twice, so failing it cannot duplicate it, but such an event may
// have been written all the same. Failed means "not known to be
// delivered". It must be at least a second (franz-go's bound). Default
// DefaultDeliveryTimeout, 2 minutes, Kafka's delivery.timeout.ms.
func WithDeliveryTimeout(d time.Duration) Option {
	return clientOption("WithDeliveryTimeout", func(c *config) { c.timeout = d })
}

// WithSinkHooks registers hooks that observe the Sink, as
// gavel.WithSinkHooks does for an AsyncSink: each implements one or more
// of gavel.EventsDroppedHook (Write refused n events: the buffer is full,
// the Sink is closed, or an event is invalid), gavel.EventsFailedHook (n
// accepted events were given up: the client failed them with err, such as
// the delivery timeout or a broker's error that is not retried, or Close
// gave up on them with the cause of its ctx) and gavel.EventsDeliveredHook
// (Kafka acknowledged n events); NewSink refuses a hook that implements
// none. The client reports events one by one, so n is usually 1. One value
// can observe both a Sink and gavel's AsyncSink. Later calls add to
// earlier ones. Default: none.
//
// Hooks are called synchronously: OnEventsDropped from the goroutine that
// called Write, the others from the client's promise goroutine (and
// OnEventsFailed from Close). The client calls its promises one at a time,
// so a slow hook delays every delivery: hooks must be fast, safe for
// concurrent use, and must not call the Sink's Write, Flush or Close.
func WithSinkHooks(hooks ...gavel.SinkHook) Option {
	return optionFunc(func(c *config) { c.hooks = append(c.hooks, hooks...) })
}

// WithCodec makes the Sink encode each event's record value with c, which
// is given the event as a *gavel.Event (see gavel.Codec). Default:
// gavel.StdCodec(), which writes the event's JSON with Event.AppendJSON,
// without reflection or allocation. A nil c is an error.
func WithCodec(c gavel.Codec) Option {
	return optionFunc(func(cfg *config) { cfg.codec = c })
}

// WithClient makes the Sink produce with the caller's client instead of one
// of its own. The Sink does not close it; the caller closes it after the
// Sink's Close. The client's own configuration then applies, so WithClient
// cannot be combined with WithBrokers, WithCompression, WithIdempotence,
// WithLinger, WithBatchMaxBytes, WithDeliveryTimeout or WithClientOptions.
// The Sink's bounds (WithMaxBufferedRecords, WithMaxBufferedBytes) still
// apply to its own events, but the client's MaxBufferedRecords and
// MaxBufferedBytes count everything produced with it: if they refuse an
// event that the Sink accepted, it is counted as failed with
// kgo.ErrMaxBuffered. Flush waits for everything produced with the client.
// Default: the Sink makes and owns its client.
func WithClient(cl *kgo.Client) Option {
	return optionFunc(func(c *config) { c.client = cl })
}

// WithClientOptions adds options for the Sink's own client, such as
// kgo.DialTLSConfig, kgo.SASL, kgo.WithLogger or kgo.ClientID. They are
// applied after the ones the Sink derives from its options, so they
// override them; do not lower the client's MaxBufferedRecords or
// MaxBufferedBytes below the Sink's bounds (see WithClient), nor set
// ManualFlushing or a transactional id. Default: none.
func WithClientOptions(opts ...kgo.Opt) Option {
	return clientOption("WithClientOptions", func(c *config) { c.clientOpts = append(c.clientOpts, opts...) })
}

func (c *config) validate() error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: kafka sink: "+format, append([]any{gavel.ErrInvalidOption}, args...)...))
	}
	if c.topic == "" {
		fail("topic is required (WithTopic)")
	}
	if c.client != nil {
		if len(c.configured) > 0 {
			fail("WithClient cannot be combined with %s, which configure the sink's own client", strings.Join(c.configured, ", "))
		}
	} else if len(c.brokers) == 0 {
		fail("seed brokers are required (WithBrokers or WithClient)")
	}
	if c.linger < 0 {
		fail("linger must not be negative, got %v", c.linger)
	}
	if c.batchBytes < 512 || c.batchBytes > 1<<30 {
		fail("batch max bytes must be in [512, 1<<30], got %d", c.batchBytes)
	}
	if c.maxRecords < 1 {
		fail("max buffered records must be at least 1, got %d", c.maxRecords)
	}
	if c.maxBytes < 1 {
		fail("max buffered bytes must be at least 1, got %d", c.maxBytes)
	}
	if c.timeout < time.Second {
		fail("delivery timeout must be at least 1s, got %v", c.timeout)
	}
	if c.codec == nil {
		fail("codec must not be nil")
	}
	return errors.Join(errs...)
}

// clientOptions returns the options of the Sink's own client.
func (c *config) clientOptions() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(c.compression...),
		kgo.ProducerLinger(c.linger),
		kgo.ProducerBatchMaxBytes(c.batchBytes),
		kgo.RecordDeliveryTimeout(c.timeout),
		// The Sink's own bound refuses a Write before the client would.
		// The client counts a record until just after its promise has
		// run, the Sink until just before, so the client's bound sits a
		// little higher, as a backstop that never binds first.
		kgo.MaxBufferedRecords(c.maxRecords + 1024),
	}
	if c.idempotent {
		// Let the delivery timeout fail a batch that was sent and not
		// answered, instead of holding it until a broker answers.
		opts = append(opts, kgo.AllowIdempotentProduceCancellation())
	} else {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	return append(opts, c.clientOpts...)
}

type hooks struct {
	dropped   []gavel.EventsDroppedHook
	failed    []gavel.EventsFailedHook
	delivered []gavel.EventsDeliveredHook
}

func (hs *hooks) add(h gavel.SinkHook) error {
	known := false
	if x, ok := h.(gavel.EventsDroppedHook); ok {
		hs.dropped, known = append(hs.dropped, x), true
	}
	if x, ok := h.(gavel.EventsFailedHook); ok {
		hs.failed, known = append(hs.failed, x), true
	}
	if x, ok := h.(gavel.EventsDeliveredHook); ok {
		hs.delivered, known = append(hs.delivered, x), true
	}
	if !known {
		return fmt.Errorf("%w: kafka sink: hook %T implements no hook interface", gavel.ErrInvalidOption, h)
	}
	return nil
}
