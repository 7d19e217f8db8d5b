// Command exchange runs a complete gavel exchange on one address: the
// OpenRTB 2.6 auction endpoint, signed billing and loss notices, Prometheus
// metrics, liveness and readiness, three in-process demo bidders, an
// in-memory ledger with daily budgets paced evenly, in-memory user profiles
// and events as JSON lines in a file. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gavelrtb/gavel/gavelhttp"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// cli runs the command with its arguments and returns the exit code: 0
// after a clean shutdown, 1 when the exchange failed, 2 for bad flags.
func cli(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(stderr, "exchange:", err)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "exchange:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("exchange", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{}
	fs.StringVar(&cfg.addr, "addr", DefaultAddr, "the address to listen on")
	fs.StringVar(&cfg.events, "events", filepath.Join(os.TempDir(), DefaultEventsFile), "the file events are appended to, as JSON lines")
	key := fs.String("key", "", "the notice signing key, at least 32 bytes; empty: a random key for this run")
	fs.DurationVar(&cfg.drain, "drain", 0, "how long /readyz answers 503 before the server stops accepting")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "how long shutdown waits for in-flight auctions and queued notices and events")
	maxInFlight := fs.Int("max-in-flight", 0, "auctions in flight past which requests are shed (0: gavelhttp's default, 256 per CPU)")
	shedStatus := fs.Int("shed-status", gavelhttp.DefaultShedStatus, "the status of a shed request: 204 (a no-bid) or 503")
	fs.BoolVar(&cfg.asap, "asap", false, "the demo budgets paced ASAP rather than evenly over the UTC day (early in the day, even pacing soon leaves the demo bidders out)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if *maxInFlight < 0 || (*shedStatus != http.StatusNoContent && *shedStatus != http.StatusServiceUnavailable) {
		return config{}, fmt.Errorf("max in flight %d, shed status %d: want max in flight >= 0 and shed status 204 or 503", *maxInFlight, *shedStatus)
	}
	if *maxInFlight != 0 {
		cfg.handler = append(cfg.handler, gavelhttp.WithMaxInFlight(*maxInFlight))
	}
	cfg.handler = append(cfg.handler, gavelhttp.WithShedStatus(*shedStatus))
	if *key != "" {
		cfg.key = []byte(*key)
	}
	if cfg.drain < 0 || cfg.shutdownTimeout <= 0 {
		return config{}, fmt.Errorf("drain %v, shutdown timeout %v: want drain >= 0 and shutdown timeout > 0", cfg.drain, cfg.shutdownTimeout)
	}
	return cfg, nil
}

// Defaults of the flags.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultEventsFile      = "gavel-events.jsonl" // in os.TempDir()
	DefaultShutdownTimeout = 10 * time.Second
)
