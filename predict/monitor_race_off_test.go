//go:build !race

package predict_test

// monitorRace tells whether the race detector is on: it allocates, so
// allocation counts mean nothing under it.
const monitorRace = false
