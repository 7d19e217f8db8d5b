package gavelfasthttp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// A fasthttp.HostClient cleans its idle connections in a goroutine that
// sleeps MaxIdleConnDuration between rounds and stops only at the end of
// a round that finds no connection: it outlives CloseIdleConnections by up
// to that long, and nothing stops it sooner.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"))
}
