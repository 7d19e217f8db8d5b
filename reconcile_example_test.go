package gavel_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gavelrtb/gavel"
)

// Committed spend rebuilt from the billing events a JSONLinesSink wrote,
// after the ledger lost it: the events are summed per account and period,
// and the current period's spend is restored into a ledger whose budgets
// are set again. The line written twice (a sink's retry) counts once.
func ExampleReconcile() {
	ctx := context.Background()
	budgets := []gavel.Budget{
		{Account: "acme", Amount: 50_000_000, Period: gavel.DailyPeriod(nil, 0)}, // 50.00 a day, UTC
		{Account: "beta", Amount: 9_000_000},                                     // 9.00 in all
	}
	events := `{"v":1,"type":"auction","ts":1772445600000,"auction_id":"a1","cur":"USD","imps":1,"winners":1}
{"v":1,"type":"billing","ts":1772445600100,"auction_id":"a1","imp_id":"1","bidder":"acme","seat":"acme","bid_id":"x","account":"acme","cur":"USD","clear_micros":2010000,"cost_micros":2010}
{"v":1,"type":"billing","ts":1772445600100,"auction_id":"a1","imp_id":"1","bidder":"acme","seat":"acme","bid_id":"x","account":"acme","cur":"USD","clear_micros":2010000,"cost_micros":2010}
{"v":1,"type":"billing","ts":1772445601000,"auction_id":"a2","imp_id":"1","bidder":"beta","seat":"beta","bid_id":"y","account":"beta","cur":"USD","clear_micros":3000000,"cost_micros":3000}
{"v":1,"type":"billing","ts":1772532000000,"auction_id":"a3","imp_id":"1","bidder":"acme","seat":"acme","bid_id":"z","account":"acme","cur":"USD","clear_micros":1500000,"cost_micros":1500}
`
	sum, err := gavel.NewSpendSummer(budgets...)
	if err != nil {
		panic(err)
	}
	if err := sum.ReadJSONLines(strings.NewReader(events)); err != nil {
		panic(err)
	}
	for _, sp := range sum.Periods() {
		fmt.Printf("%s from %s: %s in %d events\n", sp.Account, period(sp.PeriodStart), gavel.FormatMicros(sp.Committed), sp.Events)
	}
	st := sum.Stats()
	fmt.Printf("billed %d, duplicates %d, other %d, malformed %d\n", st.Billed, st.Duplicates, st.Other, st.Malformed)

	// A fresh ledger (in real life, the Redis ledger after a restart):
	// the budgets first, then the spend of the period that holds now.
	ledger, err := gavel.NewMemoryLedger()
	if err != nil {
		panic(err)
	}
	for _, b := range budgets {
		if err := ledger.SetBudget(ctx, b); err != nil {
			panic(err)
		}
	}
	now := time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC) // in real life, time.Now()
	if err := gavel.Reconcile(ctx, sum.Current(now), ledger); err != nil {
		panic(err)
	}
	b, err := ledger.Balance(ctx, "beta")
	if err != nil {
		panic(err)
	}
	fmt.Println("beta committed:", gavel.FormatMicros(b.Committed))
	// Output:
	// acme from Mar 2: 0.00201 in 1 events
	// acme from Mar 3: 0.0015 in 1 events
	// beta from all time: 0.003 in 1 events
	// billed 3, duplicates 1, other 1, malformed 0
	// beta committed: 0.003
}

func period(start time.Time) string {
	if start.IsZero() {
		return "all time"
	}
	return start.Format("Jan 2")
}
