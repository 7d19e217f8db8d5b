package benchmarks_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelredis"
)

// redisAddr is the Redis the benchmarks run against: $GAVEL_REDIS_ADDR,
// or 127.0.0.1:6379.
func redisAddr() string {
	if addr := os.Getenv("GAVEL_REDIS_ADDR"); addr != "" {
		return addr
	}
	return "127.0.0.1:6379"
}

// redisClient returns a client of the Redis at redisAddr, closed when tb
// ends, with client-side caching when cache is set. When no server
// answers, it skips tb, or fails it if GAVEL_REQUIRE_REDIS=1 says that
// Redis must be there.
func redisClient(tb testing.TB, cache bool) rueidis.Client {
	tb.Helper()
	addr := redisAddr()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		conn.Close()
	}
	var c rueidis.Client
	if err == nil {
		c, err = rueidis.NewClient(rueidis.ClientOption{
			InitAddress:       []string{addr},
			DisableCache:      !cache,
			ForceSingleClient: !cache,
		})
	}
	if err != nil {
		if os.Getenv("GAVEL_REQUIRE_REDIS") == "1" {
			tb.Fatalf("redis: no server at %s (GAVEL_REQUIRE_REDIS=1): %v", addr, err)
		}
		tb.Skipf("redis: no server at %s, skipping (set GAVEL_REDIS_ADDR to use another): %v", addr, err)
	}
	tb.Cleanup(c.Close)
	return c
}

// redisPrefix returns a key prefix of its own for tb, and deletes the keys
// that match pattern(prefix) when tb ends.
func redisPrefix(tb testing.TB, c rueidis.Client, pattern func(prefix string) string) string {
	tb.Helper()
	var r [6]byte
	rand.Read(r[:])
	prefix := "gavel-bench-" + hex.EncodeToString(r[:])
	tb.Cleanup(func() { redisDelete(tb, c, pattern(prefix)) })
	return prefix
}

// redisDelete deletes the keys that match pattern.
func redisDelete(tb testing.TB, c rueidis.Client, pattern string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
		if err != nil {
			tb.Errorf("redis: deleting %s: %v", pattern, err)
			return
		}
		if len(e.Elements) > 0 {
			if err := c.Do(ctx, c.B().Del().Key(e.Elements...).Build()).Error(); err != nil {
				tb.Errorf("redis: deleting %s: %v", pattern, err)
				return
			}
		}
		if cursor = e.Cursor; cursor == 0 {
			return
		}
	}
}

// redisLedgerGoroutines is how many goroutines BenchmarkRedisLedger runs.
const redisLedgerGoroutines = 64

// BenchmarkRedisLedger measures a reservation and its commit on one
// account of the Redis ledger from 64 goroutines, in each mode: in strict
// mode each is a round trip (two Lua scripts), in lease mode both are
// served from the process's lease. After the loop it checks in Redis,
// through a second ledger, that every iteration committed what it should
// have (in lease mode, once the lease's next report is in), then closes
// the ledger, which gives back its lease, and checks that nothing is left
// reserved.
func BenchmarkRedisLedger(b *testing.B) {
	const amount, actual = 1_000, 700
	c := redisClient(b, false)
	for _, mode := range []gavelredis.Mode{gavelredis.ModeStrict, gavelredis.ModeLease} {
		b.Run("mode="+mode.String()+"/goroutines=64", func(b *testing.B) {
			ctx := context.Background()
			prefix := redisPrefix(b, c, func(p string) string { return "{" + p + ":*" })
			// A lease slice that covers a few lease intervals of this rate, as
			// WithLeaseSlice asks: with the default (10.00) 64 goroutines drain
			// a lease within a refresh's round trip.
			l, err := gavelredis.NewLedger(c, gavelredis.WithKeyPrefix(prefix), gavelredis.WithLedgerMode(mode),
				gavelredis.WithLeaseSlice(1_000_000_000))
			if err != nil {
				b.Fatal(err)
			}
			closed := false
			b.Cleanup(func() {
				if !closed {
					l.Close(context.Background())
				}
			})
			if err := l.SetBudget(ctx, gavel.Budget{Account: "acct", Amount: gavelredis.MaxAmount}); err != nil {
				b.Fatal(err)
			}
			var ops atomic.Int64
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((redisLedgerGoroutines + procs - 1) / procs)
			b.ReportAllocs()
			cpu := startCPU()
			b.RunParallel(func(pb *testing.PB) {
				n := int64(0)
				defer func() { ops.Add(n) }()
				for pb.Next() {
					h, err := l.Reserve(ctx, "acct", amount, time.Minute)
					if err == nil {
						err = l.Commit(ctx, h, actual)
					}
					if err != nil {
						b.Error(err) // not Fatal: this is not the benchmark's goroutine
						return
					}
					n++
				}
			})
			cpu.report(b)
			b.StopTimer()
			if ops.Load() != int64(b.N) {
				b.Fatalf("%d reservations, want b.N = %d", ops.Load(), b.N)
			}
			// Every commit reaches Redis: at once in strict mode, with the
			// lease's next report in lease mode.
			check, err := gavelredis.NewLedger(c, gavelredis.WithKeyPrefix(prefix))
			if err != nil {
				b.Fatal(err)
			}
			defer check.Close(ctx)
			want := ops.Load() * actual
			var got gavel.Balance
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if got, err = check.Balance(ctx, "acct"); err != nil {
					b.Fatal(err)
				}
				if got.Committed == want || time.Now().After(deadline) {
					break
				}
			}
			if got.Committed != want {
				b.Fatalf("after %d reservations: committed %d, want %d", ops.Load(), got.Committed, want)
			}
			// Closing gives the lease back: nothing is left reserved.
			closed = true
			if err := l.Close(ctx); err != nil {
				b.Fatal(err)
			}
			if got, err = check.Balance(ctx, "acct"); err != nil {
				b.Fatal(err)
			}
			if wantBal := (gavel.Balance{Budget: gavelredis.MaxAmount, Committed: want}); got != wantBal {
				b.Fatalf("after Close: balance %+v, want %+v", got, wantBal)
			}
		})
	}
}

// redisProfile has every field of a gavel.Profile set, as a profile
// written by a DMP would.
func redisProfile(userID string) *gavel.Profile {
	p := statefulProfile(userID)
	p.Attributes = map[string]string{"tier": "gold", "country": "FR"}
	p.Segments[0].Ext = []byte(`{"segtax":4}`)
	p.Segments = append(p.Segments, openrtb2.Data{ID: "ctx", Segment: []openrtb2.Segment{{ID: "s1"}}})
	return p
}

// BenchmarkRedisProfile measures a lookup of a profile that is in Redis:
// served from the client-side cache and its decoded copy (cache=hit),
// from the cache but decoded every time (cache=hit/decoded=off), and with
// no cache, a round trip and a decode every time (cache=miss). Every
// lookup must return the profile; hits/op is the share that the cache
// served.
func BenchmarkRedisProfile(b *testing.B) {
	c := redisClient(b, true)
	prefix := redisPrefix(b, c, func(p string) string { return p + ":*" })
	ctx := context.Background()
	writer, err := gavelredis.NewProfileStore(c, gavelredis.WithKeyPrefix(prefix))
	if err != nil {
		b.Fatal(err)
	}
	const user = "u-0f9e8d7c6b5a"
	if err := writer.Put(ctx, user, redisProfile(user), time.Minute); err != nil {
		b.Fatal(err)
	}
	for _, bm := range []struct {
		name string
		opts []gavelredis.ProfileOption
	}{
		{"cache=hit", nil},
		{"cache=hit/decoded=off", []gavelredis.ProfileOption{gavelredis.WithProfileDecoded(0)}},
		{"cache=miss", []gavelredis.ProfileOption{gavelredis.WithProfileCacheTTL(0), gavelredis.WithProfileDecoded(0)}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			s, err := gavelredis.NewProfileStore(c, append([]gavelredis.ProfileOption{gavelredis.WithKeyPrefix(prefix)}, bm.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			lookup := func() {
				p, err := s.Profile(ctx, user)
				if err != nil || p.UserID != user || len(p.Segments) != 2 {
					b.Fatalf("lookup: %+v, %v", p, err)
				}
			}
			lookup()
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				lookup()
			}
			cpu.report(b)
			lookup()
			st := s.Stats()
			b.ReportMetric(float64(st.CacheHits)/float64(st.Lookups), "hits/op")
		})
	}
}
