package gavelkafka_test

import (
	"context"
	"testing"

	"github.com/gavelrtb/gavel/internal/modtest"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel/adapters/gavelkafka"
)

// The errors of the package name gavel once: a wrapped error of gavel's
// already says it.
func TestErrorsSayGavelOnce(t *testing.T) {
	_, err := gavelkafka.NewSink()
	modtest.PrefixedOnce(t, err)
	_, err = gavelkafka.NewSink(gavelkafka.WithBrokers("b"), gavelkafka.WithTopic("t"),
		gavelkafka.WithSinkHooks(42), gavelkafka.WithLinger(-1))
	modtest.PrefixedOnce(t, err)
	_, err = gavelkafka.NewSink(gavelkafka.WithBrokers("b"), gavelkafka.WithTopic("t"),
		gavelkafka.WithClientOptions(kgo.RequiredAcks(kgo.LeaderAck())))
	modtest.PrefixedOnce(t, err)

	c := startCluster(t)
	s := newSink(t, gavelkafka.WithBrokers(c.ListenAddrs()[0]))
	ctx := context.Background()
	evs := events("a", 0, 2)
	evs[1].Type = 0
	modtest.PrefixedOnce(t, s.Write(ctx, evs))
	require.NoError(t, s.Close(ctx))
	modtest.PrefixedOnce(t, s.Write(ctx, events("a", 0, 1)))
}
