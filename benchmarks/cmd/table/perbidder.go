package main

import (
	"fmt"
	"io"
	"strings"
)

// Prebid Server's exchange (exchange.HoldAuction) on the per-bidder
// workload, measured on a machine like the project's: what each added
// bidder costs and the part that does not grow with the bidders. It is not
// in the repository; these are the reference figures of issue 12.
const (
	prebidBidderCPU    = 76_000 // ns
	prebidBidderBytes  = 25_000
	prebidBidderAllocs = 304
	prebidFixedAllocs  = 134
	prebidFixedBytes   = 37_000
)

// The goal per added bidder on gavel's fastest path: at least this many
// times less CPU and fewer allocations than Prebid Server.
const (
	goalCPURatio    = 10
	goalAllocsRatio = 20
)

// perBidderPrefix names the per-bidder benchmark's rows:
// PerBidder/path=P/bidders=N.
const perBidderPrefix = "PerBidder/path="

// perBidderPaths returns the paths measured, in the order of the raw output.
func perBidderPaths(s stats) []string {
	var paths []string
	seen := map[string]bool{}
	for _, name := range s.withPrefix(perBidderPrefix) {
		p, _, _ := strings.Cut(strings.TrimPrefix(name, perBidderPrefix), "/")
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	return paths
}

// pathSlope is what each added bidder costs on a path, from its fewest
// bidders to its most, and the part that does not grow with the bidders.
type pathSlope struct {
	path                   string
	slope                  slope
	fixedAllocs, fixedByte float64
}

func slopeOfPath(s stats, path string) (pathSlope, bool) {
	names := s.withPrefix(perBidderPrefix + path + "/")
	if len(names) < 2 {
		return pathSlope{}, false
	}
	lo, hi := names[0], names[0]
	for _, n := range names {
		if param(n, "bidders") < param(lo, "bidders") {
			lo = n
		}
		if param(n, "bidders") > param(hi, "bidders") {
			hi = n
		}
	}
	sl := slopeOf(s, lo, hi)
	if sl.to <= sl.from {
		return pathSlope{}, false
	}
	fixed := func(unit string, per float64) float64 { return s[lo][unit].center - per*float64(sl.from) }
	return pathSlope{path: path, slope: sl, fixedAllocs: fixed("allocs/op", sl.allocs), fixedByte: fixed("B/op", sl.bytes)}, true
}

// writePerBidder prints the per-bidder section: every row measured, then
// per path what each added bidder costs against Prebid Server's exchange,
// and whether the fastest path meets the goal.
func writePerBidder(w io.Writer, s stats) {
	paths := perBidderPaths(s)
	if len(paths) == 0 {
		fmt.Fprintln(w, "No per-bidder benchmark ran.")
		return
	}
	fmt.Fprintln(w, "| benchmark | ns/op | cpu-ns/op | B/op | allocs/op |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, p := range paths {
		for _, name := range s.withPrefix(perBidderPrefix + p + "/") {
			fmt.Fprintf(w, "| %s | %s |\n", name, basic(s, name))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| each added bidder | cpu-ns | B | allocs | per auction besides: allocs, B | Prebid Server / gavel: cpu, B, allocs |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	var best *pathSlope
	for _, p := range paths {
		ps, ok := slopeOfPath(s, p)
		if !ok {
			continue
		}
		sl := ps.slope
		fmt.Fprintf(w, "| path=%s, bidders=%d to %d | %s | %s | %s | %s, %s | %s, %s, %s |\n", p, sl.from, sl.to,
			num(sl.cpu*1e9, 0), num(sl.bytes, 0), num(sl.allocs, 1), num(ps.fixedAllocs, 0), num(ps.fixedByte, 0),
			times(prebidBidderCPU, sl.cpu*1e9), times(prebidBidderBytes, sl.bytes), times(prebidBidderAllocs, sl.allocs))
		if best == nil || sl.cpu < best.slope.cpu {
			best = &ps
		}
	}
	fmt.Fprintf(w, "| Prebid Server's exchange (reference, not measured here) | %d | %d | %d | %d, %d | 1x |\n",
		prebidBidderCPU, prebidBidderBytes, prebidBidderAllocs, prebidFixedAllocs, prebidFixedBytes)
	if best == nil {
		return
	}
	cpuRatio, allocRatio := prebidBidderCPU/(best.slope.cpu*1e9), prebidBidderAllocs/best.slope.allocs
	fmt.Fprintf(w, "\nGoal per added bidder on the fastest path (path=%s): at least %dx less CPU (%.1fx: %s) and %dx fewer allocations (%.1fx: %s) than Prebid Server.\n",
		best.path, goalCPURatio, cpuRatio, verdict(best.slope.cpu > 0 && cpuRatio >= goalCPURatio),
		goalAllocsRatio, allocRatio, verdict(best.slope.allocs > 0 && allocRatio >= goalAllocsRatio))
}

// times returns ref/v as "5.1x", or "n/a" when v is not positive.
func times(ref, v float64) string {
	if v <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fx", ref/v)
}
