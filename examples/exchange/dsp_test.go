package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/require"
)

// testDSP is a DSP on an httptest server: it bids price (CPM, USD) on
// every imp of a bid request at POST /bid, or, when hang is set, answers
// only once the request ends, and counts the win, loss and billing
// notices its bids' nurl, lurl and burl bring back.
type testDSP struct {
	name  string
	price float64
	hang  bool
	srv   *httptest.Server
	stop  chan struct{} // closed when the test ends: a hanging bid returns

	delay                         atomic.Int64 // time.Duration to wait before bidding
	requests, wins, losses, bills atomic.Int64
	lastLoss                      atomic.Value // string: the ${AUCTION_LOSS} of the last loss notice
}

// newTestDSP starts a DSP, closed when the test ends.
func newTestDSP(t *testing.T, name string, price float64, hang bool) *testDSP {
	t.Helper()
	d := &testDSP{name: name, price: price, hang: hang, stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /bid", d.bid)
	count := func(n *atomic.Int64) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			n.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}
	}
	mux.Handle("GET /win", count(&d.wins))
	mux.Handle("GET /bill", count(&d.bills))
	mux.HandleFunc("GET /loss", func(w http.ResponseWriter, r *http.Request) {
		d.lastLoss.Store(r.URL.Query().Get("reason"))
		d.losses.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	d.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(d.stop)
		d.srv.Close()
	})
	return d
}

func (d *testDSP) bid(w http.ResponseWriter, r *http.Request) {
	d.requests.Add(1)
	var req openrtb2.BidRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if d.hang {
		select {
		case <-r.Context().Done():
		case <-d.stop:
		}
		return
	}
	if delay := time.Duration(d.delay.Load()); delay > 0 {
		time.Sleep(delay)
	}
	resp := openrtb2.BidResponse{ID: req.ID, SeatBid: []openrtb2.SeatBid{{Seat: d.name}}}
	for _, imp := range req.Imp {
		resp.SeatBid[0].Bid = append(resp.SeatBid[0].Bid, openrtb2.Bid{
			ID: d.name + "-" + imp.ID, ImpID: imp.ID, Price: d.price,
			AdM: "<div>" + d.name + "</div>", ADomain: []string{d.name + ".example"}, CrID: d.name + "-1",
			NURL: d.srv.URL + "/win?price=${AUCTION_PRICE}",
			LURL: d.srv.URL + "/loss?reason=${AUCTION_LOSS}",
			BURL: d.srv.URL + "/bill?price=${AUCTION_PRICE}",
		})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&resp)
}

// testSecret signs the notices of the tests' configs.
const testSecret = "exchange-test-secret-of-32-bytes-at-least"

// testConfig returns a config, as the JSON it is read from, with dsps as
// bidders (each given the whole time of the auction), each with a budget of 1000.00 spent as soon as it comes, the
// ledger and pacer in memory, events as JSON lines to events, and
// notices allowed to reach the test's DSPs on 127.0.0.1.
func testConfig(events string, dsps ...*testDSP) map[string]any {
	return map[string]any{
		"auction": map[string]any{"default_tmax": "1s"},
		"bidders": bidders(dsps...),
		"budgets": budgets(dsps...),
		"stores": map[string]any{
			"ledger": map[string]any{"kind": "memory"},
			"pacer":  map[string]any{"kind": "memory"},
		},
		"events":  map[string]any{"kind": "jsonl", "file": events},
		"notices": map[string]any{"keys": []any{map[string]any{"id": "t1", "secret": testSecret}}, "allow_private_networks": true},
		"server":  map[string]any{"addr": "127.0.0.1:0"},
	}
}

func bidders(dsps ...*testDSP) []any {
	var out []any
	for _, d := range dsps {
		out = append(out, map[string]any{"name": d.name, "endpoint": d.srv.URL + "/bid"})
	}
	return out
}

func budgets(dsps ...*testDSP) []any {
	var out []any
	for _, d := range dsps {
		out = append(out, map[string]any{"account": d.name, "amount": "1000.00", "pacing": "asap"})
	}
	return out
}

// writeConfig writes conf as JSON to the file at path.
func writeConfig(t *testing.T, path string, conf map[string]any) {
	t.Helper()
	b, err := json.MarshalIndent(conf, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// launchConfig writes conf to a file and runs an exchange with it.
func launchConfig(t *testing.T, conf map[string]any) (*started, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "exchange.json")
	writeConfig(t, path, conf)
	s := launch(t, config{file: path})
	s.events, _ = conf["events"].(map[string]any)["file"].(string)
	return s, path
}

// slowRequest returns a request of user-1 with a tmax of a second: time
// enough for the test's bidders on a loaded machine.
func slowRequest(id string) *openrtb2.BidRequest {
	req := request(id, "user-1")
	req.TMax = 1000
	return req
}

// seatOf returns the seat of the one winning bid of resp.
func seatOf(t *testing.T, resp *openrtb2.BidResponse) (string, openrtb2.Bid) {
	t.Helper()
	require.Len(t, resp.SeatBid, 1)
	require.Len(t, resp.SeatBid[0].Bid, 1)
	return resp.SeatBid[0].Seat, resp.SeatBid[0].Bid[0]
}

// billingEvents counts the billing events in the JSON lines file at path.
func billingEvents(t *testing.T, path string) int {
	t.Helper()
	return len(billedAuctions(t, path))
}

// billedAuctions returns the auction id of each billing event in the JSON
// lines file at path, in order.
func billedAuctions(t *testing.T, path string) []string {
	t.Helper()
	var ids []string
	for _, e := range readEvents(t, path) {
		if e["type"] == "billing" {
			id, _ := e["auction_id"].(string)
			ids = append(ids, id)
		}
	}
	return ids
}

// isBilling tells whether a URL is the exchange's billing notice.
func isBilling(base, url string) bool { return strings.HasPrefix(url, base+pathBilling+"?t=") }
