package benchmarks_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/benchmarks"
)

// The benchmark grid: every Run and Floor case runs for each pair.
var (
	bidderCounts = []int{1, 5, 8, 20}
	impCounts    = []int{1, 3}
)

// grid runs bench as BenchmarkX/bidders=N/imps=M for every pair of the grid.
func grid(b *testing.B, bench func(b *testing.B, f *benchmarks.Fixture)) {
	gridOf(b, bidderCounts, impCounts, bench)
}

// gridOf is grid over the given counts of bidders and imps.
func gridOf(b *testing.B, bidders, imps []int, bench func(b *testing.B, f *benchmarks.Fixture)) {
	for _, n := range bidders {
		b.Run("bidders="+strconv.Itoa(n), func(b *testing.B) {
			for _, m := range imps {
				b.Run("imps="+strconv.Itoa(m), func(b *testing.B) {
					f, err := benchmarks.NewFixture(benchmarks.RequestFile, n, m)
					if err != nil {
						b.Fatal(err)
					}
					bench(b, f)
				})
			}
		})
	}
}

func newAuction(b *testing.B, f *benchmarks.Fixture) *gavel.Auction {
	b.Helper()
	a, err := gavel.New(f.Options(f.Bidders())...)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// cpuMeter reports the process CPU time per op as cpu-ns/op: on a shared
// machine, where waiting for a CPU inflates ns/op, it tells the work done.
type cpuMeter time.Duration

func startCPU() cpuMeter { return cpuMeter(cpuTime()) }

func (m cpuMeter) report(b *testing.B) {
	if used := cpuTime() - time.Duration(m); used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// runChecked runs one auction and fails b unless it had the expected outcome.
func runChecked(b *testing.B, a *gavel.Auction, f *benchmarks.Fixture) {
	b.Helper()
	res, err := a.Run(context.Background(), f.Request)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Check(res); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRun measures one auction of gavel.Run with in-process bidders
// that return prebuilt responses: the cost of the engine itself.
func BenchmarkRun(b *testing.B) {
	grid(b, func(b *testing.B, f *benchmarks.Fixture) {
		runLoop(b, newAuction(b, f), f)
	})
}

// runLoop measures a.Run on f's request, checking the outcome before and
// after the loop, and returns how many auctions it ran, the one before the
// loop included.
func runLoop(b *testing.B, a *gavel.Auction, f *benchmarks.Fixture) int64 {
	b.Helper()
	ctx := context.Background()
	runChecked(b, a, f)
	b.ReportAllocs()
	var res *gavel.Result
	var err error
	runs := int64(1)
	cpu := startCPU()
	for b.Loop() {
		res, err = a.Run(ctx, f.Request)
		runs++
	}
	cpu.report(b)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Check(res); err != nil {
		b.Fatal(err)
	}
	return runs
}

// BenchmarkRunInto measures Auction.RunInto into one reused Result: the
// engine without the Result's garbage, as a server that pools its Results
// runs it.
func BenchmarkRunInto(b *testing.B) {
	grid(b, func(b *testing.B, f *benchmarks.Fixture) {
		a := newAuction(b, f)
		ctx := context.Background()
		var res gavel.Result
		if err := a.RunInto(ctx, f.Request, &res); err != nil {
			b.Fatal(err)
		}
		if err := f.Check(&res); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		var err error
		cpu := startCPU()
		for b.Loop() {
			err = a.RunInto(ctx, f.Request, &res)
		}
		cpu.report(b)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Check(&res); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkRunParallel measures Run from GOMAXPROCS goroutines sharing one
// Auction, as a server does.
func BenchmarkRunParallel(b *testing.B) {
	gridOf(b, []int{8}, []int{3}, func(b *testing.B, f *benchmarks.Fixture) {
		a := newAuction(b, f)
		runChecked(b, a, f)
		b.ReportAllocs()
		cpu := startCPU()
		defer cpu.report(b)
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			var res *gavel.Result
			var err error
			for pb.Next() {
				if res, err = a.Run(ctx, f.Request); err != nil {
					b.Error(err)
					return
				}
			}
			if res != nil {
				if err := f.Check(res); err != nil {
					b.Error(err)
				}
			}
		})
	})
}

// BenchmarkFloorGoroutinesParallel measures benchmarks.FloorGoroutines from
// GOMAXPROCS goroutines, the counterpart of BenchmarkRunParallel: with
// every P busy, no auction wakes an idle thread and the GC has no idle P
// to mark on.
func BenchmarkFloorGoroutinesParallel(b *testing.B) {
	gridOf(b, []int{8}, []int{3}, func(b *testing.B, f *benchmarks.Fixture) {
		bidders := f.Bidders()
		timeout := time.Duration(f.Request.TMax) * time.Millisecond
		b.ReportAllocs()
		cpu := startCPU()
		defer cpu.report(b)
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			best := make([]benchmarks.Best, len(f.Request.Imp))
			ran := false
			for pb.Next() {
				benchmarks.FloorGoroutines(ctx, f.Request, bidders, timeout, best)
				ran = true
			}
			if ran {
				if err := f.CheckFloor(best); err != nil {
					b.Error(err)
				}
			}
		})
	})
}

// BenchmarkFloor measures the reference floor (benchmarks.Floor) on the
// same bidders and requests as BenchmarkRun.
func BenchmarkFloor(b *testing.B) {
	grid(b, func(b *testing.B, f *benchmarks.Fixture) {
		bidders := f.Bidders()
		ctx := context.Background()
		best := make([]benchmarks.Best, len(f.Request.Imp))
		benchmarks.Floor(ctx, f.Request, bidders, best)
		if err := f.CheckFloor(best); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			benchmarks.Floor(ctx, f.Request, bidders, best)
		}
		cpu.report(b)
		if err := f.CheckFloor(best); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkFloorGoroutines measures benchmarks.FloorGoroutines, the floor
// of an engine that calls each bidder on its own goroutine under a
// deadline, on the same bidders and requests as BenchmarkRun.
func BenchmarkFloorGoroutines(b *testing.B) {
	grid(b, func(b *testing.B, f *benchmarks.Fixture) {
		bidders := f.Bidders()
		ctx := context.Background()
		timeout := time.Duration(f.Request.TMax) * time.Millisecond
		best := make([]benchmarks.Best, len(f.Request.Imp))
		benchmarks.FloorGoroutines(ctx, f.Request, bidders, timeout, best)
		if err := f.CheckFloor(best); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			benchmarks.FloorGoroutines(ctx, f.Request, bidders, timeout, best)
		}
		cpu.report(b)
		if err := f.CheckFloor(best); err != nil {
			b.Fatal(err)
		}
	})
}
