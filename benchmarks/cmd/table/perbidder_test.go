package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const perBidderCSV = `,bench.txt,
,sec/op,CI
PerBidder/path=nethttp+std/bidders=1-2,6e-05,3%
PerBidder/path=nethttp+std/bidders=20-2,3.6e-04,4%
PerBidder/path=fasthttp+fast/bidders=1-2,3e-05,3%
PerBidder/path=fasthttp+fast/bidders=20-2,1.0e-04,4%

,bench.txt,
,cpu-sec/op,CI
PerBidder/path=nethttp+std/bidders=1-2,5e-05,3%
PerBidder/path=nethttp+std/bidders=20-2,3.35e-04,4%
PerBidder/path=fasthttp+fast/bidders=1-2,2e-05,3%
PerBidder/path=fasthttp+fast/bidders=20-2,0.771e-04,4%

,bench.txt,
,B/op,CI
PerBidder/path=nethttp+std/bidders=1-2,8300,0%
PerBidder/path=nethttp+std/bidders=20-2,74800,0%
PerBidder/path=fasthttp+fast/bidders=1-2,5000,0%
PerBidder/path=fasthttp+fast/bidders=20-2,24000,0%

,bench.txt,
,allocs/op,CI
PerBidder/path=nethttp+std/bidders=1-2,50,0%
PerBidder/path=nethttp+std/bidders=20-2,791,0%
PerBidder/path=fasthttp+fast/bidders=1-2,12,0%
PerBidder/path=fasthttp+fast/bidders=20-2,50,0%
`

func TestWritePerBidder(t *testing.T) {
	s, err := parseCSV(strings.NewReader(perBidderCSV))
	require.NoError(t, err)
	var b strings.Builder
	writePerBidder(&b, s)
	assert.Equal(t, `| benchmark | ns/op | cpu-ns/op | B/op | allocs/op |
|---|---:|---:|---:|---:|
| PerBidder/path=nethttp+std/bidders=1 | 60000 ± 3% | 50000 | 8300 | 50 |
| PerBidder/path=nethttp+std/bidders=20 | 360000 ± 4% | 335000 | 74800 | 791 |
| PerBidder/path=fasthttp+fast/bidders=1 | 30000 ± 3% | 20000 | 5000 | 12 |
| PerBidder/path=fasthttp+fast/bidders=20 | 100000 ± 4% | 77100 | 24000 | 50 |

| each added bidder | cpu-ns | B | allocs | per auction besides: allocs, B | Prebid Server / gavel: cpu, B, allocs |
|---|---:|---:|---:|---:|---:|
| path=nethttp+std, bidders=1 to 20 | 15000 | 3500 | 39.0 | 11, 4800 | 5.1x, 7.1x, 7.8x |
| path=fasthttp+fast, bidders=1 to 20 | 3005 | 1000 | 2.0 | 10, 4000 | 25.3x, 25.0x, 152.0x |
| Prebid Server's exchange (reference, not measured here) | 76000 | 25000 | 304 | 134, 37000 | 1x |

Goal per added bidder on the fastest path (path=fasthttp+fast): at least 10x less CPU (25.3x: met) and 20x fewer allocations (152.0x: met) than Prebid Server.
`, b.String())

	b.Reset()
	writePerBidder(&b, stats{})
	assert.Equal(t, "No per-bidder benchmark ran.\n", b.String())
}
