package gavel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// The fixture corpus, in the spirit of prebid-server's exemplary adapter
// fixtures: real-shaped traffic in, the outcome an exchange must reach out.
// Each directory of testdata/corpus holds one auction:
//
//	request.json          the bid request, as an SSP sends it
//	responses/<bidder>.json  each bidder's answer, as a DSP sends it; a
//	                      bidder without a file answers with no bid (nil,
//	                      or 204 over HTTP)
//	expect.json           the auction and its expected outcome (corpusExpect)
//
// TestCorpus runs every fixture twice, with in-process bidders and with
// HTTP bidders against servers that answer with the same bodies, and
// requires the same outcome of both.
const corpusDir = "testdata/corpus"

// corpusExpect is expect.json: how to run the auction and what it gives.
// Prices are decimal strings of CPM, as FormatMicros writes them.
type corpusExpect struct {
	About string `json:"about"` // what the fixture shows, with the sections of the spec
	// Pending, when set, says why the fixture cannot run yet; it still
	// seeds FuzzRun.
	Pending string              `json:"pending,omitempty"`
	Bidders []string            `json:"bidders"`         // in WithBidders order
	Seats   map[string][]string `json:"seats,omitempty"` // WithBidderSeats
	Rates   map[string]float64  `json:"rates,omitempty"` // "EUR>USD": 1.08; none: no converter

	Error    *corpusError      `json:"error,omitempty"` // Run refuses the request
	Currency string            `json:"currency,omitempty"`
	NBR      int               `json:"nbr,omitempty"`      // Result.NBR: 0 when something won
	Statuses map[string]string `json:"statuses,omitempty"` // by bidder
	Bids     []corpusBid       `json:"bids"`               // every bid, in Result order
	// Pods lists, by imp id, the ids of a dynamic pod's winners in play
	// order (ImpResult.Pod); an imp not listed is no dynamic pod.
	Pods map[string][]string `json:"pods,omitempty"`
}

type corpusError struct {
	Kind     string   `json:"kind"`               // "invalid_request" (nbr 2) or "no_currency" (nbr 1)
	Problems []string `json:"problems,omitempty"` // RequestError.Problems
	Message  string   `json:"message,omitempty"`  // the error's message, when given
}

// corpusBid is one bid's outcome. Loss 0 means it won; a winner's clear is
// its clearing price in the auction currency, and its nurl, burl and adm
// are those of the BidResponse. A loser's lurl is Result.LossURL. Absent
// URLs are not checked.
type corpusBid struct {
	Bidder string  `json:"bidder"`
	Seat   string  `json:"seat"`
	Imp    string  `json:"imp"`
	ID     string  `json:"id"`
	Loss   int     `json:"loss"`
	Clear  string  `json:"clear,omitempty"`
	NURL   *string `json:"nurl,omitempty"`
	BURL   *string `json:"burl,omitempty"`
	AdM    *string `json:"adm,omitempty"`
	LURL   *string `json:"lurl,omitempty"`
}

type corpusCase struct {
	name      string
	request   []byte
	responses map[string][]byte // by bidder
	want      corpusExpect
}

// loadCorpus reads every fixture of the corpus.
func loadCorpus(tb testing.TB) []corpusCase {
	tb.Helper()
	dirs, err := os.ReadDir(corpusDir)
	require.NoError(tb, err)
	var cases []corpusCase
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(corpusDir, d.Name())
		c := corpusCase{name: d.Name(), responses: map[string][]byte{}}
		c.request, err = os.ReadFile(filepath.Join(dir, "request.json"))
		require.NoError(tb, err)
		expect, err := os.ReadFile(filepath.Join(dir, "expect.json"))
		require.NoError(tb, err)
		dec := json.NewDecoder(bytes.NewReader(expect))
		dec.DisallowUnknownFields()
		require.NoError(tb, dec.Decode(&c.want), "%s/expect.json", dir)
		files, _ := filepath.Glob(filepath.Join(dir, "responses", "*.json"))
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".json")
			require.Contains(tb, c.want.Bidders, name, "%s: a response of no bidder", f)
			c.responses[name], err = os.ReadFile(f)
			require.NoError(tb, err)
		}
		cases = append(cases, c)
	}
	require.NotEmpty(tb, cases)
	return cases
}

// TestCorpus runs the fixture corpus: see corpusDir.
func TestCorpus(t *testing.T) {
	for _, c := range loadCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			if c.want.Pending != "" {
				t.Skip("pending: " + c.want.Pending)
			}
			t.Run("in-process", func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					res, err := c.run(t, c.inProcess(t))
					c.check(t, res, err)
				})
			})
			t.Run("http", func(t *testing.T) {
				res, err := c.run(t, c.overHTTP(t))
				c.check(t, res, err)
			})
		})
	}
}

// run runs the fixture's auction among bidders. The request's tmax is
// replaced by a generous one, so that a loaded machine does not time the
// HTTP bidders out: the outcome must not depend on it.
func (c *corpusCase) run(t *testing.T, bidders []gavel.Bidder) (*gavel.Result, error) {
	t.Helper()
	var req, orig openrtb2.BidRequest
	require.NoError(t, json.Unmarshal(c.request, &req))
	require.NoError(t, json.Unmarshal(c.request, &orig))
	req.TMax, orig.TMax = 0, 0
	opts := []gavel.Option{gavel.WithBidders(bidders...),
		gavel.WithMaxTMax(10 * time.Second), gavel.WithDefaultTMax(10 * time.Second)}
	for bidder, seats := range c.want.Seats {
		opts = append(opts, gavel.WithBidderSeats(bidder, seats...))
	}
	if c.want.Rates != nil {
		opts = append(opts, gavel.WithCurrencyConverter(rates(c.want.Rates)))
	}
	res, err := mustAuction(t, opts...).Run(context.Background(), &req)
	assert.JSONEq(t, string(snapshot(&orig)), string(snapshot(&req)), "Run modified the request")
	return res, err
}

// inProcess returns the fixture's bidders as in-process bidders, each
// decoding its response anew for every call.
func (c *corpusCase) inProcess(t *testing.T) []gavel.Bidder {
	var out []gavel.Bidder
	for _, name := range c.want.Bidders {
		body := c.responses[name]
		out = append(out, gavel.BidderFunc(name, func(context.Context, *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
			if body == nil {
				return nil, nil
			}
			var resp openrtb2.BidResponse
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Errorf("%s: %v", name, err)
				return nil, err
			}
			return &resp, nil
		}))
	}
	return out
}

// overHTTP returns the fixture's bidders as HTTP bidders, each against a
// server that answers with its response body, or 204 without one.
func (c *corpusCase) overHTTP(t *testing.T) []gavel.Bidder {
	var out []gavel.Bidder
	for _, name := range c.want.Bidders {
		body := c.responses[name]
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			var req openrtb2.BidRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				t.Errorf("%s: the bid request: %v", name, err)
			}
			if body == nil {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		})
		out = append(out, newHTTPBidder(t, name, srv.URL))
	}
	return out
}

// check compares the outcome of the fixture's auction with expect.json.
func (c *corpusCase) check(t *testing.T, res *gavel.Result, err error) {
	t.Helper()
	want := &c.want
	if want.Error != nil {
		checkCorpusError(t, want.Error, res, err)
		return
	}
	require.NoError(t, err)
	require.NotNil(t, res)
	assert.Equal(t, want.Currency, res.Currency, "auction currency")
	assert.Equal(t, openrtb3.NoBidReason(want.NBR), res.NBR, "no-bid reason")
	for _, br := range res.Bidders {
		if s, ok := want.Statuses[br.Bidder]; ok {
			assert.Equal(t, s, br.Status.String(), "status of %s (err %v)", br.Bidder, br.Err)
		}
	}
	resp := res.BidResponse()
	checkCorpusResponse(t, res, resp)
	got := make([]corpusBid, len(res.Bids))
	for i := range res.Bids {
		got[i] = corpusOutcome(res, resp, i, &want.Bids)
	}
	assert.Equal(t, want.Bids, got, "bids")
	pods := map[string][]string{}
	for _, ir := range res.Imps {
		if ir.Pod != nil {
			pods[ir.ImpID] = []string{}
			for _, w := range ir.Pod.Winners {
				pods[ir.ImpID] = append(pods[ir.ImpID], res.Bids[w].Bid.ID)
			}
		}
	}
	if want.Pods == nil {
		want.Pods = map[string][]string{}
	}
	assert.Equal(t, want.Pods, pods, "the winners of dynamic pods, in play order")
}

func checkCorpusError(t *testing.T, want *corpusError, res *gavel.Result, err error) {
	t.Helper()
	assert.Nil(t, res)
	switch want.Kind {
	case "invalid_request":
		var re *gavel.RequestError
		require.True(t, errors.As(err, &re), "%T: %v", err, err)
		assert.Equal(t, openrtb3.NoBidInvalidRequest, re.Reason)
		assert.Equal(t, want.Problems, re.Problems)
	case "no_currency":
		var ce *gavel.CurrencyError
		require.True(t, errors.As(err, &ce), "%T: %v", err, err)
		assert.Equal(t, openrtb3.NoBidTechnicalError, ce.Reason)
		assert.NotErrorIs(t, err, gavel.ErrInvalidRequest)
	default:
		t.Fatalf("unknown error kind %q", want.Kind)
	}
	if want.Message != "" {
		assert.Equal(t, want.Message, err.Error())
	}
}

// checkCorpusResponse checks the response built from res: nbr without a
// winner, and a JSON encoding that decodes to the same response.
func checkCorpusResponse(t *testing.T, res *gavel.Result, resp *openrtb2.BidResponse) {
	t.Helper()
	assert.Equal(t, res.AuctionID, resp.ID)
	if !res.HasWinner() {
		require.NotNil(t, resp.NBR)
		assert.Equal(t, res.NBR, *resp.NBR)
	}
	data, err := json.Marshal(resp)
	require.NoError(t, err)
	var back openrtb2.BidResponse
	require.NoError(t, json.Unmarshal(data, &back))
	again, err := json.Marshal(&back)
	require.NoError(t, err)
	assert.JSONEq(t, string(data), string(again), "the response does not round-trip through JSON")
	for _, sb := range resp.SeatBid {
		for _, b := range sb.Bid {
			for _, s := range []string{b.NURL, b.BURL, b.AdM} {
				assert.NotContains(t, s, "${AUCTION_PRICE}", "a winner's price left unexpanded") // §4.4
			}
		}
	}
}

// corpusOutcome describes Bids[i] as expect.json does, filling in the URLs
// that the expected bid at the same index checks.
func corpusOutcome(res *gavel.Result, resp *openrtb2.BidResponse, i int, want *[]corpusBid) corpusBid {
	b := &res.Bids[i]
	got := corpusBid{Bidder: b.Bidder, Seat: b.Seat, Imp: b.Bid.ImpID, ID: b.Bid.ID, Loss: int(b.Loss)}
	var w *corpusBid
	if i < len(*want) {
		w = &(*want)[i]
	}
	if b.Won {
		got.Clear = gavel.FormatMicros(b.ClearMicros)
		out := responseBid(resp, b)
		if w != nil && w.NURL != nil {
			got.NURL = &out.NURL
		}
		if w != nil && w.BURL != nil {
			got.BURL = &out.BURL
		}
		if w != nil && w.AdM != nil {
			got.AdM = &out.AdM
		}
		return got
	}
	if w != nil && w.LURL != nil {
		u := res.LossURL(i)
		got.LURL = &u
	}
	return got
}

// responseBid finds the winner b in resp.
func responseBid(resp *openrtb2.BidResponse, b *gavel.BidOutcome) *openrtb2.Bid {
	for i := range resp.SeatBid {
		sb := &resp.SeatBid[i]
		for j := range sb.Bid {
			if sb.Seat == b.Seat && sb.Bid[j].ID == b.Bid.ID && sb.Bid[j].ImpID == b.Bid.ImpID {
				return &sb.Bid[j]
			}
		}
	}
	return &openrtb2.Bid{}
}
