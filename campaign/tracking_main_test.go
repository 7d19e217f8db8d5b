package campaign_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the package's tests leave no goroutine behind (the
// tracking tests run httptest servers). It is the package's only TestMain.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
