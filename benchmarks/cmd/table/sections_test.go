package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sectionsCSV = `pkg: github.com/gavelrtb/gavel
,bench.txt,
,sec/op,CI
Ledger/op=reserve+commit/mode=sequential-2,2.5e-07,3%
geomean,2.5e-07,

,bench.txt,
,B/op,CI
Ledger/op=reserve+commit/mode=sequential-2,0,0%

,bench.txt,
,allocs/op,CI
Ledger/op=reserve+commit/mode=sequential-2,0,0%

pkg: github.com/gavelrtb/gavel/benchmarks
,bench.txt,
,sec/op,CI
RunHTTP/transport=memory/bidders=1-2,1e-04,2%
RunHTTP/transport=memory/bidders=2-2,1.5e-04,3%
RunHTTP/transport=memory/bidders=16-2,7e-04,4%
RunStateful/state=off/bidders=8/imps=3-2,3e-05,5%
RunStateful/state=on/bidders=8/imps=3-2,4.2e-05,6%
RunRedisLedger/batch=off/bidders=8/imps=3-2,5.4e-04,20%
RunRedisLedger/batch=on/bidders=8/imps=3-2,2.9e-04,10%
ProfileLookup/store=memory/result=hit-2,1.3e-07,1%
RedisProfile/cache=hit-2,5e-07,2%
RedisLedger/mode=strict/goroutines=64-2,5e-05,9%
KafkaSink/compression=none-2,5e-05,8%

,bench.txt,
,cpu-sec/op,CI
RunHTTP/transport=memory/bidders=1-2,1e-04,2%
RunHTTP/transport=memory/bidders=16-2,8.5e-04,4%
RunHTTP/transport=memory/bidders=2-2,1.6e-04,3%
RunStateful/state=off/bidders=8/imps=3-2,2.9e-05,5%
RunStateful/state=on/bidders=8/imps=3-2,4.1e-05,6%
RunRedisLedger/batch=off/bidders=8/imps=3-2,3.2e-04,20%
RunRedisLedger/batch=on/bidders=8/imps=3-2,1.7e-04,10%
ProfileLookup/store=memory/result=hit-2,1.2e-07,1%
RedisProfile/cache=hit-2,5e-07,2%
RedisLedger/mode=strict/goroutines=64-2,3e-05,9%

,bench.txt,
,B/op,CI
RunHTTP/transport=memory/bidders=1-2,8200,0%
RunHTTP/transport=memory/bidders=16-2,59200,0%
RunHTTP/transport=memory/bidders=2-2,11600,0%
RunStateful/state=off/bidders=8/imps=3-2,4490,0%
RunStateful/state=on/bidders=8/imps=3-2,5600,0%
RunRedisLedger/batch=off/bidders=8/imps=3-2,9078,0%
RunRedisLedger/batch=on/bidders=8/imps=3-2,8853,0%
ProfileLookup/store=memory/result=hit-2,0,0%
RedisProfile/cache=hit-2,48,0%
RedisLedger/mode=strict/goroutines=64-2,1112,0%
KafkaSink/compression=none-2,13344,0%

,bench.txt,
,allocs/op,CI
RunHTTP/transport=memory/bidders=1-2,51,0%
RunHTTP/transport=memory/bidders=16-2,651,0%
RunHTTP/transport=memory/bidders=2-2,91,0%
RunStateful/state=off/bidders=8/imps=3-2,10,0%
RunStateful/state=on/bidders=8/imps=3-2,17,0%
RunRedisLedger/batch=off/bidders=8/imps=3-2,81,0%
RunRedisLedger/batch=on/bidders=8/imps=3-2,57,0%
ProfileLookup/store=memory/result=hit-2,0,0%
RedisProfile/cache=hit-2,1,0%
RedisLedger/mode=strict/goroutines=64-2,20,0%
KafkaSink/compression=none-2,4,0%

,bench.txt,
,allocs/event,CI
KafkaSink/compression=none-2,0.1372,5%

,bench.txt,
,compressed/raw,CI
KafkaSink/compression=none-2,1,0%

,bench.txt,
,cpu-sec/event,CI
KafkaSink/compression=none-2,1.69e-06,4%

,bench.txt,
,events/s,CI
KafkaSink/compression=none-2,571357,7%

,bench.txt,
,full/op,CI
KafkaSink/compression=none-2,0,0%

,bench.txt,
,hits/op,CI
RedisProfile/cache=hit-2,1,0%

,bench.txt,
,rt/op,CI
RunRedisLedger/batch=off/bidders=8/imps=3-2,3,0%
RunRedisLedger/batch=on/bidders=8/imps=3-2,1.0004,0%
`

func sectionStats(t *testing.T) stats {
	t.Helper()
	s, err := parseCSV(strings.NewReader(sectionsCSV))
	require.NoError(t, err)
	return s
}

func TestWriteHTTP(t *testing.T) {
	var b strings.Builder
	writeHTTP(&b, sectionStats(t))
	assert.Equal(t, `| benchmark | ns/op | cpu-ns/op | B/op | allocs/op | each added bidder: ns, cpu-ns | each added bidder: B | each added bidder: allocs |
|---|---:|---:|---:|---:|---:|---:|---:|
| RunHTTP/transport=memory/bidders=1 | 100000 ± 2% | 100000 | 8200 | 51 | | | |
| RunHTTP/transport=memory/bidders=2 | 150000 ± 3% | 160000 | 11600 | 91 | 50000, 60000 | 3400 | 40.0 |
| RunHTTP/transport=memory/bidders=16 | 700000 ± 4% | 850000 | 59200 | 651 | 39286, 49286 | 3400 | 40.0 |

transport=memory, 1 to 16 bidders: each added bidder costs 40.0 allocs, 3400 B, 40000 ns and 50000 cpu-ns; what does not grow with the bidders: 11.0 allocs and 4800 B per auction. Target: at most 60 allocs per added bidder, JSON included: met. Prebid Server's exchange: about 278 allocs and 20 KB per bidder, plus 115 allocs per auction.
`, b.String())
}

func TestWriteStateful(t *testing.T) {
	var b strings.Builder
	writeStateful(&b, sectionStats(t))
	assert.Equal(t, `| benchmark | ns/op | cpu-ns/op | B/op | allocs/op |
|---|---:|---:|---:|---:|
| RunStateful/state=off/bidders=8/imps=3 | 30000 ± 5% | 29000 | 4490 | 10 |
| RunStateful/state=on/bidders=8/imps=3 | 42000 ± 6% | 41000 | 5600 | 17 |
| **added cost per auction** (on − off) | +12000 | +12000 | +1110 | +7 |
| ProfileLookup/store=memory/result=hit | 130 ± 1% | 120 | 0 | 0 |
| Ledger/op=reserve+commit/mode=sequential | 250 ± 3% | n/a | 0 | 0 |

| Redis ledger, strict, localhost | round trips per auction | added to the auction, ns (vs state=off) | ns/op | cpu-ns/op | B/op | allocs/op |
|---|---:|---:|---:|---:|---:|---:|
| RunRedisLedger/batch=off/bidders=8/imps=3 (before batching: one Reserve per imp) | 3.00 | +510000 | 540000 ± 20% | 320000 | 9078 | 81 |
| RunRedisLedger/batch=on/bidders=8/imps=3 (after: one ReserveBatch per auction) | 1.00 | +260000 | 290000 ± 10% | 170000 | 8853 | 57 |
`, b.String())
}

func TestWriteAdapters(t *testing.T) {
	var b strings.Builder
	writeAdapters(&b, sectionStats(t))
	assert.Equal(t, `| benchmark | ns/op | cpu-ns/op | B/op | allocs/op | ops/s | cache hits/op |
|---|---:|---:|---:|---:|---:|---:|
| RedisLedger/mode=strict/goroutines=64 | 50000 ± 9% | 30000 | 1112 | 20 | 20000 |  |
| RedisProfile/cache=hit | 500 ± 2% | 500 | 48 | 1 | 2000000 | 1.00 |

| benchmark | events/s | cpu-ns/event | allocs/event | B/op (33 events) | bytes sent / raw | refused writes/op |
|---|---:|---:|---:|---:|---:|---:|
| KafkaSink/compression=none | 571357 | 1690 | 0.14 | 13344 | 1.00 | 0.00 |
`, b.String())

	b.Reset()
	writeAdapters(&b, stats{})
	assert.Equal(t, "No Redis benchmark ran (no server answered: they skip).\n", b.String())
}

func TestSelectSections(t *testing.T) {
	secs, err := selectSections("stateful, core")
	require.NoError(t, err)
	require.Len(t, secs, 2)
	assert.Equal(t, "core", secs[0].name, "in the order of the README")
	assert.Equal(t, "stateful", secs[1].name)
	assert.Equal(t, map[string]string{
		modulePkg: "^Benchmark(Run|RunInto|RunParallel|Floor|FloorGoroutines)$|^Benchmark(RunStateful|RunRedisLedger|ProfileLookup)$",
		corePkg:   "^BenchmarkLedger$",
	}, benchByPackage(secs))

	_, err = selectSections("core,nope")
	assert.ErrorContains(t, err, "nope")
	_, err = selectSections(" , ")
	assert.Error(t, err)
}
