package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/dashboard"
)

// Mount a Dashboard under /dashboard/ beside the auctions it shows.
func Example() {
	d, err := dashboard.New(dashboard.WithTitle("my exchange"))
	if err != nil {
		panic(err)
	}
	defer d.Close() // before the server's Shutdown: it ends the event streams

	a, err := gavel.New(gavel.WithBidders(auctiontest.Fixed("dsp", openrtb2.Bid{ID: "b1", ImpID: "1", Price: 1.5, AdM: "<div>ad</div>"})), gavel.WithHooks(d))
	if err != nil {
		panic(err)
	}
	defer a.Close(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", d))

	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/dashboard/")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	// Output: 200 text/html; charset=utf-8
}
