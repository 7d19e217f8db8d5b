package gavelfasthttp_test

import (
	"testing"

	"github.com/gavelrtb/gavel/internal/modtest"
)

// TestREADMEQuickStart builds and vets the go blocks of README.md, each a
// program of this module: a README that stops compiling fails here. (The
// release rehearsal, .ci/rehearse-release, builds the first again against
// the modules as published.)
func TestREADMEQuickStart(t *testing.T) {
	for _, block := range modtest.GoBlocks(t, "README.md") {
		modtest.Vet(t, block)
	}
}
