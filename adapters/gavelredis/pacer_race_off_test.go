//go:build !race

package gavelredis

// pacerRaceEnabled tells the tests that the race detector is on, so that
// they skip or widen what it distorts (allocation counts, lateness).
const pacerRaceEnabled = false
