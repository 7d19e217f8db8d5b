package gavelredis

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// redisAddr is the Redis the tests run against: $GAVEL_REDIS_ADDR, or
// 127.0.0.1:6379.
func redisAddr() string {
	if addr := os.Getenv("GAVEL_REDIS_ADDR"); addr != "" {
		return addr
	}
	return "127.0.0.1:6379"
}

// noRedis skips a test that needs the Redis at addr, which did not answer,
// or fails it when GAVEL_REQUIRE_REDIS=1 says that Redis must be there (as
// on CI, whose .ci/run sets it): a skipped test there would pass silently.
func noRedis(t testing.TB, addr string, err error) {
	t.Helper()
	if os.Getenv("GAVEL_REQUIRE_REDIS") == "1" {
		t.Fatalf("redis: no server at %s (GAVEL_REQUIRE_REDIS=1): %v", addr, err)
	}
	t.Skipf("redis: no server at %s: %v", addr, err)
}
