//go:build race

package gavelredis

// pacerRaceEnabled tells the pacer tests that the race detector is on, so
// that they skip what it distorts (allocation counts).
const pacerRaceEnabled = true
