package campaign_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/campaign"
)

func TestMemoryFrequencyStoreCounts(t *testing.T) {
	s, err := campaign.NewMemoryFrequencyStore()
	require.NoError(t, err)
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)
	keys := []campaign.CapKey{
		{Scope: campaign.ScopeCampaign, ID: "c1", Period: campaign.PeriodHour},
		{Scope: campaign.ScopeAdvertiser, ID: "acme", Period: campaign.PeriodDay},
	}
	require.NoError(t, s.Record(ctx, "u1", keys, now))
	require.NoError(t, s.Record(ctx, "u1", keys, now))
	got, err := s.Counts(ctx, "u1", keys, now)
	require.NoError(t, err)
	require.Equal(t, []int64{2, 2}, got)
	got, err = s.Counts(ctx, "u1", keys, now.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, []int64{0, 2}, got)
}
