package gavelredis

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestFaultLatency runs auctions (8 workers, tmax 100ms, one DSP that
// answers 1ms before its deadline: the ledger gets what is left) on a
// strict ledger whose client (ClientOption) reaches a Redis of the test's
// own through a proxy adding 0, 2, 5 and 20ms to every read.
//
// Time: the ledger's calls return within their deadline + 2ms, but for
// the time the test process was stalled after the deadline, and neither
// they nor Run wait for Redis (see checkLateness). The raw max and p99
// are logged.
// The client keeps its connections through the timeouts.
func TestFaultLatency(t *testing.T) {
	auctions := 200 // enough that the 99th percentile is not the max
	if os.Getenv("GAVEL_MEASURE") == "1" {
		auctions = 400
	}
	r := startTestRedis(t, redisNoPersistence...)
	for _, delay := range []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		t.Run(fmt.Sprint("+", delay), func(t *testing.T) {
			o := runOverLatency(t, r.Addr(), ClientOption(), delay, auctions)
			t.Log(o)
			checkLateness(t, o.beyond.ledger, o.beyond.run, o)
			assert.LessOrEqual(t, o.reconns, int64(2), "the client keeps its connections through timeouts: %v", o)
		})
	}
}
