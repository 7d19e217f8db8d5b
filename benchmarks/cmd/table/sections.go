package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// The target of the HTTP bidders, and what Prebid Server's exchange costs
// on the same workload (one banner imp, N bidders, JSON both ways) on a
// machine like the project's.
const (
	targetHTTPAllocs   = 60
	prebidAllocs       = 278
	prebidKB           = 20
	prebidAuctionAlloc = 115
)

// get returns the stat of benchmark name in unit, and whether it was
// measured.
func (s stats) get(name, unit string) (stat, bool) {
	st, ok := s[name][unit]
	return st, ok
}

// has reports whether benchmark name was measured.
func (s stats) has(name string) bool { _, ok := s[name]["sec/op"]; return ok }

// withPrefix returns the benchmarks whose names start with prefix, in the
// order of the raw output.
func (s stats) withPrefix(prefix string) []string {
	var out []string
	for name := range s {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	sort.Slice(out, func(i, j int) bool { return s[out[i]][orderUnit].center < s[out[j]][orderUnit].center })
	return out
}

// param returns the integer value of key in a benchmark name, or -1.
func param(name, key string) int {
	for part := range strings.SplitSeq(name, "/") {
		if k, v, ok := strings.Cut(part, "="); ok && k == key {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return -1
}

// num formats v with prec decimals.
func num(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

// signed formats v with prec decimals and its sign.
func signed(v float64, prec int) string {
	if v >= 0 {
		return "+" + num(v, prec)
	}
	return num(v, prec)
}

// basic returns the cells ns/op (with its confidence interval), cpu-ns/op,
// B/op and allocs/op of benchmark name.
func basic(s stats, name string) string {
	cpu := "n/a"
	if st, ok := s.get(name, "cpu-sec/op"); ok {
		cpu = ns(st.center)
	}
	t := s[name]["sec/op"]
	return fmt.Sprintf("%s | %s | %s | %s", withCI(ns(t.center), t.ci), cpu, count(s[name]["B/op"]), count(s[name]["allocs/op"]))
}

// writeHTTP prints the HTTP bidders' table: one row per transport and
// number of bidders, with what each bidder added since the row before,
// then the slope from the fewest bidders to the most, per transport.
func writeHTTP(w io.Writer, s stats) {
	fmt.Fprintln(w, "| benchmark | ns/op | cpu-ns/op | B/op | allocs/op | each added bidder: ns, cpu-ns | each added bidder: B | each added bidder: allocs |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	var notes []string
	for _, tr := range []string{"loopback", "memory"} {
		names := s.withPrefix("RunHTTP/transport=" + tr + "/")
		for i, name := range names {
			fmt.Fprintf(w, "| %s | %s |", name, basic(s, name))
			if i == 0 {
				fmt.Fprintln(w, " | | |")
				continue
			}
			sl := slopeOf(s, names[i-1], name)
			fmt.Fprintf(w, " %s, %s | %s | %s |\n", ns(sl.sec), ns(sl.cpu), num(sl.bytes, 0), num(sl.allocs, 1))
		}
		if len(names) > 1 {
			notes = append(notes, httpNote(s, tr, names[0], names[len(names)-1]))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
}

// slope is what each bidder added between two cases of RunHTTP.
type slope struct {
	sec, cpu, bytes, allocs float64
	from, to                int // bidders
}

func slopeOf(s stats, from, to string) slope {
	sl := slope{from: param(from, "bidders"), to: param(to, "bidders")}
	d := float64(sl.to - sl.from)
	if d <= 0 {
		return sl
	}
	diff := func(unit string) float64 { return (s[to][unit].center - s[from][unit].center) / d }
	sl.sec, sl.cpu, sl.bytes, sl.allocs = diff("sec/op"), diff("cpu-sec/op"), diff("B/op"), diff("allocs/op")
	return sl
}

// httpNote sums up a transport: the cost of each added bidder from the
// fewest bidders to the most, and what is left for the auction itself.
func httpNote(s stats, tr, first, last string) string {
	sl := slopeOf(s, first, last)
	allocs1, bytes1 := s[first]["allocs/op"].center, s[first]["B/op"].center
	perAuction := func(v, per float64) float64 { return v - per*float64(sl.from) }
	note := fmt.Sprintf("transport=%s, %d to %d bidders: each added bidder costs %s allocs, %s B, %s ns and %s cpu-ns; what does not grow with the bidders: %s allocs and %s B per auction.",
		tr, sl.from, sl.to, num(sl.allocs, 1), num(sl.bytes, 0), ns(sl.sec), ns(sl.cpu),
		num(perAuction(allocs1, sl.allocs), 1), num(perAuction(bytes1, sl.bytes), 0))
	if tr == "memory" {
		note += fmt.Sprintf(" Target: at most %d allocs per added bidder, JSON included: %s. Prebid Server's exchange: about %d allocs and %d KB per bidder, plus %d allocs per auction.",
			targetHTTPAllocs, verdict(sl.allocs <= targetHTTPAllocs), prebidAllocs, prebidKB, prebidAuctionAlloc)
	} else {
		note += " The httptest servers run in the same process: their work is in these figures."
	}
	return note
}

// The two cases whose difference is the cost of the state.
const (
	statefulOff = "RunStateful/state=off/bidders=8/imps=3"
	statefulOn  = "RunStateful/state=on/bidders=8/imps=3"
)

// writeStateful prints the stateful section: the auction without and with
// state and the difference, the profile lookups, and the core's ledger.
func writeStateful(w io.Writer, s stats) {
	fmt.Fprintln(w, "| benchmark | ns/op | cpu-ns/op | B/op | allocs/op |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, name := range []string{statefulOff, statefulOn} {
		if s.has(name) {
			fmt.Fprintf(w, "| %s | %s |\n", name, basic(s, name))
		}
	}
	if s.has(statefulOff) && s.has(statefulOn) {
		d := func(unit string) float64 { return s[statefulOn][unit].center - s[statefulOff][unit].center }
		fmt.Fprintf(w, "| **added cost per auction** (on − off) | %s | %s | %s | %s |\n",
			signed(d("sec/op")*1e9, 0), signed(d("cpu-sec/op")*1e9, 0), signed(d("B/op"), 0), signed(d("allocs/op"), 0))
	}
	for _, prefix := range []string{"ProfileLookup/", "Ledger/"} {
		for _, name := range s.withPrefix(prefix) {
			fmt.Fprintf(w, "| %s | %s |\n", name, basic(s, name))
		}
	}
	writeRedisLedger(w, s)
}

// The cases of the strict Redis ledger in an auction.
var redisLedgerCases = []struct{ name, what string }{
	{"RunRedisLedger/batch=off/bidders=8/imps=3", "before batching: one Reserve per imp"},
	{"RunRedisLedger/batch=on/bidders=8/imps=3", "after: one ReserveBatch per auction"},
}

// writeRedisLedger prints what the strict Redis ledger adds to an auction
// of 8 bidders x 3 imps, before and after batching: round trips per
// auction, and the time over the auction without state.
func writeRedisLedger(w io.Writer, s stats) {
	var rows []string
	for _, c := range redisLedgerCases {
		if !s.has(c.name) {
			continue
		}
		added := "n/a"
		if s.has(statefulOff) {
			added = signed((s[c.name]["sec/op"].center-s[statefulOff]["sec/op"].center)*1e9, 0)
		}
		rows = append(rows, fmt.Sprintf("| %s (%s) | %s | %s | %s |", c.name, c.what,
			num(s[c.name]["rt/op"].center, 2), added, basic(s, c.name)))
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Redis ledger, strict, localhost | round trips per auction | added to the auction, ns (vs state=off) | ns/op | cpu-ns/op | B/op | allocs/op |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Fprintln(w, r)
	}
}

// writeAdapters prints the Redis table and the Kafka table.
func writeAdapters(w io.Writer, s stats) {
	redis := append(s.withPrefix("RedisLedger/"), s.withPrefix("RedisProfile/")...)
	if len(redis) == 0 {
		fmt.Fprintln(w, "No Redis benchmark ran (no server answered: they skip).")
	} else {
		fmt.Fprintln(w, "| benchmark | ns/op | cpu-ns/op | B/op | allocs/op | ops/s | cache hits/op |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
		for _, name := range redis {
			ops, hits := "n/a", ""
			if t := s[name]["sec/op"].center; t > 0 {
				ops = num(1/t, 0)
			}
			if st, ok := s.get(name, "hits/op"); ok {
				hits = num(st.center, 2)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", name, basic(s, name), ops, hits)
		}
	}
	kafka := s.withPrefix("KafkaSink/")
	if len(kafka) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| benchmark | events/s | cpu-ns/event | allocs/event | B/op (33 events) | bytes sent / raw | refused writes/op |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, name := range kafka {
		st := s[name]
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", name, num(st["events/s"].center, 0),
			ns(st["cpu-sec/event"].center), num(st["allocs/event"].center, 2), count(st["B/op"]),
			num(st["compressed/raw"].center, 2), num(st["full/op"].center, 2))
	}
}
