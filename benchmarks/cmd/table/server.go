package main

import (
	"fmt"
	"io"
	"strings"
)

// targetHandlerOverhead is the most the auction handler's own cost (all
// but the auction) may be, as a multiple of the bare handler's.
const targetHandlerOverhead = 1.25

// writeServer prints the serving section: the auction handler against the
// bare handler and the auction alone, then the exchange over loopback
// against the bare server.
func writeServer(w io.Writer, s stats) {
	writeHandler(w, s)
	writeServers(w, s)
}

// handlerCases returns the cases of BenchmarkAuctionHandler
// ("gzip=off/bidders=8/imps=3"), in the order of the raw output.
func handlerCases(s stats) []string {
	var cases []string
	for _, name := range s.withPrefix("AuctionHandler/") {
		if c, ok := strings.CutSuffix(strings.TrimPrefix(name, "AuctionHandler/"), "/handler=bare"); ok {
			cases = append(cases, c)
		}
	}
	return cases
}

// writeHandler prints one row per case: the bare handler, the gavel
// handler and the auction alone, then the handler's own cost (gavel − run)
// and its ratio to bare, in time, CPU and allocations.
func writeHandler(w io.Writer, s stats) {
	cases := handlerCases(s)
	if len(cases) == 0 {
		return
	}
	fmt.Fprintln(w, "| case | bare ns/op, cpu | gavel ns/op, cpu | run ns/op, cpu | own = gavel − run: ns, cpu | own / bare: ns, cpu | allocs/op bare, gavel, run, own | B/op bare, own |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	var worst float64
	for _, c := range cases {
		bare, gavel, run := s["AuctionHandler/"+c+"/handler=bare"], s["AuctionHandler/"+c+"/handler=gavel"], s["AuctionHandler/"+c+"/handler=run"]
		if gavel == nil || run == nil {
			continue
		}
		own := func(unit string) float64 { return gavel[unit].center - run[unit].center }
		r, rc := own("sec/op")/bare["sec/op"].center, own("cpu-sec/op")/bare["cpu-sec/op"].center
		worst = max(worst, r, rc)
		fmt.Fprintf(w, "| %s | %s, %s | %s, %s | %s, %s | %s, %s | %.2fx, %.2fx | %s, %s, %s, %s | %s, %s |\n", c,
			withCI(ns(bare["sec/op"].center), bare["sec/op"].ci), ns(bare["cpu-sec/op"].center),
			withCI(ns(gavel["sec/op"].center), gavel["sec/op"].ci), ns(gavel["cpu-sec/op"].center),
			ns(run["sec/op"].center), ns(run["cpu-sec/op"].center),
			ns(own("sec/op")), ns(own("cpu-sec/op")), r, rc,
			count(bare["allocs/op"]), count(gavel["allocs/op"]), count(run["allocs/op"]), num(own("allocs/op"), 0),
			count(bare["B/op"]), num(own("B/op"), 0))
	}
	fmt.Fprintf(w, "\nTarget: the handler's own cost within %.0f%% of the bare handler's (own / bare at most %.2fx): %s, the worst case at %.2fx.\n",
		(targetHandlerOverhead-1)*100, targetHandlerOverhead, verdict(worst <= targetHandlerOverhead), worst)
	if st := s["AuctionHandlerShed"]; st != nil {
		fmt.Fprintf(w, "A shed request (AuctionHandlerShed) costs the handler %s ns (%s cpu-ns), %s B and %s allocs.\n",
			withCI(ns(st["sec/op"].center), st["sec/op"].ci), ns(st["cpu-sec/op"].center), count(st["B/op"]), count(st["allocs/op"]))
	}
}

// writeServers prints the exchange over loopback: one row per server and
// number of clients, with req/s, the CPU per request, the requests a core
// serves, and on the gavel row its ratios to the bare server.
func writeServers(w io.Writer, s stats) {
	names := s.withPrefix("Server/")
	if len(names) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| benchmark | req/s | ns/op | cpu-ns/op | req/cpu-s | B/op | allocs/op | gavel / bare: req/s, req/cpu-s |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, name := range names {
		st := s[name]
		perCore := "n/a"
		if c := st["cpu-sec/op"].center; c > 0 {
			perCore = num(1/c, 0)
		}
		vs := ""
		if base, ok := strings.CutSuffix(name, "/server=gavel"); ok {
			if bare := s[base+"/server=bare"]; bare != nil && bare["req/s"].center > 0 && st["cpu-sec/op"].center > 0 {
				vs = fmt.Sprintf("%.2fx, %.2fx", st["req/s"].center/bare["req/s"].center,
					bare["cpu-sec/op"].center/st["cpu-sec/op"].center)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", name, num(st["req/s"].center, 0),
			withCI(ns(st["sec/op"].center), st["sec/op"].ci), ns(st["cpu-sec/op"].center), perCore,
			count(st["B/op"]), count(st["allocs/op"]), vs)
	}
}
