package gavelprom_test

import (
	"strings"
	"testing"

	"github.com/gavelrtb/gavel/internal/modtest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
)

// The errors of the package name gavel once: a wrapped sentinel already
// says it.
func TestErrorsSayGavelOnce(t *testing.T) {
	_, err := gavelprom.New(gavelprom.WithNamespace("1x"), gavelprom.WithRegisterer(nil),
		gavelprom.WithConstLabels(prometheus.Labels{"é": "x"}), gavelprom.WithReadTimeout(0))
	assert.ErrorIs(t, err, gavel.ErrInvalidOption)
	modtest.PrefixedOnce(t, err)
	assert.Len(t, strings.Split(err.Error(), "\n"), 4, "all problems at once: %v", err)

	m, err := gavelprom.New()
	require.NoError(t, err)
	modtest.PrefixedOnce(t, m.WatchAuction(nil))
	modtest.PrefixedOnce(t, m.WatchPacer(nil))
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
