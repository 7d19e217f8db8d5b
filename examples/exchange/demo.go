package main

import (
	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
)

// demoBudgets are the daily budgets of the demo bidders' accounts (each
// bidder spends its own account), paced evenly over the day (UTC).
var demoBudgets = []gavel.Budget{
	{Account: "swift", Amount: 500_000_000, Period: gavel.DailyPeriod(nil, 0), Pacing: gavel.PacingEven},
	{Account: "premium", Amount: 2_000_000_000, Period: gavel.DailyPeriod(nil, 0), Pacing: gavel.PacingEven},
	{Account: "flaky", Amount: 100_000_000, Period: gavel.DailyPeriod(nil, 0), Pacing: gavel.PacingEven},
}

// demoAccounts lists the accounts of demoBudgets.
func demoAccounts() []string {
	names := make([]string, len(demoBudgets))
	for i, b := range demoBudgets {
		names[i] = b.Account
	}
	return names
}

// demoProfiles are the profiles of the demo users, keyed by user.id.
var demoProfiles = map[string]*gavel.Profile{
	"user-1": {UserID: "user-1", Keywords: []string{"sports", "travel"},
		Segments: []openrtb2.Data{{ID: "gavel-demo", Segment: []openrtb2.Segment{{ID: "sports-fans"}}}}},
	"user-2": {UserID: "user-2", Keywords: []string{"cooking"},
		Segments: []openrtb2.Data{{ID: "gavel-demo", Segment: []openrtb2.Segment{{ID: "home-cooks"}}}}},
	"user-3": {UserID: "user-3", Attributes: map[string]string{"tier": "gold"}},
}

// newProfiles returns a memory profile store holding demoProfiles.
func newProfiles() (*gavel.MemoryProfileStore, error) {
	s, err := gavel.NewMemoryProfileStore()
	if err != nil {
		return nil, err
	}
	for k, p := range demoProfiles {
		s.Put(k, p)
	}
	return s, nil
}
