package gavelprom_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// The billing endpoint tells the Metrics of what it bills.
var _ gavelhttp.BilledHook = (*gavelprom.Metrics)(nil)

// fixedStats is a sink with stats that is not an AsyncSink, as the Kafka
// adapter's Sink is.
type fixedStats gavel.SinkStats

func (f *fixedStats) Stats() gavel.SinkStats { return gavel.SinkStats(*f) }

func TestWatchSinkTakesAnySinkWithStats(t *testing.T) {
	m, err := gavelprom.New()
	require.NoError(t, err)
	st := &fixedStats{Accepted: 12, Delivered: 7, Failed: 1, Queued: 4}
	require.NoError(t, m.WatchSink(st))
	assert.Equal(t, 12.0, value(t, m.Registry(), "gavel_events_accepted_total"))
	assert.Equal(t, 4.0, value(t, m.Registry(), "gavel_events_queued"))
	st.Accepted, st.Queued = 20, 0
	assert.Equal(t, 20.0, value(t, m.Registry(), "gavel_events_accepted_total"))
	assert.Equal(t, 0.0, value(t, m.Registry(), "gavel_events_queued"))

	require.Error(t, m.WatchSink(st), "one sink per Metrics")
	m2, err := gavelprom.New(gavelprom.WithNamespace("other"))
	require.NoError(t, err)
	require.Error(t, m2.WatchSink(nil))
}
