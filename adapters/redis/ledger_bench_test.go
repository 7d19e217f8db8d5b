package redis

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
)

// BenchmarkRedisLedger measures a reservation and its commit on one
// account from 64 goroutines, in each mode, against the Redis server of
// the tests. After the loop it checks that every iteration committed what
// it should have, in Redis.
//
// The lease slice covers what the benchmark reserves in a few lease
// intervals, as WithLeaseSlice asks: with the default slice (10.00) the
// goroutines drain a lease within a refresh's round trip, and a
// reservation that waits for maxLeaseWaits refreshes is refused.
func BenchmarkRedisLedger(b *testing.B) {
	const (
		goroutines     = 64
		amount, actual = 1_000, 700
	)
	c := ledgerClient(b)
	for _, mode := range ledgerModes {
		b.Run(fmt.Sprintf("mode=%v/goroutines=%d", mode, goroutines), func(b *testing.B) {
			ctx := context.Background()
			l := newTestLedger(b, c, WithLedgerMode(mode), WithLeaseSlice(1_000_000_000))
			if err := l.SetBudget(ctx, "acct", MaxAmount, gavel.Period{}); err != nil {
				b.Fatal(err)
			}
			var ops atomic.Int64
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((goroutines + procs - 1) / procs)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				n := int64(0)
				defer func() { ops.Add(n) }()
				for pb.Next() {
					h, err := l.Reserve(ctx, "acct", amount, time.Minute)
					if err == nil {
						err = l.Commit(ctx, h, actual)
					}
					if err != nil {
						b.Error(err)
						return
					}
					n++
				}
			})
			b.StopTimer()
			if got, want := settled(b, l, "acct"), (gavel.Balance{Budget: MaxAmount, Committed: ops.Load() * actual}); got != want {
				b.Fatalf("after %d reservations: balance %+v, want %+v", ops.Load(), got, want)
			}
		})
	}
}
