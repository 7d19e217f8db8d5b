package gavelprom_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
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

// The errors of the package name gavel once: a wrapped sentinel already
// says it.
func TestErrorsSayGavelOnce(t *testing.T) {
	_, err := gavelprom.New(gavelprom.WithNamespace("1x"), gavelprom.WithRegisterer(nil),
		gavelprom.WithConstLabels(prometheus.Labels{"é": "x"}), gavelprom.WithReadTimeout(0))
	assert.ErrorIs(t, err, gavel.ErrInvalidOption)
	assertPrefixedOnce(t, err)
	assert.Len(t, strings.Split(err.Error(), "\n"), 4, "all problems at once: %v", err)

	m, err := gavelprom.New()
	require.NoError(t, err)
	assertPrefixedOnce(t, m.WatchAuction(nil))
	assertPrefixedOnce(t, m.WatchPacer(nil))
}

func TestDefaults(t *testing.T) {
	// The defaults are fresh copies: changing one changes no Metrics.
	b := gavelprom.DefaultLatencyBuckets()
	b[0] = 42
	assert.NotEqual(t, b, gavelprom.DefaultLatencyBuckets())
	p := gavelprom.DefaultPriceBuckets()
	p[0] = 42
	assert.NotEqual(t, p, gavelprom.DefaultPriceBuckets())
}
