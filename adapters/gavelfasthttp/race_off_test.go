//go:build !race

package gavelfasthttp_test

const raceEnabled = false
