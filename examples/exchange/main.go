// Command exchange runs a complete gavel exchange on one address: the
// OpenRTB 2.6 auction endpoint, signed billing and loss notices, win and
// loss notices to bidders, Prometheus metrics, liveness and readiness.
// With no flags it runs a demo: three in-process demo bidders and the
// exchange's own campaigns (a campaign.Bidder, with click and conversion
// tracking), an in-memory ledger with daily budgets paced evenly, in-memory user
// profiles and events as JSON lines in a file. With -config FILE it runs
// the set-up of a gavelhttp config file instead (HTTP bidders, budgets,
// stores in memory or Redis, events to a file or Kafka), and reloads it on
// SIGHUP. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gavelrtb/gavel/codecs/gavelgoccy"
	"github.com/gavelrtb/gavel/gavelhttp"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// cli runs the command with its arguments and returns the exit code: 0
// after a clean shutdown, 1 when the exchange failed, 2 for bad flags.
func cli(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "reconcile" { // see reconcile.go
		return reconcileCLI(args[1:], stdout, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(stderr, "exchange:", err)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg.hup = hup
	cfg.log = newLogger(stderr)
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
	fs.StringVar(&cfg.file, "config", "", "the config file (JSON); none: the demo set-up")
	fs.StringVar(&cfg.addr, "addr", DefaultAddr, "the address to listen on (overrides the config file's server.addr)")
	fs.StringVar(&cfg.events, "events", filepath.Join(os.TempDir(), DefaultEventsFile), "the demo's file events are appended to, as JSON lines")
	key := fs.String("key", "", "the demo's notice signing key, at least 32 bytes; empty: a random key for this run")
	fs.DurationVar(&cfg.drain, "drain", 0, "how long /readyz answers 503 before the server stops accepting")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "how long shutdown waits for in-flight auctions and queued notices and events")
	maxInFlight := fs.Int("max-in-flight", 0, "auctions in flight past which requests are shed (0: the config file's server.max_in_flight, or gavelhttp's default, 256 per CPU)")
	shedStatus := fs.Int("shed-status", gavelhttp.DefaultShedStatus, "the status of a shed request: 204 (a no-bid) or 503 (overrides the config file's server.shed_status)")
	fs.StringVar(&cfg.fastAddr, "fast-addr", "", "also serve the auction and notice endpoints on fasthttp at this address (gavelfasthttp); empty: not")
	codec := fs.String("codec", "std", "the auctions' JSON codec: std (encoding/json) or goccy (codecs/gavelgoccy, the measured fast one)")
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
	switch *codec {
	case "std":
	case "goccy":
		cfg.codec = gavelgoccy.Codec()
	default:
		return config{}, fmt.Errorf("codec %q: want std or goccy", *codec)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *maxInFlight != 0 {
		cfg.handler = append(cfg.handler, gavelhttp.WithMaxInFlight(*maxInFlight))
	}
	if cfg.file == "" || set["shed-status"] { // with -config, the file's unless given
		cfg.handler = append(cfg.handler, gavelhttp.WithShedStatus(*shedStatus))
	}
	if *key != "" {
		cfg.key = []byte(*key)
	}
	if err := withConfig(set, &cfg); err != nil {
		return config{}, err
	}
	if cfg.drain < 0 || cfg.shutdownTimeout <= 0 {
		return config{}, fmt.Errorf("drain %v, shutdown timeout %v: want drain >= 0 and shutdown timeout > 0", cfg.drain, cfg.shutdownTimeout)
	}
	return cfg, nil
}

// newLogger returns the logger of reloads, as text lines to w.
func newLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// withConfig adjusts cfg for -config, given the flags set: -addr applies
// only when given, and -events, -key and -asap, which the file sets, are
// refused.
func withConfig(set map[string]bool, cfg *config) error {
	if cfg.file == "" {
		return nil
	}
	if set["events"] || set["key"] || set["asap"] {
		return errors.New("-events, -key and -asap are for the demo set-up: with -config, the file sets events, notices.keys and budgets")
	}
	if !set["addr"] {
		cfg.addr = "" // the file's server.addr
	}
	return nil
}

// Defaults of the flags.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultEventsFile      = "gavel-events.jsonl" // in os.TempDir()
	DefaultShutdownTimeout = 10 * time.Second
)
