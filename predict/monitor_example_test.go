package predict_test

import (
	"fmt"
	"time"

	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/predict"
)

// printDrift is a DriftHook that prints.
type printDrift struct{}

func (printDrift) OnDrift(model string, d predict.Drift) {
	fmt.Printf("%s drifted: %s %.2f past %.2f\n", model, d.Kind, d.Value, d.Limit)
}

func ExampleMonitor() {
	clock := auctiontest.NewClock(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	m, err := predict.NewMonitor("ctr",
		predict.WithMonitorClock(clock),
		predict.WithMonitorWindow(10*time.Minute, 10),
		predict.WithMonitorHooks(printDrift{}),
		predict.WithMonitorCheckEvery(100),
		predict.WithDriftMinPositives(10),
	)
	if err != nil {
		panic(err)
	}
	// Clicks on 2% of impressions, predicted at 2%; negatives kept at
	// 10% and weighted 10.
	for i := range 10_000 {
		clicked := i%50 == 0
		if clicked || i%10 == 1 {
			weight := 10.0
			if clicked {
				weight = 1
			}
			m.Observe(0.02, clicked, weight)
		}
	}
	s := m.Snapshot()
	fmt.Printf("%d observations, base rate %.3f, calibration %.2f, NE %.2f, AUC %.2f\n",
		s.Observations, s.BaseRate, s.Calibration, s.NormalizedEntropy, s.AUC)
	m.SetBaseline(s) // as the model's snapshot is taken

	// The model starts predicting 4% for the same 2%.
	clock.Advance(10 * time.Minute)
	for i := range 10_000 {
		m.Observe(0.04, i%50 == 0, 1)
	}
	// Output:
	// 1200 observations, base rate 0.020, calibration 1.02, NE 1.00, AUC 0.50
	// ctr drifted: calibration 2.00 past 1.10
	// ctr drifted: entropy 1.06 past 1.05
}
