package campaign_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/campaign/campaigntest"
)

func TestMemoryFrequencyStoreConformance(t *testing.T) {
	campaigntest.TestFrequencyStore(t, func(t *testing.T) campaign.FrequencyStore {
		s, err := campaign.NewMemoryFrequencyStore(campaign.WithFrequencyLifetime(7 * 24 * time.Hour))
		require.NoError(t, err)
		return s
	}, campaigntest.WithLifetime(7*24*time.Hour))
}
