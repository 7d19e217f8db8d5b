package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The HDR histogram's quantiles are within 0.1% of the latencies they
// name; the maximum is exact, also past the histogram's range.
func TestLatenciesQuantiles(t *testing.T) {
	var l Latencies
	assert.Zero(t, l.Quantile(0.99), "empty")
	for ms := 1; ms <= 1000; ms++ {
		l.add(time.Duration(ms) * time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 500 * time.Millisecond, 0.9: 900 * time.Millisecond, 0.99: 990 * time.Millisecond} {
		got := l.Quantile(q)
		assert.InEpsilon(t, float64(want), float64(got), 0.001, "q%v: %v", q, got)
	}
	assert.Equal(t, time.Second, l.Max())
	l.add(2 * time.Minute)
	assert.Equal(t, 2*time.Minute, l.Max(), "beyond the histogram, exact")
	assert.Equal(t, 1001, l.N)
}
