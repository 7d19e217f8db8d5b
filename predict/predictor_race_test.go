//go:build race

package predict_test

// raceEnabled: under -race, sync.Pool drops items at random, so the
// allocation tests of pooled paths are skipped.
const raceEnabled = true
