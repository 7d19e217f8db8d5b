package gavelhttp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test of the package leaves a goroutine behind:
// the auctions' bidders and the test servers included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
