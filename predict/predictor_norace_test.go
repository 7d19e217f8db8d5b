//go:build !race

package predict_test

const raceEnabled = false
