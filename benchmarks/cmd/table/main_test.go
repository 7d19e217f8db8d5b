package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sampleCSV = `,bench.txt,
,sec/op,CI
Run/bidders=8/imps=3-2,1.2e-05,3%
Run/bidders=1/imps=1-2,4e-06,∞
RunParallel/bidders=8/imps=3-2,9e-06,5%
Floor/bidders=1/imps=1-2,4e-08,1%
Floor/bidders=8/imps=3-2,5e-07,2%
FloorGoroutines/bidders=8/imps=3-2,4e-06,6%
geomean,1e-06,

,bench.txt,
,cpu-sec/op,CI
Run/bidders=8/imps=3-2,1e-05,3%
Run/bidders=1/imps=1-2,3e-06,5%
RunParallel/bidders=8/imps=3-2,8e-06,5%
Floor/bidders=1/imps=1-2,4e-08,1%
Floor/bidders=8/imps=3-2,5e-07,2%
FloorGoroutines/bidders=8/imps=3-2,2e-06,6%
geomean,1e-06,

,bench.txt,
,B/op,CI
Run/bidders=8/imps=3-2,4368,0%
Run/bidders=1/imps=1-2,784,0%
RunParallel/bidders=8/imps=3-2,4400,0%
Floor/bidders=1/imps=1-2,0,0%
Floor/bidders=8/imps=3-2,0,0%
geomean,,

,bench.txt,
,allocs/op,CI
Run/bidders=8/imps=3-2,17,0%
Run/bidders=1/imps=1-2,10,0%
RunParallel/bidders=8/imps=3-2,17,0%
Floor/bidders=1/imps=1-2,0,0%
Floor/bidders=8/imps=3-2,0,0%
geomean,,
`

func TestTable(t *testing.T) {
	s, err := parseCSV(strings.NewReader(sampleCSV))
	require.NoError(t, err)
	assert.Equal(t, stat{center: 17, ci: "0%"}, s["Run/bidders=8/imps=3"]["allocs/op"])

	var b strings.Builder
	writeCore(&b, s)
	assert.Equal(t, `| benchmark | ns/op | cpu-ns/op | B/op | allocs/op | Floor ns/op, cpu | Run / Floor, cpu | FloorGoroutines ns/op, cpu | Run / FloorGoroutines, cpu |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
| Run/bidders=1/imps=1 | 4000 ± ∞ | 3000 | 784 | 10 | 40.0, 40.0 | 100.0x, 75.0x | n/a | n/a |
| Run/bidders=8/imps=3 | 12000 ± 3% | 10000 | 4368 | 17 | 500, 500 | 24.0x, 20.0x | 4000, 2000 | 3.0x, 5.0x |
| RunParallel/bidders=8/imps=3 | 9000 ± 5% | 8000 | 4400 | 17 | 500, 500 | 18.0x, 16.0x | 4000, 2000 | 2.2x, 4.0x |

Targets for bidders=8/imps=3: allocs/op 17 (at most 30: met); Run / Floor 24.0x in ns/op (at most 6x: missed), 20.0x in cpu-ns/op.
FloorGoroutines / Floor: 8.0x in ns/op, 4.0x in cpu-ns/op, the least any engine that calls each bidder on its own goroutine can reach.
Run / FloorGoroutines: 5.00x in cpu-ns/op (at most 1.5x: missed), allocs/op 17 (at most 10: missed).
`, b.String())
}

func TestParseCSVErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"bad number", ",f,\n,sec/op,CI\nRun/x-2,abc,1%\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCSV(strings.NewReader(tt.in))
			assert.Error(t, err)
		})
	}
}

func TestCaseLess(t *testing.T) {
	assert.True(t, caseLess("bidders=5/imps=3", "bidders=20/imps=1"))
	assert.True(t, caseLess("bidders=8/imps=1", "bidders=8/imps=3"))
	assert.False(t, caseLess("bidders=8/imps=3", "bidders=8/imps=3"))
}
