package gavelredis_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADMEQuickStart builds and vets the quick start of README.md, its
// first go block, as a program of this module: a README that stops
// compiling fails here. (The release rehearsal, .ci/rehearse-release,
// builds it again against the modules as published.)
func TestREADMEQuickStart(t *testing.T) {
	src := readmeQuickStart(t, "README.md")
	dir, err := os.MkdirTemp(".", "readme")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644))
	out, err := exec.Command("go", "vet", "./"+filepath.Base(dir)).CombinedOutput()
	require.NoError(t, err, "the README's quick start does not build or vet:\n%s\n%s", out, src)
}

// readmeQuickStart returns the first go block of the markdown file name.
func readmeQuickStart(t *testing.T, name string) []byte {
	t.Helper()
	md, err := os.ReadFile(name)
	require.NoError(t, err)
	_, rest, ok := bytes.Cut(md, []byte("\n```go\n"))
	require.True(t, ok, "%s has no go block", name)
	src, _, ok := bytes.Cut(rest, []byte("\n```\n"))
	require.True(t, ok, "%s: the go block does not end", name)
	return append(src, '\n')
}
