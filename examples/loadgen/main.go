// Command loadgen sends OpenRTB 2.6 bid requests to an exchange, at a
// target rate (open loop, so a slow exchange cannot hide its latency by
// slowing the sender: no coordinated omission) or at a fixed concurrency,
// for a duration or a count. The requests vary (banner sizes, video,
// devices, geos, floors, users, deals) and a share of them are invalid.
// At the end it prints the throughput, the latency percentiles and the
// status counts, checks that every 200 is a valid BidResponse for its
// request and every invalid request got 400, and exits non-zero past the
// thresholds. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"golang.org/x/term"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command with its arguments and outputs; it returns the exit
// code.
func run(args []string, stdout, stderr io.Writer) int {
	c, t, err := parseFlags(args, stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(stderr, "loadgen:", err)
		}
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := Run(ctx, c)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return ExitUsage
	}
	s.Print(stdout)
	code, why := t.Verdict(s)
	for _, w := range why {
		fmt.Fprintln(stdout, "FAIL", w)
	}
	if code == ExitOK {
		fmt.Fprintln(stdout, "PASS")
	}
	return code
}

func parseFlags(args []string, stderr io.Writer) (Config, Thresholds, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	var t Thresholds
	var quiet bool
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080/openrtb2/auction", "the exchange's auction endpoint")
	fs.IntVar(&c.Rate, "rate", 0, "requests per second, open loop (default 100 unless -concurrency)")
	fs.IntVar(&c.Concurrency, "concurrency", 0, "fixed number of requests in flight instead of a rate")
	fs.DurationVar(&c.Duration, "duration", 0, "how long to send (default 10s unless -count)")
	fs.Uint64Var(&c.Count, "count", 0, "how many requests to send instead of a duration")
	fs.DurationVar(&c.Timeout, "timeout", DefaultTimeout, "timeout of each request")
	fs.Int64Var(&c.Gen.TMax, "tmax", 200, "tmax of the requests in ms (0 leaves it out)")
	fs.Uint64Var(&c.Gen.Seed, "seed", 1, "seed of the request generator")
	fs.Float64Var(&c.Gen.Invalid, "invalid", 0.05, "share of invalid requests, which must get 400")
	fs.IntVar(&c.Gen.Users, "users", 1000, "user ids drawn from user-0 … user-(N-1)")
	fs.DurationVar(&t.MaxP99, "max-p99", 0, "fail when the p99 latency of the requests not shed is above it (0: no limit)")
	fs.DurationVar(&t.MaxShedP99, "max-shed-p99", 0, "fail when the p99 latency of the shed answers is above it (0: no limit)")
	fs.Float64Var(&t.MaxErrors, "max-errors", 0, "fail when the share of errors is above it")
	fs.BoolVar(&quiet, "quiet", false, "no progress bar (there is none when stderr is not a terminal)")
	if err := fs.Parse(args); err != nil {
		return c, t, err
	}
	if fs.NArg() > 0 {
		return c, t, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Rate == 0 && c.Concurrency == 0 {
		c.Rate = 100
	}
	if c.Duration == 0 && c.Count == 0 {
		c.Duration = 10 * time.Second
	}
	if !quiet && isTerminal(stderr) {
		c.Progress = stderr
	}
	return c, t, nil
}

// isTerminal reports whether w is a terminal: the progress bar redraws its
// line, which in a file or a CI log would be one more line every 100 ms.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
