package gavelprom

import (
	"maps"
	"sync"
	"sync/atomic"
)

// childCache maps a label value (a bidder, an account, a reason code) to
// the metric children resolved for it, so that a hook finds them with one
// map lookup and no allocation. The map is copied on write: reads take no
// lock, and a miss builds the value once, under mu. Keys come from closed
// sets (configured names, codes), so the map stays small and writes stop
// after warm-up. The zero value is unusable; set build.
type childCache[K comparable, V any] struct {
	m     atomic.Pointer[map[K]V]
	mu    sync.Mutex
	build func(K) V
}

// get returns the value for k, building it on first use.
func (c *childCache[K, V]) get(k K) V {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	return c.add(k)
}

func (c *childCache[K, V]) add(k K) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	m := map[K]V{}
	if old != nil {
		m = maps.Clone(*old)
	}
	v := c.build(k)
	m[k] = v
	c.m.Store(&m)
	return v
}
