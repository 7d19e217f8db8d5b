package sim_test

import (
	"math"
	"testing"

	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/predict/sim"
	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// bounds are what a simulation must reach on its held-out day.
type bounds struct {
	auc         float64 // click model AUC at most this far below the truth's
	calibration float64 // predicted over true clicks within 1 ± this
	cpc, cpa    float64 // cost per click (action) within target × (1 ± this)
	spend       float64 // at least this share of each budget spent
	quarter     float64 // each quarter's spend within a quarter of the spend ± this share
	cpmClicks   float64 // clicks per spend over the fixed-CPM run's, at least
}

// check asserts b on rep's held-out day and logs what it measured.
func check(t *testing.T, cfg sim.Config, rep *sim.Report, b bounds) {
	t.Helper()
	for i, d := range rep.Training {
		t.Logf("training day %d: %v", i+1, d)
	}
	t.Logf("held out: %v", rep.HeldOut)
	t.Logf("fixed CPM: %v", rep.FixedCPM)
	t.Logf("learner %+v; feedback %+v", rep.Learner, rep.Feedback)
	ctr, cvr := rep.CTRMonitor, rep.CVRMonitor
	t.Logf("monitors at the end of training: ctr NE %.4f calibration %.4f AUC %.4f; cvr NE %.4f calibration %.4f AUC %.4f",
		ctr.NormalizedEntropy, ctr.Calibration, ctr.AUC, cvr.NormalizedEntropy, cvr.Calibration, cvr.AUC)

	h := rep.HeldOut
	assert.InDelta(t, h.AUCTruth, h.AUCModel, b.auc, "click model AUC against the truth's")
	assert.InDelta(t, 1, h.Calibration, b.calibration, "click model calibration")
	var worstCPC, worstCPA, minSpend, worstQuarter float64 = 1, 1, 1, 0
	for _, c := range h.Campaigns {
		switch c.Goal {
		case campaign.GoalCPC:
			r := c.CostPerClick() / float64(cfg.TargetCPCMicros)
			assert.InDelta(t, 1, r, b.cpc, "%s: cost per click over target", c.ID)
			worstCPC = worst(worstCPC, r)
		case campaign.GoalCPA:
			r := c.CostPerAction() / float64(cfg.TargetCPAMicros)
			assert.InDelta(t, 1, r, b.cpa, "%s: cost per action over target", c.ID)
			worstCPA = worst(worstCPA, r)
		}
		assert.GreaterOrEqual(t, c.SpendShare(), b.spend, "%s: share of the budget spent", c.ID)
		assert.LessOrEqual(t, c.MaxQuarterDeviation(), b.quarter, "%s: spend by quarter of the day", c.ID)
		minSpend = min(minSpend, c.SpendShare())
		worstQuarter = max(worstQuarter, c.MaxQuarterDeviation())
	}
	for _, c := range rep.FixedCPM.Campaigns {
		assert.GreaterOrEqual(t, c.SpendShare(), b.spend, "%s at a fixed CPM: share of the budget spent", c.ID)
	}
	clicks, spent := h.Clicks()
	cpmClicks, cpmSpent := rep.FixedCPM.Clicks()
	ratio := (clicks / float64(spent)) / (cpmClicks / float64(cpmSpent))
	assert.GreaterOrEqual(t, ratio, b.cpmClicks, "clicks per spend over the fixed-CPM campaigns'")
	t.Logf("RESULT: click AUC %.4f (truth %.4f), calibration %.4f; worst eCPC/target %.3f, worst eCPA/target %.3f; "+
		"least spend %.1f%%, worst quarter off by %.1f%%; clicks per spend %.3f× the fixed CPM's (%.0f vs %.0f clicks, spend %.2f vs %.2f)",
		h.AUCModel, h.AUCTruth, h.Calibration, worstCPC, worstCPA, 100*minSpend, 100*worstQuarter, ratio,
		clicks, cpmClicks, float64(spent)/1e6, float64(cpmSpent)/1e6)
}

// worst returns whichever of a ratio and b is further from 1.
func worst(a, b float64) float64 {
	if math.Abs(b-1) > math.Abs(a-1) {
		return b
	}
	return a
}
