package main

import (
	"testing"

	"go.uber.org/goleak"
)

// A fasthttp.Server (TestRunAgainstAFastExchange) leaves two goroutines
// behind that nothing stops: its worker pool's cleaner outlives Shutdown
// by up to MaxIdleWorkerDuration, and fasthttp keeps its responses' Date
// header fresh in one for good.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}
