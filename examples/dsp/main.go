// Command dsp is a demo demand-side platform for trying an exchange built
// on gavel: it answers OpenRTB 2.6 bid requests from the campaigns in a
// JSON file, with a latency distribution and a no-bid rate, and counts the
// win, billing and loss notices it receives. See README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on")
	file := flag.String("campaigns", "examples/dsp/testdata/campaigns.json", "campaign file (JSON)")
	var cfg config
	flag.DurationVar(&cfg.Latency, "latency", 20*time.Millisecond, "median time to answer a bid request")
	flag.Float64Var(&cfg.Spread, "spread", 0.5, "sigma of the log-normal latency distribution (0: constant)")
	flag.Float64Var(&cfg.NoBid, "nobid", 0.1, "share of requests answered with no bid at random")
	flag.Float64Var(&cfg.Late, "late", 0, "share of requests answered after their tmax, to demo timeouts")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed of the random draws")
	flag.StringVar(&cfg.Base, "public", "", "base URL of the notice URLs (default http:// and the request's Host)")
	flag.Parse()

	campaigns, err := loadCampaigns(*file)
	if err != nil {
		return err
	}
	cfg.Campaigns = campaigns
	d, err := newDSP(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: *addr, Handler: d, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Fprintf(os.Stderr, "dsp: %d campaigns, bids at http://%s/bid, stats at http://%s/stats\n", len(campaigns), *addr, *addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(d.stats.snapshot())
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
