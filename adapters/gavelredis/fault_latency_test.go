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
// Time: the ledger's calls, and Run, return within their deadline + 2ms,
// but for the time the test process was stalled after the deadline (the
// stall probe sees when): on a loaded machine every goroutine is held up
// tens of milliseconds at times, ledger or not, and the calls then in
// flight return late at once; that is not the ledger's doing. The raw
// max and p99 are logged.
// The client keeps its connections through the timeouts.
func TestFaultLatency(t *testing.T) {
	auctions := 80
	if os.Getenv("GAVEL_MEASURE") == "1" {
		auctions = 400
	}
	r := startTestRedis(t, redisNoPersistence...)
	for _, delay := range []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		t.Run(fmt.Sprint("+", delay), func(t *testing.T) {
			o := runOverLatency(t, r.Addr(), ClientOption(), delay, auctions)
			t.Log(o)
			const slack = 2 * time.Millisecond
			assert.LessOrEqual(t, o.beyond.ledger.max, slack, "the ledger past its deadline beyond the stalls: %v", o)
			assert.LessOrEqual(t, o.beyond.run.max, slack, "Run past its deadline beyond the stalls: %v", o)
			assert.LessOrEqual(t, o.reconns, int64(2), "the client keeps its connections through timeouts: %v", o)
		})
	}
}
