package campaign_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gavelrtb/gavel/campaign"
)

// benchKeys returns n keys: a campaign hour and day cap per two keys.
func benchKeys(n int) []campaign.CapKey {
	keys := make([]campaign.CapKey, n)
	for i := range keys {
		keys[i] = campaign.CapKey{ID: fmt.Sprintf("c%d", i/2), Period: campaign.Period(1 + i%2)}
	}
	return keys
}

// benchStore returns a store with users u0..u<users-1> counted once under
// keys.
func benchStore(b *testing.B, users int, keys []campaign.CapKey, now time.Time) *campaign.MemoryFrequencyStore {
	s, err := campaign.NewMemoryFrequencyStore()
	if err != nil {
		b.Fatal(err)
	}
	for i := range users {
		if err := s.Record(context.Background(), fmt.Sprintf("u%d", i), keys, now); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkMemoryFrequencyStore(b *testing.B) {
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	const users = 10_000
	names := make([]string, users)
	for i := range names {
		names[i] = fmt.Sprintf("u%d", i)
	}
	for _, nkeys := range []int{2, 20} {
		keys := benchKeys(nkeys)
		s := benchStore(b, users, keys, now)
		b.Run(fmt.Sprintf("op=AppendCounts/keys=%d", nkeys), func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]int64, 0, nkeys)
			i := 0
			for b.Loop() {
				dst, _ = s.AppendCounts(ctx, dst[:0], names[i%users], keys, now)
				i++
			}
			if dst[0] != 1 {
				b.Fatalf("count %d, want 1", dst[0])
			}
		})
		b.Run(fmt.Sprintf("op=Counts/keys=%d/parallel", nkeys), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					got, err := s.Counts(ctx, names[i%users], keys, now)
					if err != nil || got[0] != 1 {
						b.Errorf("counts %v, %v", got, err)
						return
					}
					i++
				}
			})
		})
		b.Run(fmt.Sprintf("op=Record/keys=%d/parallel", nkeys), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if err := s.Record(ctx, names[i%users], keys, now); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}
