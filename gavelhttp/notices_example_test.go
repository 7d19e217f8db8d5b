package gavelhttp_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// The billing flow over HTTP: the winner's burl in the response points at
// the exchange's billing endpoint; calling it bills the hold once and fires
// the DSP's own burl with ${AUCTION_IMP_TS} filled. Everything runs on
// 127.0.0.1, which the notifier is told to allow.
func ExampleNotices() {
	ctx := context.Background()
	dspBurls := make(chan string, 4)
	dsp := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		dspBurls <- r.URL.RawQuery
	}))
	defer dsp.Close()

	ledger, _ := gavel.NewMemoryLedger()
	_ = ledger.SetBudget(ctx, gavel.Budget{Account: "beta", Amount: 1_000_000})
	bid := auctiontest.Bid("b1", "1", 3.10)
	bid.BURL = dsp.URL + "/bill?price=${AUCTION_PRICE}&ts=${AUCTION_IMP_TS}"
	a, err := gavel.New(gavel.WithBidders(auctiontest.Fixed("beta", bid)), gavel.WithLedger(ledger))
	if err != nil {
		panic(err)
	}

	// The exchange: signing keys (the newest last), a notifier, and the
	// billing endpoint mounted at /notice/billing.
	keys, err := gavelhttp.NewKeys(gavelhttp.Key{ID: "2026-12", Secret: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		panic(err)
	}
	notifier, err := gavelhttp.NewNotifier(gavelhttp.WithAllowPrivateNetworks(true)) // the demo DSP is on loopback
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	exchange := httptest.NewServer(mux)
	defer exchange.Close()
	notices, err := gavelhttp.NewNotices(a, keys, exchange.URL+"/notice/billing", notifier)
	if err != nil {
		panic(err)
	}
	mux.Handle("/notice/billing", notices.BillingHandler())

	// An auction, and its response with the burl rewritten.
	res, err := a.Run(ctx, auctiontest.Request("auction-1", auctiontest.BannerImp("1", 2.00)))
	if err != nil {
		panic(err)
	}
	resp := res.BidResponse()
	if err := notices.Rewrite(res, resp); err != nil {
		panic(err)
	}
	burl := resp.SeatBid[0].Bid[0].BURL
	fmt.Println("burl points at the exchange:", strings.HasPrefix(burl, exchange.URL+"/notice/billing?t="))

	// The billing notice arrives, then a retry of it.
	for range 2 {
		r, err := http.Get(burl)
		if err != nil {
			panic(err)
		}
		_ = r.Body.Close()
		fmt.Println("billing notice:", r.StatusCode)
	}
	_ = notifier.Close(ctx) // sends what is queued: the DSP's burl
	close(dspBurls)
	for q := range dspBurls {
		price, ts, _ := strings.Cut(strings.TrimPrefix(q, "price="), "&ts=")
		_, err := strconv.ParseInt(ts, 10, 64)
		fmt.Println("dsp burl: price", price, "imp ts filled:", err == nil)
	}
	b, _ := ledger.Balance(ctx, "beta")
	fmt.Println("committed", gavel.FormatMicros(b.Committed), "reserved", gavel.FormatMicros(b.Reserved))
	// Output:
	// burl points at the exchange: true
	// billing notice: 204
	// billing notice: 204
	// dsp burl: price 2.01 imp ts filled: true
	// committed 0.00201 reserved 0
}
