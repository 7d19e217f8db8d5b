package gavelfasthttp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// A fasthttp.HostClient cleans its idle connections in a goroutine that
// sleeps MaxIdleConnDuration between rounds and stops only at the end of
// a round that finds no connection: it outlives CloseIdleConnections by up
// to that long, and nothing stops it sooner. A fasthttp.Server's worker
// pool has one that outlives Shutdown by up to MaxIdleWorkerDuration, and
// fasthttp keeps the Date header of its responses fresh in one for good.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}
