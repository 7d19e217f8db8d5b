// Package modtest holds the checks that the tests of gavel's modules (the
// core and each adapter) share: the go blocks of a README build and vet,
// and error messages name gavel once. It is for gavel's own tests only.
package modtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GoBlocks returns the go blocks (```go fences) of the markdown file name,
// in order. It fails t when there is none or one does not end.
func GoBlocks(t testing.TB, name string) [][]byte {
	t.Helper()
	md, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]byte
	for rest := md; ; {
		var ok bool
		if _, rest, ok = bytes.Cut(rest, []byte("\n```go\n")); !ok {
			break
		}
		var block []byte
		if block, rest, ok = bytes.Cut(rest, []byte("\n```\n")); !ok {
			t.Fatalf("%s: go block %d does not end", name, len(blocks)+1)
		}
		blocks = append(blocks, append(block, '\n'))
	}
	if len(blocks) == 0 {
		t.Fatalf("%s has no go block", name)
	}
	return blocks
}

// Vet builds and vets src, a main package, as a program of the module in
// the current directory (a test's own package directory): it is written
// to a temporary directory there, removed afterwards.
func Vet(t testing.TB, src []byte) {
	t.Helper()
	dir, err := os.MkdirTemp(".", "readme")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "vet", "./"+filepath.Base(dir)).CombinedOutput(); err != nil {
		t.Fatalf("does not build or vet: %v\n%s\n%s", err, out, src)
	}
}

// PrefixedOnce checks that err is an error each of whose lines (errors.Join
// puts one problem a line) says "gavel:" exactly once, at its start.
func PrefixedOnce(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		t.Error("no error")
		return
	}
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if strings.Count(line, "gavel:") != 1 || !strings.HasPrefix(line, "gavel: ") {
			t.Errorf("want one gavel: prefix: %q", line)
		}
	}
}
