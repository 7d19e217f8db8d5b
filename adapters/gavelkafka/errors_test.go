package gavelkafka_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel/adapters/gavelkafka"
)

// assertPrefixedOnce asserts that every line of err's message (errors.Join
// puts one problem per line) says "gavel:" exactly once, at its start.
func assertPrefixedOnce(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	for line := range strings.SplitSeq(err.Error(), "\n") {
		assert.Equal(t, 1, strings.Count(line, "gavel:"), "%q", line)
		assert.True(t, strings.HasPrefix(line, "gavel: "), "%q", line)
	}
}

// The errors of the package name gavel once: a wrapped error of gavel's
// already says it.
func TestErrorsSayGavelOnce(t *testing.T) {
	_, err := gavelkafka.NewSink()
	assertPrefixedOnce(t, err)
	_, err = gavelkafka.NewSink(gavelkafka.WithBrokers("b"), gavelkafka.WithTopic("t"),
		gavelkafka.WithSinkHooks(42), gavelkafka.WithLinger(-1))
	assertPrefixedOnce(t, err)
	_, err = gavelkafka.NewSink(gavelkafka.WithBrokers("b"), gavelkafka.WithTopic("t"),
		gavelkafka.WithClientOptions(kgo.RequiredAcks(kgo.LeaderAck())))
	assertPrefixedOnce(t, err)

	c := startCluster(t)
	s := newSink(t, gavelkafka.WithBrokers(c.ListenAddrs()[0]))
	ctx := context.Background()
	evs := events("a", 0, 2)
	evs[1].Type = 0
	assertPrefixedOnce(t, s.Write(ctx, evs))
	require.NoError(t, s.Close(ctx))
	assertPrefixedOnce(t, s.Write(ctx, events("a", 0, 1)))
}
