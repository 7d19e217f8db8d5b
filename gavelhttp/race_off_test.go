//go:build !race

package gavelhttp_test

const raceEnabled = false
