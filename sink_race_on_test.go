//go:build race

package gavel_test

// sinkRaceEnabled reports whether the race detector is on: it allocates,
// so allocation counts mean nothing under it.
const sinkRaceEnabled = true
