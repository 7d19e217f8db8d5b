package benchmarks_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelrtb/gavel/adapters/gavelredis"
	"github.com/gavelrtb/gavel/campaign"
)

// BenchmarkFrequencyStore measures the frequency stores as the campaign
// bidder uses them: Counts of every candidate's caps (keys=2 or 20) once
// per auction, Record of one campaign's 2 caps per billed impression, for
// 1,000 users already counted, serially and from parallel goroutines.
func BenchmarkFrequencyStore(b *testing.B) {
	now := time.Date(2026, 3, 10, 10, 20, 0, 0, time.UTC)
	users := make([]string, 1000)
	for i := range users {
		users[i] = fmt.Sprintf("%016x", i*7919)
	}
	stores := []struct {
		name string
		new  func(b *testing.B) campaign.FrequencyStore
	}{
		{"memory", func(b *testing.B) campaign.FrequencyStore {
			s, err := campaign.NewMemoryFrequencyStore()
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"redis", func(b *testing.B) campaign.FrequencyStore {
			c := redisClient(b, false)
			prefix := redisPrefix(b, c, func(p string) string { return p + ":freq:*" })
			s, err := gavelredis.NewFrequencyStore(c, gavelredis.WithKeyPrefix(prefix))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, st := range stores {
		for _, nkeys := range []int{2, 20} {
			keys := make([]campaign.CapKey, nkeys)
			for i := range keys {
				keys[i] = campaign.CapKey{ID: fmt.Sprintf("campaign-%d", i/2), Period: campaign.Period(1 + i%2)}
			}
			b.Run(fmt.Sprintf("store=%s/keys=%d", st.name, nkeys), func(b *testing.B) {
				s := st.new(b)
				for _, u := range users {
					if err := s.Record(context.Background(), u, keys, now); err != nil {
						b.Fatal(err)
					}
				}
				benchFrequency(b, s, users, keys, now)
			})
		}
	}
}

func benchFrequency(b *testing.B, s campaign.FrequencyStore, users []string, keys []campaign.CapKey, now time.Time) {
	ctx := context.Background()
	recorded := int64(len(users)) // what the store counts under keys[0], over all users
	b.Run("op=Counts", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPU()
		defer cpu.report(b)
		i := 0
		for b.Loop() {
			got, err := s.Counts(ctx, users[i%len(users)], keys, now)
			if err != nil || got[0] < 1 {
				b.Fatalf("counts %v, %v", got, err)
			}
			i++
		}
	})
	for _, op := range []string{"Counts", "Record"} {
		b.Run("op="+op+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU()
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					var err error
					if op == "Counts" {
						_, err = s.Counts(ctx, users[i%len(users)], keys, now)
					} else {
						err = s.Record(ctx, users[i%len(users)], keys[:2], now)
						n.Add(1)
					}
					if err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.StopTimer() // the check is not the benchmark
			cpu.report(b)
			recorded += n.Load()
			checkRecorded(b, s, users, keys[0], now, recorded)
		})
	}
	b.Run("op=Record", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPU()
		i := 0
		for b.Loop() {
			if err := s.Record(ctx, users[i%len(users)], keys[:2], now); err != nil {
				b.Fatal(err)
			}
			i++
		}
		cpu.report(b) // b.Loop stopped the timer
		recorded += int64(i)
		checkRecorded(b, s, users, keys[0], now, recorded)
	})
}

// checkRecorded fails b unless the counts of key over users add up to
// want: every Record counted.
func checkRecorded(b *testing.B, s campaign.FrequencyStore, users []string, key campaign.CapKey, now time.Time, want int64) {
	b.Helper()
	total := int64(0)
	for _, u := range users {
		got, err := s.Counts(context.Background(), u, []campaign.CapKey{key}, now)
		if err != nil {
			b.Fatal(err)
		}
		total += got[0]
	}
	if total != want {
		b.Fatalf("the store counts %d impressions, want %d", total, want)
	}
}
