package campaigntest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/campaign"
)

// An Option configures TestFrequencyStore.
type Option func(*config)

type config struct {
	lifetime   time.Duration
	concurrent int
}

// WithLifetime tells the suite how long the stores' lifetime counts live
// (their lifetime TTL), so that it checks that they end then. Without it
// the suite checks only that they outlive days.
func WithLifetime(d time.Duration) Option { return func(c *config) { c.lifetime = d } }

// WithConcurrency sets how many goroutines the concurrent subtests run.
// Default 8.
func WithConcurrency(n int) Option { return func(c *config) { c.concurrent = n } }

// Base is the instant the suite's fake clock starts at: a Tuesday, 10:20
// UTC. The suite moves time by passing other instants to Counts and
// Record.
var Base = time.Date(2026, 3, 10, 10, 20, 0, 0, time.UTC)

// TestFrequencyStore runs the conformance suite of a campaign.FrequencyStore
// as subtests of t. newStore is called once per subtest and must return a
// store that shares no counts with the stores of other calls (for a remote
// store, a unique key prefix), starts hours and days on the UTC wall clock,
// and keeps lifetime counts for more than 3 days.
//
// The suite checks counts per key and period, period roll-over (hour,
// day, lifetime), late Records counted in their own period, many keys in one call, repeated keys, exact counts under
// concurrent Record, isolation between users, scopes, ids and periods,
// invalid keys, a done context, a simulated day of a bidder capping users,
// and that concurrent bidders exceed a cap by less than their number.
func TestFrequencyStore(t *testing.T, newStore func(t *testing.T) campaign.FrequencyStore, opts ...Option) {
	cfg := config{concurrent: 8}
	for _, o := range opts {
		o(&cfg)
	}
	tests := []struct {
		name string
		run  func(*testing.T, campaign.FrequencyStore, config)
	}{
		{"Empty", testEmpty},
		{"CountsPerKey", testCountsPerKey},
		{"HourRollOver", testHourRollOver},
		{"DayRollOver", testDayRollOver},
		{"LateRecord", testLateRecord},
		{"Lifetime", testLifetime},
		{"ManyKeys", testManyKeys},
		{"RepeatedKey", testRepeatedKey},
		{"Isolation", testIsolation},
		{"InvalidKey", testInvalidKey},
		{"ContextDone", testContextDone},
		{"ConcurrentRecord", testConcurrentRecord},
		{"ConcurrentBidders", testConcurrentBidders},
		{"SimulatedDay", testSimulatedDay},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t), cfg) })
	}
}

func hour(id string) campaign.CapKey {
	return campaign.CapKey{Scope: campaign.ScopeCampaign, ID: id, Period: campaign.PeriodHour}
}

func day(id string) campaign.CapKey {
	return campaign.CapKey{Scope: campaign.ScopeCampaign, ID: id, Period: campaign.PeriodDay}
}

func life(id string) campaign.CapKey {
	return campaign.CapKey{Scope: campaign.ScopeCampaign, ID: id, Period: campaign.PeriodLifetime}
}

func counts(t *testing.T, s campaign.FrequencyStore, user string, keys []campaign.CapKey, now time.Time) []int64 {
	t.Helper()
	got, err := s.Counts(t.Context(), user, keys, now)
	require.NoError(t, err)
	require.Len(t, got, len(keys))
	return got
}

func record(t *testing.T, s campaign.FrequencyStore, user string, keys []campaign.CapKey, now time.Time, times int) {
	t.Helper()
	for range times {
		require.NoError(t, s.Record(t.Context(), user, keys, now))
	}
}

func testEmpty(t *testing.T, s campaign.FrequencyStore, _ config) {
	keys := []campaign.CapKey{hour("c1"), day("c1"), life("c1")}
	assert.Equal(t, []int64{0, 0, 0}, counts(t, s, "u-none", keys, Base))
	got, err := s.Counts(t.Context(), "u-none", nil, Base)
	require.NoError(t, err)
	assert.Empty(t, got)
	require.NoError(t, s.Record(t.Context(), "u-none", nil, Base), "Record of no keys")
}

func testCountsPerKey(t *testing.T, s campaign.FrequencyStore, _ config) {
	keys := []campaign.CapKey{hour("c1"), day("c1"), life("c1")}
	record(t, s, "u1", keys, Base, 2)
	record(t, s, "u1", keys[1:], Base, 1)
	record(t, s, "u1", keys[2:], Base, 1)
	assert.Equal(t, []int64{2, 3, 4}, counts(t, s, "u1", keys, Base))
	assert.Equal(t, []int64{4, 3, 2}, counts(t, s, "u1", []campaign.CapKey{keys[2], keys[1], keys[0]}, Base), "counts in the keys' order")
}

func testHourRollOver(t *testing.T, s campaign.FrequencyStore, _ config) {
	keys := []campaign.CapKey{hour("c1"), day("c1")}
	start := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	record(t, s, "u1", keys, start, 1)
	record(t, s, "u1", keys, start.Add(time.Hour-time.Nanosecond), 2)
	assert.Equal(t, []int64{3, 3}, counts(t, s, "u1", keys, start.Add(30*time.Minute)), "same hour")
	assert.Equal(t, []int64{0, 3}, counts(t, s, "u1", keys, start.Add(time.Hour)), "next hour")
	record(t, s, "u1", keys, start.Add(time.Hour), 1)
	assert.Equal(t, []int64{1, 4}, counts(t, s, "u1", keys, start.Add(time.Hour+time.Minute)))
	assert.Equal(t, []int64{0, 4}, counts(t, s, "u1", keys, start.Add(2*time.Hour)))
}

func testDayRollOver(t *testing.T, s campaign.FrequencyStore, _ config) {
	keys := []campaign.CapKey{hour("c1"), day("c1"), life("c1")}
	midnight := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)
	record(t, s, "u1", keys, midnight.Add(-time.Second), 2)
	assert.Equal(t, []int64{2, 2, 2}, counts(t, s, "u1", keys, midnight.Add(-time.Nanosecond)), "same day")
	assert.Equal(t, []int64{0, 0, 2}, counts(t, s, "u1", keys, midnight), "next day")
	record(t, s, "u1", keys, midnight.Add(time.Minute), 1)
	assert.Equal(t, []int64{1, 1, 3}, counts(t, s, "u1", keys, midnight.Add(2*time.Minute)))
	assert.Equal(t, []int64{0, 0, 3}, counts(t, s, "u1", keys, midnight.Add(24*time.Hour)))
}

// testLateRecord records with a now in the previous hour after a Record
// in the current one, as a process whose clock lags does: each counts in
// its own hour.
func testLateRecord(t *testing.T, s campaign.FrequencyStore, _ config) {
	keys := []campaign.CapKey{hour("c1"), day("c1")}
	eleven := time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)
	record(t, s, "u1", keys, eleven.Add(-time.Second), 1)
	record(t, s, "u1", keys, eleven.Add(time.Second), 1)
	record(t, s, "u1", keys, eleven.Add(-time.Millisecond), 1)
	assert.Equal(t, []int64{2, 3}, counts(t, s, "u1", keys, eleven.Add(-time.Millisecond)), "the earlier hour")
	assert.Equal(t, []int64{1, 3}, counts(t, s, "u1", keys, eleven.Add(2*time.Second)), "the later hour")
}

func testLifetime(t *testing.T, s campaign.FrequencyStore, cfg config) {
	keys := []campaign.CapKey{life("c1")}
	record(t, s, "u1", keys, Base, 2)
	record(t, s, "u1", keys, Base.Add(49*time.Hour), 1)
	assert.Equal(t, []int64{3}, counts(t, s, "u1", keys, Base.Add(72*time.Hour)), "lifetime counts outlive days")
	if cfg.lifetime <= 0 {
		return
	}
	assert.Equal(t, []int64{0}, counts(t, s, "u1", keys, Base.Add(cfg.lifetime)), "lifetime count after its ttl")
	record(t, s, "u1", keys, Base.Add(cfg.lifetime), 1)
	assert.Equal(t, []int64{1}, counts(t, s, "u1", keys, Base.Add(cfg.lifetime+time.Second)), "a new lifetime count")
}

func testManyKeys(t *testing.T, s campaign.FrequencyStore, _ config) {
	var keys []campaign.CapKey
	for i := range 40 {
		id := fmt.Sprintf("c%d", i)
		keys = append(keys, hour(id), day(id), life(id),
			campaign.CapKey{Scope: campaign.ScopeAdvertiser, ID: id, Period: campaign.PeriodDay})
	}
	want := make([]int64, len(keys))
	for i := range keys {
		want[i] = int64(i%3 + 1)
		record(t, s, "u1", keys[i:i+1], Base, i%3)
	}
	record(t, s, "u1", keys, Base, 1)
	assert.Equal(t, want, counts(t, s, "u1", keys, Base))
}

func testRepeatedKey(t *testing.T, s campaign.FrequencyStore, _ config) {
	k := hour("c1")
	record(t, s, "u1", []campaign.CapKey{k, k, day("c1")}, Base, 1)
	assert.Equal(t, []int64{2, 2, 1}, counts(t, s, "u1", []campaign.CapKey{k, k, day("c1")}, Base))
}

func testIsolation(t *testing.T, s campaign.FrequencyStore, _ config) {
	keys := []campaign.CapKey{
		hour("x"), day("x"), life("x"),
		{Scope: campaign.ScopeAdvertiser, ID: "x", Period: campaign.PeriodHour},
		{Scope: campaign.ScopeAdvertiser, ID: "x", Period: campaign.PeriodDay},
		{Scope: campaign.ScopeAdvertiser, ID: "x", Period: campaign.PeriodLifetime},
		hour("y"), hour(""), hour("x:hour"),
	}
	want := make([]int64, len(keys))
	for i, k := range keys {
		want[i] = int64(i + 1)
		record(t, s, "u1", []campaign.CapKey{k}, Base, i+1)
	}
	record(t, s, "u2", keys[:1], Base, 1)
	assert.Equal(t, want, counts(t, s, "u1", keys, Base), "each scope, id and period its own count")
	wantU2 := make([]int64, len(keys))
	wantU2[0] = 1
	assert.Equal(t, wantU2, counts(t, s, "u2", keys, Base), "users share no counts")
	assert.Equal(t, make([]int64, len(keys)), counts(t, s, "u1x", keys, Base))
}

func testInvalidKey(t *testing.T, s campaign.FrequencyStore, _ config) {
	bad := []campaign.CapKey{hour("c1"), {ID: "c1"}, {Scope: 9, ID: "c1", Period: campaign.PeriodDay}}
	got, err := s.Counts(t.Context(), "u1", bad, Base)
	require.ErrorIs(t, err, campaign.ErrInvalidCap)
	assert.Nil(t, got, "no counts with an error")
	require.ErrorIs(t, s.Record(t.Context(), "u1", bad, Base), campaign.ErrInvalidCap)
	assert.Equal(t, []int64{0}, counts(t, s, "u1", bad[:1], Base), "an invalid key counts nothing")
}

func testContextDone(t *testing.T, s campaign.FrequencyStore, _ config) {
	keys := []campaign.CapKey{hour("c1"), day("c1")}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	got, err := s.Counts(ctx, "u1", keys, Base)
	require.ErrorIs(t, err, context.Canceled, "Counts")
	assert.Nil(t, got, "no counts with an error")
	require.ErrorIs(t, s.Record(ctx, "u1", keys, Base), context.Canceled, "Record")
	ctx, cancel = context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = s.Counts(ctx, "u1", keys, Base)
	require.ErrorIs(t, err, context.DeadlineExceeded, "Counts past its deadline")
	require.ErrorIs(t, s.Record(ctx, "u1", keys, Base), context.DeadlineExceeded, "Record past its deadline")
	assert.Equal(t, []int64{0, 0}, counts(t, s, "u1", keys, Base), "a Record with a done context counts nothing")
}

func testConcurrentRecord(t *testing.T, s campaign.FrequencyStore, cfg config) {
	const perGoroutine = 50
	keys := []campaign.CapKey{hour("c1"), day("c1"), life("adv")}
	var wg sync.WaitGroup
	errs := make(chan error, cfg.concurrent*(perGoroutine+perGoroutine/10))
	for g := range cfg.concurrent {
		wg.Go(func() {
			for i := range perGoroutine {
				// Every goroutine counts user "hot"; each also counts its own user.
				errs <- s.Record(t.Context(), "hot", keys, Base.Add(time.Duration(i)*time.Second))
				if i%10 == 0 {
					errs <- s.Record(t.Context(), fmt.Sprintf("own%d", g), keys[:1], Base)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	n := int64(cfg.concurrent * perGoroutine)
	assert.Equal(t, []int64{n, n, n}, counts(t, s, "hot", keys, Base.Add(time.Minute)))
	for g := range cfg.concurrent {
		assert.Equal(t, []int64{perGoroutine / 10}, counts(t, s, fmt.Sprintf("own%d", g), keys[:1], Base))
	}
}

// testConcurrentBidders runs bidders that each check the cap, then count
// an impression: Counts-then-Record is not atomic, so a user may exceed
// the cap, but by less than the number of bidders.
func testConcurrentBidders(t *testing.T, s campaign.FrequencyStore, cfg config) {
	const capMax = 5
	keys := []campaign.CapKey{hour("c1")}
	var wg sync.WaitGroup
	errs := make(chan error, cfg.concurrent)
	for range cfg.concurrent {
		wg.Go(func() {
			for range 3 * capMax {
				got, err := s.Counts(t.Context(), "u1", keys, Base)
				if err == nil && got[0] < capMax {
					err = s.Record(t.Context(), "u1", keys, Base)
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
	got := counts(t, s, "u1", keys, Base)[0]
	assert.GreaterOrEqual(t, got, int64(capMax))
	assert.LessOrEqual(t, got, int64(capMax+cfg.concurrent-1), "over the cap by at most bidders-1")
	t.Logf("%d bidders, cap %d: counted %d", cfg.concurrent, capMax, got)
}
