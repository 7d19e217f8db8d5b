//go:build !race

package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/gavelrtb/gavel/predict/sim"
	"github.com/stretchr/testify/require"
)

// TestSimulator is the check at full size: 1M training auctions
// over four days, then a held-out day of 250k, and the same day with
// fixed CPMs. It takes about a minute, too long under the race detector
// (TestSimulatedMarket is its small twin); CI runs it with
//
//	go test -count=1 -run TestSimulator ./predict/...
func TestSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("1.5M auctions: run without -short")
	}
	cfg := sim.DefaultConfig()
	start := time.Now()
	rep, err := sim.Run(context.Background(), cfg)
	require.NoError(t, err)
	t.Logf("%d auctions in %v", cfg.Training+2*cfg.HeldOut, time.Since(start).Round(time.Second))
	check(t, cfg, rep, bounds{auc: 0.02, calibration: 0.05, cpc: 0.10, cpa: 0.15, spend: 0.95, quarter: 0.05, cpmClicks: 1.2})
}
