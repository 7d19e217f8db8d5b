package sim_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gavelrtb/gavel/predict/sim"
	"github.com/stretchr/testify/require"
)

// smallConfig is a market small enough for the race detector: 80k
// training auctions in one day, 20k held out.
func smallConfig() sim.Config {
	cfg := sim.DefaultConfig()
	cfg.Training, cfg.TrainingDays, cfg.HeldOut = 80_000, 1, 20_000
	cfg.Sites, cfg.Users = 12, 2_000
	return cfg
}

// TestSimulatedMarket is TestSimulator's market, smaller, with looser
// bounds: it runs in the normal suite, under -race too.
func TestSimulatedMarket(t *testing.T) {
	cfg := smallConfig()
	rep, err := sim.Run(context.Background(), cfg)
	require.NoError(t, err)
	check(t, cfg, rep, bounds{auc: 0.06, calibration: 0.15, cpc: 0.2, cpa: 0.45, spend: 0.9, quarter: 0.1, cpmClicks: 1.15})
}

// Run is deterministic: one Config, one Report.
func TestSimulationDeterministic(t *testing.T) {
	cfg := smallConfig()
	cfg.Training, cfg.HeldOut, cfg.CompareFixedCPM = 4_000, 1_000, false
	a, err := sim.Run(context.Background(), cfg)
	require.NoError(t, err)
	b, err := sim.Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("%+v", a), fmt.Sprintf("%+v", b)) // NaNs of empty monitor buckets differ under ==
}

func TestConfigNamesEveryProblem(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Training, cfg.CPC, cfg.CPA, cfg.Bits, cfg.WarmUp = 0, 0, 0, 40, -1
	_, err := sim.Run(context.Background(), cfg)
	for _, want := range []string{"training 0", "0 CPC and 0 CPA", "bits 40", "warm-up"} {
		require.ErrorContains(t, err, want)
	}
}
