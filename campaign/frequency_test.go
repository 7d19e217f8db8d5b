package campaign_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the locations of the Bounds tests

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
)

var testKeys = []campaign.CapKey{
	{Scope: campaign.ScopeCampaign, ID: "c1", Period: campaign.PeriodHour},
	{Scope: campaign.ScopeCampaign, ID: "c1", Period: campaign.PeriodDay},
	{Scope: campaign.ScopeAdvertiser, ID: "acme", Period: campaign.PeriodLifetime},
}

func TestPeriodBounds(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(t, err)
	tests := []struct {
		name       string
		p          campaign.Period
		t          time.Time
		loc        *time.Location
		start, end time.Time
	}{
		{"hour utc", campaign.PeriodHour, time.Date(2026, 3, 10, 10, 20, 30, 5, time.UTC), nil,
			time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)},
		{"day utc", campaign.PeriodDay, time.Date(2026, 3, 10, 23, 59, 59, 0, time.UTC), nil,
			time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)},
		{"hour on a half-hour offset", campaign.PeriodHour, time.Date(2026, 3, 10, 10, 20, 0, 0, time.UTC), kolkata,
			time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC), time.Date(2026, 3, 10, 10, 30, 0, 0, time.UTC)},
		{"repeated hour lasts 60 minutes", campaign.PeriodHour, time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), ny, // 01:30 EST, the second time
			time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC)},
		{"23-hour day", campaign.PeriodDay, time.Date(2026, 3, 8, 12, 0, 0, 0, ny), ny,
			time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC), time.Date(2026, 3, 9, 4, 0, 0, 0, time.UTC)},
		{"local day", campaign.PeriodDay, time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC), ny,
			time.Date(2026, 3, 9, 4, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 4, 0, 0, 0, time.UTC)},
		{"lifetime", campaign.PeriodLifetime, time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC), nil, time.Time{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end := tt.p.Bounds(tt.t, tt.loc)
			assert.True(t, tt.start.Equal(start), "start %v, want %v", start, tt.start)
			assert.True(t, tt.end.Equal(end), "end %v, want %v", end, tt.end)
		})
	}
}

func TestFrequencyCapValidate(t *testing.T) {
	require.NoError(t, campaign.FrequencyCap{Max: 1, Period: campaign.PeriodDay}.Validate())
	err := campaign.FrequencyCap{Scope: 7, Max: 0}.Validate()
	require.ErrorIs(t, err, campaign.ErrInvalidCap)
	for _, want := range []string{"unknown scope 7", "unknown period 0", "max must be positive, got 0"} {
		assert.ErrorContains(t, err, want)
	}
	c := campaign.FrequencyCap{Scope: campaign.ScopeAdvertiser, Max: 1, Period: campaign.PeriodHour}
	assert.Equal(t, campaign.CapKey{Scope: campaign.ScopeAdvertiser, ID: "acme", Period: campaign.PeriodHour}, c.Key("c1", "acme"))
	c.Scope = campaign.ScopeCampaign
	assert.Equal(t, campaign.CapKey{ID: "c1", Period: campaign.PeriodHour}, c.Key("c1", "acme"))
}

func TestNewMemoryFrequencyStoreOptions(t *testing.T) {
	_, err := campaign.NewMemoryFrequencyStore(campaign.WithFrequencyMaxUsers(0),
		campaign.WithFrequencyLocation(nil), campaign.WithFrequencyLifetime(-time.Second))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, want := range []string{"max users must be positive, got 0", "location must not be nil", "lifetime ttl must be positive, got -1s"} {
		assert.ErrorContains(t, err, want)
	}
}

func TestMemoryFrequencyStoreLocation(t *testing.T) {
	loc := time.FixedZone("UTC-5", -5*3600)
	s, err := campaign.NewMemoryFrequencyStore(campaign.WithFrequencyLocation(loc))
	require.NoError(t, err)
	ctx := context.Background()
	keys := testKeys[1:2] // a day
	require.NoError(t, s.Record(ctx, "u1", keys, time.Date(2026, 3, 10, 23, 30, 0, 0, loc)))
	got, err := s.Counts(ctx, "u1", keys, time.Date(2026, 3, 11, 4, 59, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Equal(t, []int64{1}, got, "still the local day")
	got, err = s.Counts(ctx, "u1", keys, time.Date(2026, 3, 11, 5, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Equal(t, []int64{0}, got, "the next local day")
}

func TestMemoryFrequencyStoreEvicts(t *testing.T) {
	const maxUsers = 8
	s, err := campaign.NewMemoryFrequencyStore(campaign.WithFrequencyMaxUsers(maxUsers))
	require.NoError(t, err)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	for i := range 100 {
		require.NoError(t, s.Record(ctx, fmt.Sprintf("u%d", i), testKeys, now))
	}
	st := s.Stats()
	assert.LessOrEqual(t, st.Users, maxUsers)
	assert.Equal(t, int64(100-st.Users), st.Evicted)
	got, err := s.Counts(ctx, "u99", testKeys, now)
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 1, 1}, got, "the most recent user is kept")
}

func TestMemoryFrequencyStoreExpires(t *testing.T) {
	s, err := campaign.NewMemoryFrequencyStore(campaign.WithFrequencyMaxUsers(64 * 10)) // 10 per shard
	require.NoError(t, err)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	for i := range 200 {
		require.NoError(t, s.Record(ctx, fmt.Sprintf("u%d", i), testKeys[:2], now))
	}
	require.Equal(t, 200, s.Stats().Users)
	later := now.Add(25 * time.Hour) // every hour and day count ended
	for i := range 400 {
		require.NoError(t, s.Record(ctx, fmt.Sprintf("v%d", i), testKeys[:1], later))
	}
	st := s.Stats()
	// Each Record removes up to two ended users of its shard; the shards
	// get 400 new users unevenly, so a few ended users may remain.
	assert.GreaterOrEqual(t, st.Expired, int64(180), "ended users removed")
	assert.Equal(t, int64(0), st.Evicted)
	assert.Equal(t, 600-int(st.Expired), st.Users)
}

func TestMemoryFrequencyStoreAllocs(t *testing.T) {
	s, err := campaign.NewMemoryFrequencyStore()
	require.NoError(t, err)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	require.NoError(t, s.Record(ctx, "u1", testKeys, now))
	dst := make([]int64, 0, len(testKeys))
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		dst, _ = s.AppendCounts(ctx, dst[:0], "u1", testKeys, now)
	}), "AppendCounts")
	assert.Equal(t, []int64{1, 1, 1}, dst)
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { _, _ = s.Counts(ctx, "u1", testKeys, now) }), 1.0, "Counts: its result at most")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = s.Record(ctx, "u1", testKeys, now) }), "Record of a known user")
}

// TestMemoryFrequencyStoreConcurrentEviction counts and records many users
// from several goroutines in a small store: it stays within its bound, and
// -race sees the shards' locking.
func TestMemoryFrequencyStoreConcurrentEviction(t *testing.T) {
	const maxUsers = 64
	s, err := campaign.NewMemoryFrequencyStore(campaign.WithFrequencyMaxUsers(maxUsers))
	require.NoError(t, err)
	now := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				user := fmt.Sprintf("u%d", (g*500+i)%300)
				at := now.Add(time.Duration(i) * time.Minute)
				if _, err := s.Counts(t.Context(), user, testKeys, at); err != nil {
					t.Error(err)
					return
				}
				if err := s.Record(t.Context(), user, testKeys, at); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	assert.LessOrEqual(t, st.Users, maxUsers)
	assert.Positive(t, st.Evicted)
	t.Logf("%+v", st)
}
