package sim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/predict"
)

// Report is what a simulation measured.
type Report struct {
	// Training, HeldOut and FixedCPM (with Config.CompareFixedCPM) are the
	// days' outcomes.
	Training          []DayReport
	HeldOut, FixedCPM DayReport
	// Learner, Feedback and the Monitors' stats at the end of training.
	Learner                predict.LearnerStats
	Feedback               predict.FeedbackStats
	CTRMonitor, CVRMonitor predict.MonitorStats
}

// DayReport is one day's outcome.
type DayReport struct {
	Start    time.Time
	Auctions int // auctions run
	Sold     int // auctions with a winner, the house's or a competitor's
	// Campaigns are the house campaigns' outcomes, in World order.
	Campaigns []CampaignReport
	// Over the house's won impressions: the area under the ROC curve of
	// the click model's predictions and of the true CTRs against the
	// clicks drawn; the click model's calibration, the sum of its
	// predictions over the sum of the true CTRs. The same over the clicks
	// for the conversion model.
	AUCModel, AUCTruth       float64
	Calibration              float64
	CVRAUCModel, CVRAUCTruth float64
	CVRCalibration           float64
}

// CampaignReport is one house campaign's outcome over a day. Money is in
// micros.
type CampaignReport struct {
	ID            string
	Goal          campaign.GoalKind
	Budget, Spent int64
	// SpentByQuarter is the spend of each quarter of the day (6 hours),
	// which even pacing keeps near a quarter of the budget each.
	SpentByQuarter       [4]int64
	Impressions          int64
	Clicks, Conversions  int64   // drawn from the truth
	ExpectedClicks       float64 // the sum of the true CTRs of its impressions
	ExpectedConversions  float64 // the sum of the true CTR × CVR
	PredictedClicks      float64 // the sum of the predicted CTRs
	PredictedConversions float64 // the sum of the predicted CTR × CVR
}

// SpendShare is the share of the budget spent.
func (c CampaignReport) SpendShare() float64 { return float64(c.Spent) / float64(c.Budget) }

// MaxQuarterDeviation is the largest difference between a quarter's
// spend and a quarter of the spend, as a share of the spend: 0 for
// perfectly even spend.
func (c CampaignReport) MaxQuarterDeviation() float64 {
	var dev float64
	for _, q := range c.SpentByQuarter {
		dev = max(dev, math.Abs(float64(q)-float64(c.Spent)/4))
	}
	return dev / float64(c.Spent)
}

// CPMMicros is the price paid per mille impressions, micros.
func (c CampaignReport) CPMMicros() int64 {
	if c.Impressions == 0 {
		return 0
	}
	return c.Spent * 1000 / c.Impressions
}

// CostPerClick is the spend over the expected clicks, micros: the
// effective cost per click without the noise of the draw.
func (c CampaignReport) CostPerClick() float64 { return float64(c.Spent) / c.ExpectedClicks }

// CostPerAction is the spend over the expected conversions, micros.
func (c CampaignReport) CostPerAction() float64 { return float64(c.Spent) / c.ExpectedConversions }

// String is one line of a table of campaigns.
func (c CampaignReport) String() string {
	return fmt.Sprintf("%-6s %s spent %6.1f%% of %9.2f (quarters off by %4.1f%%)  imps %7d  clicks %6d (exp %8.1f pred %8.1f)  conv %5d (exp %7.1f pred %7.1f)  eCPC %.3f eCPA %.3f  CPM %.3f",
		c.ID, c.Goal, 100*c.SpendShare(), float64(c.Budget)/1e6, 100*c.MaxQuarterDeviation(), c.Impressions, c.Clicks, c.ExpectedClicks, c.PredictedClicks,
		c.Conversions, c.ExpectedConversions, c.PredictedConversions, c.CostPerClick()/1e6, c.CostPerAction()/1e6, float64(c.CPMMicros())/1e6)
}

// String is the day as a table.
func (d DayReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d auctions, %d sold; click model AUC %.4f (truth %.4f) calibration %.4f; conversion model AUC %.4f (truth %.4f) calibration %.4f\n",
		d.Auctions, d.Sold, d.AUCModel, d.AUCTruth, d.Calibration, d.CVRAUCModel, d.CVRAUCTruth, d.CVRCalibration)
	for _, c := range d.Campaigns {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Clicks sums the campaigns' expected clicks and spend.
func (d DayReport) Clicks() (expected float64, spent int64) {
	for _, c := range d.Campaigns {
		expected += c.ExpectedClicks
		spent += c.Spent
	}
	return expected, spent
}

// evalSet collects the predictions and truths of a day's won impressions
// and clicks.
type evalSet struct {
	ctr, ctrTrue []float64
	clicked      []bool
	cvr, cvrTrue []float64
	converted    []bool
}

func (e *evalSet) add(p, truth float64, clicked bool) {
	e.ctr, e.ctrTrue, e.clicked = append(e.ctr, p), append(e.ctrTrue, truth), append(e.clicked, clicked)
}

func (e *evalSet) addClick(p, truth float64, converted bool) {
	e.cvr, e.cvrTrue, e.converted = append(e.cvr, p), append(e.cvrTrue, truth), append(e.converted, converted)
}

func (e *evalSet) finish(d *DayReport) {
	d.AUCModel, d.AUCTruth = AUC(e.ctr, e.clicked), AUC(e.ctrTrue, e.clicked)
	d.Calibration = sum(e.ctr) / sum(e.ctrTrue)
	d.CVRAUCModel, d.CVRAUCTruth = AUC(e.cvr, e.converted), AUC(e.cvrTrue, e.converted)
	d.CVRCalibration = sum(e.cvr) / sum(e.cvrTrue)
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// AUC is the area under the ROC curve of scores against labels, ties
// counted half; NaN without both a positive and a negative.
func AUC(scores []float64, labels []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	var pos, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // the mean rank of the tie, from 1
		for _, k := range idx[i:j] {
			if labels[k] {
				pos++
				rankSum += mid
			}
		}
		i = j
	}
	neg := float64(len(scores)) - pos
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}
