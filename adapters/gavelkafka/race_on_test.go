//go:build race

package gavelkafka

// raceEnabled tells whether the race detector is on: it adds allocations
// of its own, and makes sync.Pool drop items, so allocation counts mean
// nothing under it.
const raceEnabled = true
