// Command table runs the gavel benchmarks several times, summarises them
// with benchstat and prints the README tables, one per section:
//
//   - core: ns/op, B/op and allocs/op of Run on the grid of bidders and
//     imps, and the ratio of each Run figure to the Floor and
//     FloorGoroutines figures of the same case, measured in the same run;
//   - http: Run with HTTP bidders, over loopback and in memory, and what
//     each added bidder costs;
//   - stateful: what a ledger, a pacer, a profile store and an event sink
//     add to an auction, what the strict Redis ledger adds to one (round
//     trips and time, with and without batching), profile lookups, and the
//     core's ledger benchmarks;
//   - adapters: the Redis ledger and profile store, and the Kafka sink;
//   - server: the auction handler against a bare decode-and-reply handler
//     and the auction alone, and the whole exchange over loopback (req/s
//     and CPU per request) against the same bare server;
//   - perbidder: Prebid Server's workload (one secure banner imp, N HTTP
//     bidders answering from memory) on every path of BenchmarkPerBidder,
//     and what each added bidder costs against Prebid Server's exchange.
//
// Run it from the benchmarks directory:
//
//	go run ./cmd/table -count 6
//	go run ./cmd/table -count 6 -sections http,stateful
//	go run ./cmd/table -sections perbidder -from old.txt   # the tables of an earlier raw output
//
// It runs every benchmark once per round, -count rounds, so that the samples
// of Run and of the floors are spread over the same stretch of time. It
// writes the raw output to -raw (benchstat can compare two such files
// later) and benchstat's own summary to standard error.
package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// benchstat is the benchstat the table is computed with, pinned so that the
// numbers of two runs are summarised the same way.
const benchstat = "golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"

// The targets of 8 bidders x 3 imps with prebuilt responses.
const (
	targetCase   = "bidders=8/imps=3"
	targetAllocs = 30
	targetRatio  = 6.0

	// Run against FloorGoroutines in cpu-ns/op (issue 12), with no more
	// allocations than before it.
	targetGoroutinesRatio = 1.5
	targetLeanAllocs      = 10
)

// The packages whose benchmarks the sections run: this module's, and the
// core's (for its ledger benchmarks).
const (
	modulePkg = "."
	corePkg   = "github.com/gavelrtb/gavel"
)

// A section is one table of the README: the benchmarks it runs, per
// package, and how it prints them.
type section struct {
	name  string
	title string
	bench map[string]string // package -> go test -bench regexp
	write func(io.Writer, stats)
}

var sections = []section{
	{"core", "Engine: Run against the floors",
		map[string]string{modulePkg: "^Benchmark(Run|RunInto|RunParallel|Floor|FloorGoroutines)$"}, writeCore},
	{"http", "HTTP bidders",
		map[string]string{modulePkg: "^BenchmarkRunHTTP$"}, writeHTTP},
	{"stateful", "State: ledger, pacer, profiles and events",
		map[string]string{modulePkg: "^Benchmark(RunStateful|RunRedisLedger|ProfileLookup)$", corePkg: "^BenchmarkLedger$"}, writeStateful},
	{"adapters", "Adapters: Redis and Kafka",
		map[string]string{modulePkg: "^Benchmark(RedisLedger|RedisProfile|KafkaSink)$"}, writeAdapters},
	{"server", "Serving: the auction handler and the exchange over loopback",
		map[string]string{modulePkg: "^Benchmark(AuctionHandler|AuctionHandlerShed|Server)$"}, writeServer},
	{"perbidder", "Per added HTTP bidder: gavel against Prebid Server",
		map[string]string{modulePkg: "^BenchmarkPerBidder$"}, writePerBidder},
}

func main() {
	count := flag.Int("count", 6, "how many times to run each benchmark")
	names := flag.String("sections", "core,http,stateful,adapters,server,perbidder", "comma-separated sections to run: core, http, stateful, adapters, server, perbidder")
	benchtime := flag.String("benchtime", "1s", "go test -benchtime")
	raw := flag.String("raw", "bench.txt", "file for the raw go test output")
	from := flag.String("from", "", "print the tables of this raw go test output (an earlier -raw) instead of running the benchmarks")
	flag.Parse()
	selected, err := selectSections(*names)
	if err == nil {
		if *from != "" {
			*count, *raw = 0, *from
		}
		err = run(*count, selected, *benchtime, *raw, os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
}

// selectSections returns the sections named in the comma-separated list,
// in the order of sections.
func selectSections(list string) ([]section, error) {
	want := map[string]bool{}
	for name := range strings.SplitSeq(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			want[name] = true
		}
	}
	var out []section
	for _, s := range sections {
		if want[s.name] {
			out = append(out, s)
			delete(want, s.name)
		}
	}
	if len(want) > 0 {
		unknown := make([]string, 0, len(want))
		for name := range want {
			unknown = append(unknown, name)
		}
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown sections %q", unknown)
	}
	if len(out) == 0 {
		return nil, errors.New("no section selected")
	}
	return out, nil
}

// benchByPackage merges the benchmarks of the sections into one regexp
// per package, so that each package's test binary runs once per round.
func benchByPackage(secs []section) map[string]string {
	parts := map[string][]string{}
	for _, s := range secs {
		for pkg, re := range s.bench {
			parts[pkg] = append(parts[pkg], re)
		}
	}
	out := map[string]string{}
	for pkg, res := range parts {
		out[pkg] = strings.Join(res, "|")
	}
	return out
}

// run runs the benchmarks of secs count rounds into raw, or, with a count
// of 0, reads raw as it is, then prints the tables.
func run(count int, secs []section, benchtime, raw string, stdout, stderr io.Writer) error {
	loadBefore := loadAverage()
	start := time.Now()
	if count > 0 {
		if err := runRounds(count, benchByPackage(secs), benchtime, raw, stderr); err != nil {
			return err
		}
	}
	elapsed := time.Since(start).Round(time.Second)

	summary := exec.Command("go", "run", benchstat, raw)
	summary.Stdout, summary.Stderr = stderr, stderr
	if err := summary.Run(); err != nil {
		return fmt.Errorf("benchstat: %w", err)
	}
	var out bytes.Buffer
	csvCmd := exec.Command("go", "run", benchstat, "-format", "csv", raw)
	csvCmd.Stdout, csvCmd.Stderr = &out, io.Discard
	if err := csvCmd.Run(); err != nil {
		return fmt.Errorf("benchstat -format csv: %w", err)
	}
	stats, err := parseCSV(&out)
	if err != nil {
		return err
	}
	names := make([]string, len(secs))
	for i, s := range secs {
		names[i] = s.name
	}
	if count == 0 {
		fmt.Fprintf(stdout, "%s %s/%s, %d CPUs; the tables of %s: go run ./cmd/table -from %s -sections %s\n",
			runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), raw, raw, strings.Join(names, ","))
	} else {
		fmt.Fprintf(stdout, "%s %s/%s, %d CPUs, load average %s before and %s after, %v in all; go run ./cmd/table -count %d -benchtime %s -sections %s\n",
			runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadBefore, loadAverage(), elapsed,
			count, benchtime, strings.Join(names, ","))
	}
	for _, s := range secs {
		fmt.Fprintf(stdout, "\n### %s\n\n", s.title)
		s.write(stdout, stats)
	}
	return nil
}

// loadAverage returns the one-minute load average of the machine, or "?"
// where /proc/loadavg does not exist.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

// testBinary is a package's test binary and the directory it runs in.
type testBinary struct {
	pkg, path, dir, bench string
}

// buildBinaries builds the test binary of every package of bench (package
// -> regexp) into dir.
func buildBinaries(dir string, bench map[string]string, stderr io.Writer) ([]testBinary, error) {
	pkgs := make([]string, 0, len(bench))
	for pkg := range bench {
		pkgs = append(pkgs, pkg)
	}
	sort.Strings(pkgs) // "." first: this module's benchmarks, then the core's
	var out []testBinary
	for i, pkg := range pkgs {
		bin := filepath.Join(dir, fmt.Sprintf("pkg%d.test", i))
		build := exec.Command("go", "test", "-c", "-o", bin, pkg)
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("go test -c %s: %w", pkg, err)
		}
		list, err := exec.Command("go", "list", "-f", "{{.Dir}}", pkg).Output()
		if err != nil {
			return nil, fmt.Errorf("go list %s: %w", pkg, err)
		}
		out = append(out, testBinary{pkg: pkg, path: bin, dir: strings.TrimSpace(string(list)), bench: bench[pkg]})
	}
	return out, nil
}

// runRounds builds the test binaries once and runs every benchmark once
// per round, count rounds, appending the output to raw. Rounds, rather than
// go test -count (which runs each benchmark count times in a row), spread
// the samples of Run and of the floors over the same stretch of time, so
// that on a noisy machine their ratio compares like with like.
func runRounds(count int, bench map[string]string, benchtime, raw string, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "gavel-table")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins, err := buildBinaries(dir, bench, stderr)
	if err != nil {
		return err
	}
	f, err := os.Create(raw)
	if err != nil {
		return err
	}
	for i := range count {
		fmt.Fprintf(stderr, "round %d of %d\n", i+1, count)
		for _, bin := range bins {
			test := exec.Command(bin.path, "-test.run", "^$", "-test.bench", bin.bench, "-test.benchmem",
				"-test.benchtime", benchtime, "-test.count", "1")
			test.Dir = bin.dir
			test.Stdout, test.Stderr = io.MultiWriter(f, stderr), stderr
			if err = test.Run(); err != nil {
				err = fmt.Errorf("benchmarks of %s, round %d: %w", bin.pkg, i+1, err)
				break
			}
		}
		if err != nil {
			break
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// stat is benchstat's summary of one benchmark in one unit: the median and
// its confidence interval, as benchstat prints it ("3%", "∞").
type stat struct {
	center float64
	ci     string
}

// stats maps benchmark name (without the -GOMAXPROCS suffix) to unit to stat.
// The pseudo-unit orderUnit holds the order in which benchstat listed the
// benchmark, which is the order of the raw output.
type stats map[string]map[string]stat

const orderUnit = "order"

var procsSuffix = regexp.MustCompile(`-\d+$`)

// parseCSV reads benchstat's -format csv output of a single file: one
// section per unit, each with a header line ",unit,CI" and a row per
// benchmark.
func parseCSV(r io.Reader) (stats, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	out := stats{}
	unit := ""
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("benchstat csv: %w", err)
		}
		switch {
		case len(rec) < 2:
			unit = ""
		case rec[0] == "" && len(rec) >= 3 && rec[2] == "CI":
			unit = rec[1]
		case rec[0] == "" || rec[0] == "geomean" || unit == "":
		default:
			v, err := strconv.ParseFloat(rec[1], 64)
			if err != nil {
				return nil, fmt.Errorf("benchstat csv: %s %s: %w", rec[0], unit, err)
			}
			name := procsSuffix.ReplaceAllString(rec[0], "")
			if out[name] == nil {
				out[name] = map[string]stat{orderUnit: {center: float64(len(out))}}
			}
			ci := ""
			if len(rec) > 2 {
				ci = rec[2]
			}
			out[name][unit] = stat{center: v, ci: ci}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("benchstat csv: no benchmarks")
	}
	return out, nil
}

// writeCore prints the Markdown table of the core section: one row per Run
// case (and per RunParallel case), next to the Floor case of the same
// parameters, then the targets.
func writeCore(w io.Writer, s stats) {
	fmt.Fprintln(w, "| benchmark | ns/op | cpu-ns/op | B/op | allocs/op | Floor ns/op, cpu | Run / Floor, cpu | FloorGoroutines ns/op, cpu | Run / FloorGoroutines, cpu |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, bench := range []string{"Run", "RunInto", "RunParallel"} {
		for _, c := range casesOf(s, bench) {
			run := s[bench+"/"+c]
			fmt.Fprintf(w, "| %s/%s | %s | %s | %s | %s |", bench, c,
				withCI(ns(run["sec/op"].center), run["sec/op"].ci), ns(run["cpu-sec/op"].center),
				count(run["B/op"]), count(run["allocs/op"]))
			for _, ref := range []string{"Floor", "FloorGoroutines"} {
				f := s[ref+"/"+c]
				if f["sec/op"].center == 0 {
					fmt.Fprint(w, " n/a | n/a |")
					continue
				}
				fmt.Fprintf(w, " %s, %s | %s, %s |", ns(f["sec/op"].center), ns(f["cpu-sec/op"].center),
					ratio(run["sec/op"], f["sec/op"]), ratio(run["cpu-sec/op"], f["cpu-sec/op"]))
			}
			fmt.Fprintln(w)
		}
	}
	target(w, s)
}

// ratio returns a/b as "12.3x", or "n/a" without b.
func ratio(a, b stat) string {
	if b.center == 0 || a.center == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fx", a.center/b.center)
}

// casesOf returns the cases ("bidders=N/imps=M") of bench, in order.
func casesOf(s stats, bench string) []string {
	var cases []string
	for name := range s {
		if c, ok := strings.CutPrefix(name, bench+"/"); ok {
			cases = append(cases, c)
		}
	}
	sort.Slice(cases, func(i, j int) bool { return caseLess(cases[i], cases[j]) })
	return cases
}

// target prints whether the 8 bidders x 3 imps case meets its targets.
func target(w io.Writer, s stats) {
	run, floor := s["Run/"+targetCase], s["Floor/"+targetCase]
	goFloor := s["FloorGoroutines/"+targetCase]
	if run == nil || floor == nil || floor["sec/op"].center == 0 {
		return
	}
	allocs := run["allocs/op"].center
	r := run["sec/op"].center / floor["sec/op"].center
	fmt.Fprintf(w, "\nTargets for %s: allocs/op %.0f (at most %d: %s); Run / Floor %.1fx in ns/op (at most %.0fx: %s), %s in cpu-ns/op.\n",
		targetCase, allocs, targetAllocs, verdict(allocs <= targetAllocs), r, targetRatio, verdict(r <= targetRatio),
		ratio(run["cpu-sec/op"], floor["cpu-sec/op"]))
	if goFloor["sec/op"].center > 0 {
		fmt.Fprintf(w, "FloorGoroutines / Floor: %s in ns/op, %s in cpu-ns/op, the least any engine that calls each bidder on its own goroutine can reach.\n",
			ratio(goFloor["sec/op"], floor["sec/op"]), ratio(goFloor["cpu-sec/op"], floor["cpu-sec/op"]))
	}
	for _, bench := range []string{"Run", "RunInto"} {
		st := s[bench+"/"+targetCase]
		if c, g := st["cpu-sec/op"].center, goFloor["cpu-sec/op"].center; c > 0 && g > 0 {
			a := st["allocs/op"].center
			fmt.Fprintf(w, "%s / FloorGoroutines: %.2fx in cpu-ns/op (at most %.1fx: %s), allocs/op %.0f (at most %d: %s).\n",
				bench, c/g, targetGoroutinesRatio, verdict(c/g <= targetGoroutinesRatio), a, targetLeanAllocs, verdict(a <= targetLeanAllocs))
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func ns(sec float64) string {
	n := sec * 1e9
	switch {
	case n >= 100:
		return strconv.FormatFloat(n, 'f', 0, 64)
	case n >= 10:
		return strconv.FormatFloat(n, 'f', 1, 64)
	default:
		return strconv.FormatFloat(n, 'f', 2, 64)
	}
}

func withCI(v, ci string) string {
	if ci == "" {
		return v
	}
	return v + " ± " + ci
}

func count(st stat) string { return strconv.FormatFloat(st.center, 'f', 0, 64) }

// caseLess orders "bidders=N/imps=M" cases by N, then M, numerically.
func caseLess(a, b string) bool {
	na, ma := params(a)
	nb, mb := params(b)
	if na != nb {
		return na < nb
	}
	return ma < mb
}

func params(c string) (bidders, imps int) {
	for part := range strings.SplitSeq(c, "/") {
		k, v, _ := strings.Cut(part, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "bidders":
			bidders = n
		case "imps":
			imps = n
		}
	}
	return bidders, imps
}
