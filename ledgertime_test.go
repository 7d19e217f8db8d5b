package gavel

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestLedgerTimer checks the clearing time that a remote ledger's samples
// call for: DefaultRemoteClearingTime until ledgerTimeEvery samples, then
// twice their 99th percentile (rounded up to a multiple of 125µs) plus
// DefaultClearingTime, within [MinRemoteClearingTime, MaxClearingTime],
// over a window of the last ledgerTimeSamples samples.
func TestLedgerTimer(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	add := func(lt *ledgerTimer, n int, d time.Duration) {
		for range n {
			lt.record(d)
		}
	}
	t.Run("until measured", func(t *testing.T) {
		var lt ledgerTimer
		add(&lt, ledgerTimeEvery-1, ms(3))
		assert.Equal(t, DefaultRemoteClearingTime, lt.clearingTime())
		add(&lt, 1, ms(3))
		assert.Equal(t, ms(2*3+1), lt.clearingTime())
		add(&lt, ledgerTimeEvery, ms(2.9))
		assert.Equal(t, ms(2*3+1), lt.clearingTime(), "rounded up to a multiple of 125µs")
	})
	t.Run("bounds", func(t *testing.T) {
		for _, tt := range []struct {
			sample, want time.Duration
		}{
			{0, MinRemoteClearingTime},
			{-time.Millisecond, MinRemoteClearingTime}, // a clock that went back
			{ms(1), MinRemoteClearingTime},
			{ms(1.9), MinRemoteClearingTime},
			{ms(2.1), ms(2*2.125 + 1)},
			{ms(9.3), ms(2*9.375 + 1)},
			{ms(9.4), MaxClearingTime},
			{time.Second, MaxClearingTime},
		} {
			var lt ledgerTimer
			add(&lt, ledgerTimeEvery, tt.sample)
			assert.Equal(t, tt.want, lt.clearingTime(), "samples of %v", tt.sample)
		}
	})
	t.Run("99th percentile", func(t *testing.T) {
		var lt ledgerTimer
		add(&lt, ledgerTimeSamples-20, ms(1))
		add(&lt, 20, ms(8)) // 20 of 2048: less than 1% above the rest
		assert.Equal(t, MinRemoteClearingTime, lt.clearingTime(), "1%% of the window is above the 99th percentile")
		add(&lt, ledgerTimeEvery, ms(8)) // 52 of 2048
		assert.Equal(t, ms(2*8+1), lt.clearingTime())
	})
	t.Run("the window slides", func(t *testing.T) {
		var lt ledgerTimer
		add(&lt, ledgerTimeEvery, ms(8))
		add(&lt, ledgerTimeSamples-ledgerTimeEvery, ms(1))
		assert.Equal(t, ms(2*8+1), lt.clearingTime(), "the slow samples are still in the window")
		add(&lt, ledgerTimeEvery, ms(1))
		assert.Equal(t, MinRemoteClearingTime, lt.clearingTime(), "the slow samples left the window")
	})
}
