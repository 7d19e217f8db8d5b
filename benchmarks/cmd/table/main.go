// Command table runs the gavel benchmarks several times, summarises them
// with benchstat and prints the README table: ns/op, B/op and allocs/op of
// each case, and the ratio of each Run figure to the Floor and
// FloorGoroutines figures of the same case, measured in the same run.
//
// Run it from the benchmarks directory:
//
//	go run ./cmd/table -count 6
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
)

// benchstat is the benchstat the table is computed with, pinned so that the
// numbers of two runs are summarised the same way.
const benchstat = "golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"

// The targets of 8 bidders x 3 imps with prebuilt responses.
const (
	targetCase   = "bidders=8/imps=3"
	targetAllocs = 30
	targetRatio  = 6.0
)

func main() {
	count := flag.Int("count", 6, "how many times to run each benchmark")
	bench := flag.String("bench", "^Benchmark(Run|RunParallel|Floor|FloorGoroutines)$", "benchmarks to run (go test -bench)")
	benchtime := flag.String("benchtime", "1s", "go test -benchtime")
	raw := flag.String("raw", "bench.txt", "file for the raw go test output")
	flag.Parse()
	if err := run(*count, *bench, *benchtime, *raw, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
}

func run(count int, bench, benchtime, raw string, stdout, stderr io.Writer) error {
	loadBefore := loadAverage()
	if err := runRounds(count, bench, benchtime, raw, stderr); err != nil {
		return err
	}

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
	fmt.Fprintf(stdout, "%s %s/%s, %d CPUs, load average %s before and %s after; go run ./cmd/table -count %d -benchtime %s\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadBefore, loadAverage(), count, benchtime)
	return writeTable(stdout, stats)
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

// runRounds builds the test binary once and runs every benchmark once per
// round, count rounds, appending the output to raw. Rounds, rather than
// go test -count (which runs each benchmark count times in a row), spread
// the samples of Run and of the floors over the same stretch of time, so
// that on a noisy machine their ratio compares like with like.
func runRounds(count int, bench, benchtime, raw string, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "gavel-table")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "benchmarks.test")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	build.Stdout, build.Stderr = stderr, stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go test -c: %w", err)
	}
	f, err := os.Create(raw)
	if err != nil {
		return err
	}
	for i := range count {
		fmt.Fprintf(stderr, "round %d of %d\n", i+1, count)
		test := exec.Command(bin, "-test.run", "^$", "-test.bench", bench, "-test.benchmem",
			"-test.benchtime", benchtime, "-test.count", "1")
		test.Stdout, test.Stderr = io.MultiWriter(f, stderr), stderr
		if err = test.Run(); err != nil {
			err = fmt.Errorf("benchmarks, round %d: %w", i+1, err)
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
type stats map[string]map[string]stat

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
				out[name] = map[string]stat{}
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

// writeTable prints the Markdown table: one row per Run case (and per
// RunParallel case), next to the Floor case of the same parameters.
func writeTable(w io.Writer, s stats) error {
	fmt.Fprintln(w, "| benchmark | ns/op | cpu-ns/op | B/op | allocs/op | Floor ns/op, cpu | Run / Floor, cpu | FloorGoroutines ns/op, cpu | Run / FloorGoroutines, cpu |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, bench := range []string{"Run", "RunParallel"} {
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
	return nil
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
