package gavelhttp_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// Load a config and build the Auction from it: the config gives the
// bidders, budgets and auction options; the embedder adds the stores it
// names (here the in-memory ledger and pacer) and its hooks.
func ExampleParseConfig() {
	dsp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"id":"r1","seatbid":[{"bid":[{"id":"b1","impid":"1","price":2.5,"adm":"<div>ad</div>","crid":"c1"}]}]}`)
	}))
	defer dsp.Close()

	cfg, err := gavelhttp.ParseConfig([]byte(`{
		"auction": {"default_tmax": "120ms", "price_increment": "0.01"},
		"bidders": [{"name": "dsp-a", "endpoint": "` + dsp.URL + `", "timeout": "80ms"}],
		"budgets": [{"account": "dsp-a", "amount": "500.00", "pacing": "asap"}]
	}`))
	if err != nil {
		log.Fatal(err)
	}
	opts, err := cfg.AuctionOptions()
	if err != nil {
		log.Fatal(err)
	}
	ledger, _ := gavel.NewMemoryLedger() // cfg.Stores.Ledger.Kind is "memory"
	pacer, _ := gavel.NewEvenPacer()     // and so is cfg.Stores.Pacer.Kind
	auction, err := gavel.New(append(opts, gavel.WithLedger(ledger), gavel.WithPacer(pacer))...)
	if err != nil {
		log.Fatal(err)
	}
	defer auction.Close(context.Background())

	res, err := auction.Run(context.Background(), auctiontest.Request("r1", auctiontest.BannerImp("1", 1.00)))
	if err != nil {
		log.Fatal(err)
	}
	win := res.Bids[res.Imps[0].Winner]
	bal, _ := ledger.Balance(context.Background(), "dsp-a")
	fmt.Println(win.Seat, win.ClearMicros, bal.Budget) // second price: the floor and the increment

	// A config with mistakes is refused with all of them at once.
	_, err = gavelhttp.ParseConfig([]byte(`{
		"bidders": [{"name": "dsp-a", "endpont": "http://127.0.0.1:9001", "timeout": "fast"}],
		"stores": {"ledger": {"kind": "mysql"}}
	}`))
	for _, p := range err.(*gavelhttp.ConfigError).Problems {
		fmt.Println(p)
	}
	// Output:
	// dsp-a 1010000 500000000
	// unknown field "bidders[0].endpont"
	// bidders[0].timeout: "fast" is not a duration
	// bidders[0].endpoint: missing
	// stores.ledger.kind: "mysql": want memory or redis
}

// Reload: build a new Auction (from a new config, say) and swap it in.
// Requests already running finish on the old Auction; Swap returns it once
// they have, to be closed.
func ExampleAuctionHandler_Swap() {
	ctx := context.Background()
	old, _ := gavel.New(gavel.WithBidders(auctiontest.Fixed("alpha", auctiontest.Bid("a1", "1", 2))))
	handler, err := gavelhttp.NewAuctionHandler(old)
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()

	next, _ := gavel.New(gavel.WithBidders(auctiontest.Fixed("beta", auctiontest.Bid("b1", "1", 3))))
	defer next.Close(ctx)
	replaced, err := handler.Swap(ctx, next)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(replaced == old)
	_ = replaced.Close(ctx)

	body := `{"id":"r1","imp":[{"id":"1","banner":{"w":300,"h":250}}]}`
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.Contains(string(data), `"seat":"beta"`))
	// Output:
	// true
	// 200 true
}

// Before a reload, ask whether the new config can be taken without a
// restart: bidders, budgets and auction options can; stores, events,
// notices and server cannot.
func ExampleConfig_Reloadable() {
	running, _ := gavelhttp.ParseConfig([]byte(`{"bidders": [{"name": "a", "endpoint": "http://127.0.0.1:9001/bid"}]}`))
	next, _ := gavelhttp.ParseConfig([]byte(`{
		"bidders": [{"name": "a", "endpoint": "http://127.0.0.1:9001/bid", "timeout": "50ms"},
		            {"name": "b", "endpoint": "http://127.0.0.1:9002/bid"}],
		"auction": {"max_tmax": "500ms"}
	}`))
	fmt.Println(running.Reloadable(next))

	next.Stores.Ledger = gavelhttp.StoreConfig{Kind: "redis", Addr: "127.0.0.1:6379", Prefix: "gavel"}
	next.Server.Addr = "127.0.0.1:9090"
	fmt.Println(running.Reloadable(next))
	// Output:
	// <nil>
	// gavelhttp: config change needs a restart: stores.ledger.addr, stores.ledger.kind, stores.ledger.prefix, server.addr
}
