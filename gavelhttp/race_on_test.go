//go:build race

package gavelhttp_test

// raceEnabled tells whether the race detector is on: it adds allocations
// of its own, so allocation counts mean nothing under it.
const raceEnabled = true
