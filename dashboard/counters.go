package dashboard

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds, in microseconds, of the latency
// histograms' buckets; a last bucket holds everything above them.
var latencyBounds = [...]int64{
	100, 200, 300, 500, 750,
	1_000, 1_500, 2_000, 3_000, 4_000, 5_000, 7_500,
	10_000, 15_000, 20_000, 30_000, 40_000, 50_000, 60_000, 75_000,
	100_000, 125_000, 150_000, 200_000, 300_000, 500_000, 1_000_000,
}

const latencyBuckets = len(latencyBounds) + 1

// histogram counts latencies in fixed buckets. Its counts only grow: a
// frame takes the difference between two readings.
type histogram [latencyBuckets]atomic.Int64

func (h *histogram) observe(d time.Duration) {
	us := d.Microseconds()
	lo, hi := 0, len(latencyBounds)
	for lo < hi { // the first bound >= us, or len(latencyBounds)
		mid := (lo + hi) / 2
		if latencyBounds[mid] < us {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	h[lo].Add(1)
}

func (h *histogram) read(to *[latencyBuckets]int64) {
	for i := range h {
		to[i] = h[i].Load()
	}
}

// quantile returns the q-quantile (0 < q < 1), in milliseconds, of the
// latencies counted in counts, interpolated linearly within its bucket; 0
// when counts is empty. A quantile in the last bucket is its lower bound.
func quantile(counts *[latencyBuckets]int64, q float64) float64 {
	var total int64
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen int64
	for i, n := range counts {
		if n == 0 || float64(seen+n) < rank {
			seen += n
			continue
		}
		lo := int64(0)
		if i > 0 {
			lo = latencyBounds[i-1]
		}
		if i == len(latencyBounds) {
			return float64(lo) / 1000
		}
		frac := (rank - float64(seen)) / float64(n)
		return (float64(lo) + frac*float64(latencyBounds[i]-lo)) / 1000
	}
	return float64(latencyBounds[len(latencyBounds)-1]) / 1000
}

// bounded maps up to limit keys to counters of their own, made on first use,
// and every further key to one shared "other" counter. Lookups take no lock
// and do not allocate: the map is copied on write, and writes stop once the
// map is full or every key has been seen. The zero value is unusable: use
// newBounded.
type bounded[K comparable, V any] struct {
	m     atomic.Pointer[map[K]*V]
	full  atomic.Bool
	used  atomic.Bool // other was returned
	limit int
	other *V
	build func(K) *V

	mu   sync.Mutex
	keys []K // in the order first seen, for frames
}

func newBounded[K comparable, V any](limit int, other *V, build func(K) *V) *bounded[K, V] {
	b := &bounded[K, V]{limit: limit, other: other, build: build}
	m := map[K]*V{}
	b.m.Store(&m)
	return b
}

// get returns the counters of k.
func (b *bounded[K, V]) get(k K) *V {
	if v, ok := (*b.m.Load())[k]; ok {
		return v
	}
	if b.full.Load() {
		return b.getOther()
	}
	return b.add(k)
}

// getOther returns the other counters.
func (b *bounded[K, V]) getOther() *V {
	if !b.used.Load() {
		b.used.Store(true)
	}
	return b.other
}

func (b *bounded[K, V]) add(k K) *V {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.m.Load()
	if v, ok := old[k]; ok {
		return v
	}
	if len(old) >= b.limit {
		b.full.Store(true)
		return b.getOther()
	}
	m := maps.Clone(old)
	v := b.build(k)
	m[k] = v
	b.m.Store(&m)
	b.keys = append(b.keys, k)
	return v
}

// each calls f with every key and its counters in the order first seen,
// then, once they were used, with the other counters.
func (b *bounded[K, V]) each(f func(k K, v *V, other bool)) {
	b.mu.Lock()
	keys := b.keys[:len(b.keys):len(b.keys)]
	b.mu.Unlock()
	m := *b.m.Load()
	for _, k := range keys {
		f(k, m[k], false)
	}
	if b.used.Load() {
		var zero K
		f(zero, b.other, true)
	}
}
