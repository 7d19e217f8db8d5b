package gavel_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gavelrtb/gavel/internal/modtest"
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
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/dashboard"
	"github.com/gavelrtb/gavel/gavelhttp"
	"github.com/gavelrtb/gavel/predict"
)

// ledger is a ledger the snippets share.
var ledger, _ = gavel.NewMemoryLedger()

var (
	_ = dashboard.New
	_ = campaign.NewBidder
	_ = predict.NewModel
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
	var src bytes.Buffer
	src.WriteString(readmePrelude)
	for i, block := range modtest.GoBlocks(t, "README.md") {
		fmt.Fprintf(&src, "\nfunc snippet%d(ctx context.Context, bidRequest, req *openrtb2.BidRequest, w http.ResponseWriter, bidders []gavel.Bidder, cost int64) {\n%s}\n", i+1, block)
	}
	modtest.Vet(t, src.Bytes())
}
