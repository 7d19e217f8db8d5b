package gavelgoccy_test

import (
	"testing"

	"github.com/gavelrtb/gavel/internal/modtest"
)

// TestREADMEQuickStart builds and vets the quick start of README.md, its
// first go block, as a program of this module: a README that stops
// compiling fails here. (The release rehearsal, .ci/rehearse-release,
// builds it again against the modules as published.)
func TestREADMEQuickStart(t *testing.T) {
	modtest.Vet(t, modtest.GoBlocks(t, "README.md")[0])
}
