package gavelredis

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/campaign/campaigntest"
)

const testLifetime = 7 * 24 * time.Hour

func newTestFrequencyStore(t testing.TB, c rueidis.Client, prefix string, opts ...FrequencyOption) *FrequencyStore {
	t.Helper()
	opts = append([]FrequencyOption{testPrefix(prefix), WithFrequencyLifetime(testLifetime)}, opts...)
	s, err := NewFrequencyStore(c, opts...)
	require.NoError(t, err)
	return s
}

func TestFrequencyStoreConformance(t *testing.T) {
	campaigntest.TestFrequencyStore(t, func(t *testing.T) campaign.FrequencyStore {
		c, prefix := profileClient(t)
		return newTestFrequencyStore(t, c, prefix)
	}, campaigntest.WithLifetime(testLifetime))
}

func TestNewFrequencyStoreOptions(t *testing.T) {
	_, err := NewFrequencyStore(nil, WithKeyPrefix("a:"), WithFrequencyLocation(nil),
		WithFrequencyLifetime(time.Millisecond), WithFrequencyMargin(-time.Second))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, want := range []string{"nil client", "must not end with ':'", "location must not be nil",
		"lifetime ttl must be at least 1s, got 1ms", "margin must not be negative, got -1s"} {
		assert.ErrorContains(t, err, want)
	}
}

// TestFrequencyStoreKeys checks the key schema and the keys' expiry.
func TestFrequencyStoreKeys(t *testing.T) {
	c, prefix := profileClient(t)
	s := newTestFrequencyStore(t, c, prefix, WithFrequencyMargin(time.Minute))
	ctx := t.Context()
	now := time.Now()
	keys := []campaign.CapKey{
		{ID: "c1", Period: campaign.PeriodHour},
		{Scope: campaign.ScopeAdvertiser, ID: "acme", Period: campaign.PeriodDay},
		{ID: "c1", Period: campaign.PeriodLifetime},
	}
	require.NoError(t, s.Record(ctx, "0123456789abcdef", keys, now))
	hourStart, hourEnd := campaign.PeriodHour.Bounds(now, nil)
	dayStart, dayEnd := campaign.PeriodDay.Bounds(now, nil)
	base := prefix + "freq:{0123456789abcdef}:"
	want := []struct {
		key, value string
		ttl        time.Duration
	}{
		{fmt.Sprintf("%sc:h:%d:c1", base, hourStart.Unix()), "1", hourEnd.Sub(now) + time.Minute},
		{fmt.Sprintf("%sa:d:%d:acme", base, dayStart.Unix()), "1", dayEnd.Sub(now) + time.Minute},
		{base + "c:l:c1", fmt.Sprintf("%d:1", now.Add(testLifetime).UnixMilli()), testLifetime},
	}
	for _, w := range want {
		v, err := c.Do(ctx, c.B().Get().Key(w.key).Build()).ToString()
		require.NoError(t, err, w.key)
		assert.Equal(t, w.value, v, w.key)
		ms, err := c.Do(ctx, c.B().Pttl().Key(w.key).Build()).AsInt64()
		require.NoError(t, err)
		ttl := time.Duration(ms) * time.Millisecond
		assert.LessOrEqual(t, ttl, w.ttl, w.key)
		assert.Greater(t, ttl, w.ttl-time.Minute, w.key) // what the test took, generously
	}
}

// TestFrequencyStoreRoundTrips counts the commands that reach Redis: one
// per Counts, one per Record, whatever the number of keys.
func TestFrequencyStoreRoundTrips(t *testing.T) {
	_, prefix := profileClient(t)
	proxy, pc := profileProxyClient(t)
	s := newTestFrequencyStore(t, pc, prefix)
	ctx := t.Context()
	var keys []campaign.CapKey
	for i := range 20 {
		keys = append(keys, campaign.CapKey{ID: fmt.Sprintf("c%d", i), Period: campaign.Period(1 + i%3)})
	}
	require.NoError(t, s.Record(ctx, "u1", keys, campaigntest.Base)) // loads the script
	evalsha := proxy.Count("EVALSHA")
	for i := range 3 {
		require.NoError(t, s.Record(ctx, "u1", keys, campaigntest.Base))
		got, err := s.Counts(ctx, "u1", keys, campaigntest.Base)
		require.NoError(t, err)
		assert.Equal(t, int64(i+2), got[19])
	}
	assert.Equal(t, 3, proxy.Count("MGET"), "one MGET per Counts")
	assert.Equal(t, evalsha+3, proxy.Count("EVALSHA"), "one EVALSHA per Record")
	assert.Zero(t, proxy.Count("INCR\r\n"), "no INCR outside the script")
}

// TestFrequencyStoreUnreachable calls a store whose Redis cannot be
// reached: each call fails by its ctx's deadline, so the bidder fails
// closed in time.
func TestFrequencyStoreUnreachable(t *testing.T) {
	_, prefix := profileClient(t)
	keys := []campaign.CapKey{{ID: "c1", Period: campaign.PeriodHour}}
	tests := []struct {
		name string
		fail func(*testProxy)
	}{
		{"closed port", (*testProxy).Close},
		{"server hangs", func(p *testProxy) { p.Blackhole() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy, pc := profileProxyClient(t)
			s := newTestFrequencyStore(t, pc, prefix)
			_, err := s.Counts(t.Context(), "u1", keys, campaigntest.Base)
			require.NoError(t, err)
			tt.fail(proxy)

			const timeout = 100 * time.Millisecond
			calls := map[string]func(context.Context) error{
				"Counts": func(ctx context.Context) error {
					got, err := s.Counts(ctx, "u1", keys, campaigntest.Base)
					assert.Nil(t, got)
					return err
				},
				"Record": func(ctx context.Context) error { return s.Record(ctx, "u1", keys, campaigntest.Base) },
			}
			for name, call := range calls {
				ctx, cancel := context.WithTimeout(t.Context(), timeout)
				start := time.Now()
				err := call(ctx)
				elapsed := time.Since(start)
				cancel()
				require.Error(t, err, name)
				assert.Less(t, elapsed, timeout+time.Second, name) // bounded by the deadline, generously on a loaded machine
				t.Logf("%s failed after %v: %v", name, elapsed, err)
			}
		})
	}
}

// TestFrequencyStoreClients runs the bidder's loop (Counts, decide,
// Record) on 3 goroutines, each with its own client and store, against one
// Redis (TestFrequencyProcesses does it in OS processes), for a few hot users over several hours: no user exceeds a cap by
// more than the processes less one in any period.
func TestFrequencyStoreClients(t *testing.T) {
	const (
		processes = 3
		users     = 4
		capMax    = 5
		auctions  = 120 // per process, 1 minute apart: 2 hours
	)
	_, prefix := profileClient(t)
	keys := []campaign.CapKey{{ID: "c1", Period: campaign.PeriodHour}}
	stores := make([]*FrequencyStore, processes)
	for i := range stores {
		stores[i] = newTestFrequencyStore(t, profileNewClient(t, redisAddr()), prefix)
	}
	start := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, processes)
	for _, s := range stores {
		wg.Go(func() {
			for i := range auctions {
				now := start.Add(time.Duration(i) * time.Minute)
				user := fmt.Sprintf("u%d", i%users)
				got, err := s.Counts(t.Context(), user, keys, now)
				if err == nil && got[0] < capMax {
					err = s.Record(t.Context(), user, keys, now)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	worst := int64(0)
	var seen []string
	for h := range 2 {
		for u := range users {
			got, err := stores[0].Counts(t.Context(), fmt.Sprintf("u%d", u), keys, start.Add(time.Duration(h)*time.Hour))
			require.NoError(t, err)
			assert.GreaterOrEqual(t, got[0], int64(capMax), "u%d hour %d reaches the cap", u, h)
			assert.LessOrEqual(t, got[0], int64(capMax+processes-1), "u%d hour %d", u, h)
			worst = max(worst, got[0]-capMax)
			seen = append(seen, fmt.Sprint(got[0]))
		}
	}
	t.Logf("%d clients, cap %d: counts per user and hour %s; worst excess %d (bound %d)",
		processes, capMax, strings.Join(seen, " "), worst, processes-1)
}
