package gavelkafka_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the
// Sink's client, the consumers and the fake clusters must all be closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
