//go:build race

package predict_test

// raceEnabled: the race detector slows the simulation tenfold, and it
// runs no goroutines: it is skipped under -race.
const raceEnabled = true
