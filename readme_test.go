package gavel_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmePrelude declares what the README's snippets take as given (the
// caller's ctx, request, response writer, bidders, and a func that bids),
// so that each snippet compiles as the body of a function.
const readmePrelude = `package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
)

var (
	_ = json.Marshal
	_ = log.Fatal
	_ = os.Stdout
	_ = time.Second
)

func houseAds(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	return nil, nil
}

func main() {}
`

// TestREADMESnippetsCompile builds and vets every go block of README.md,
// each as the body of a function of a program of this module: a README
// that stops compiling fails here.
func TestREADMESnippetsCompile(t *testing.T) {
	md, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var src bytes.Buffer
	src.WriteString(readmePrelude)
	n := 0
	for rest := md; ; {
		var ok bool
		if _, rest, ok = bytes.Cut(rest, []byte("\n```go\n")); !ok {
			break
		}
		var block []byte
		block, rest, ok = bytes.Cut(rest, []byte("\n```\n"))
		require.True(t, ok, "README.md: go block %d does not end", n+1)
		n++
		fmt.Fprintf(&src, "\nfunc snippet%d(ctx context.Context, bidRequest, req *openrtb2.BidRequest, w http.ResponseWriter, bidders []gavel.Bidder, cost int64) {\n%s\n}\n", n, block)
	}
	require.Positive(t, n, "README.md has no go block")
	dir, err := os.MkdirTemp(".", "readme")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), src.Bytes(), 0o644))
	out, err := exec.Command("go", "vet", "./"+filepath.Base(dir)).CombinedOutput()
	require.NoError(t, err, "README.md's snippets do not build or vet:\n%s\n%s", out, src.String())
}
