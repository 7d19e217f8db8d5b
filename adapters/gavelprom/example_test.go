package gavelprom_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics registered as an auction's hooks, served by promhttp. A real
// exchange mounts the handler with http.Handle("/metrics", h).
func Example() {
	m, err := gavelprom.New()
	if err != nil {
		panic(err)
	}
	a, err := gavel.New(
		gavel.WithBidders(
			auctiontest.Fixed("dsp-a", auctiontest.Bid("b1", "1", 2.50)),
			auctiontest.NoBid("dsp-b"),
		),
		gavel.WithHooks(m),
	)
	if err != nil {
		panic(err)
	}
	if err := m.WatchAuction(a); err != nil {
		panic(err)
	}
	req := auctiontest.Request("auction-1", auctiontest.BannerImp("1", 0.50, [2]int64{300, 250}))
	if _, err := a.Run(context.Background(), req); err != nil {
		panic(err)
	}

	h := promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range []string{"gavel_auctions_total", "gavel_bidder_auctions_total", "gavel_bids_won_total", "gavel_bidder_call_ratio"} {
			if strings.HasPrefix(line, name+"{") {
				fmt.Println(line)
			}
		}
	}
	// Output:
	// gavel_auctions_total{nbr="",outcome="won"} 1
	// gavel_bidder_auctions_total{bidder="dsp-a",status="bid"} 1
	// gavel_bidder_auctions_total{bidder="dsp-b",status="no_bid"} 1
	// gavel_bidder_call_ratio{bidder="dsp-a"} 1
	// gavel_bidder_call_ratio{bidder="dsp-b"} 1
	// gavel_bids_won_total{bidder="dsp-a"} 1
	// gavel_bids_won_total{bidder="dsp-b"} 0
}
