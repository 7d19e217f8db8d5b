package benchmarks_test

import (
	"context"
	"fmt"
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
	b.Run("op=Counts", func(b *testing.B) {
		b.ReportAllocs()
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
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					var err error
					if op == "Counts" {
						_, err = s.Counts(ctx, users[i%len(users)], keys, now)
					} else {
						err = s.Record(ctx, users[i%len(users)], keys[:2], now)
					}
					if err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
	b.Run("op=Record", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := s.Record(ctx, users[i%len(users)], keys[:2], now); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
