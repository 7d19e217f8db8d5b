package campaign_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gavelrtb/gavel/campaign"
)

// A campaign capped at 2 impressions per user per hour and 3 per day: the
// bidder reads the counts of a user's caps before bidding, and records an
// impression when it is billed.
func ExampleNewMemoryFrequencyStore() {
	store, err := campaign.NewMemoryFrequencyStore(campaign.WithFrequencyMaxUsers(100_000))
	if err != nil {
		panic(err)
	}
	caps := []campaign.FrequencyCap{
		{Max: 2, Period: campaign.PeriodHour},
		{Max: 3, Period: campaign.PeriodDay},
	}
	keys := make([]campaign.CapKey, len(caps))
	for i, c := range caps {
		keys[i] = c.Key("spring-sale", "acme")
	}
	ctx := context.Background()
	const user = "9f86d081884c7d65" // the hash of the user's id, not the id
	start := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	for _, at := range []time.Duration{0, 10 * time.Minute, 20 * time.Minute, 70 * time.Minute, 80 * time.Minute} {
		now := start.Add(at)
		counts, err := store.Counts(ctx, user, keys, now)
		if err != nil {
			fmt.Println("skip: no counts:", err) // fail closed
			continue
		}
		capped := false
		for i, c := range caps {
			capped = capped || counts[i] >= c.Max
		}
		fmt.Printf("%s counts %v capped %v\n", now.Format("15:04"), counts, capped)
		if !capped { // won and billed
			if err := store.Record(ctx, user, keys, now); err != nil {
				fmt.Println("record:", err)
			}
		}
	}
	// Output:
	// 10:00 counts [0 0] capped false
	// 10:10 counts [1 1] capped false
	// 10:20 counts [2 2] capped true
	// 11:10 counts [0 2] capped false
	// 11:20 counts [1 3] capped true
}
