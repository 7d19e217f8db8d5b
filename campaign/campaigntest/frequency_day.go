package campaigntest

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/campaign"
)

// dayCampaign is a campaign of the simulated day: its id, advertiser and
// caps.
type dayCampaign struct {
	id, advertiser string
	caps           []campaign.FrequencyCap
}

func (c dayCampaign) keys() []campaign.CapKey {
	keys := make([]campaign.CapKey, len(c.caps))
	for i, fc := range c.caps {
		keys[i] = fc.Key(c.id, c.advertiser)
	}
	return keys
}

var dayCampaigns = []dayCampaign{
	{"c1", "acme", []campaign.FrequencyCap{
		{Max: 2, Period: campaign.PeriodHour}, {Max: 6, Period: campaign.PeriodDay},
		{Scope: campaign.ScopeAdvertiser, Max: 8, Period: campaign.PeriodDay}}},
	{"c2", "acme", []campaign.FrequencyCap{
		{Max: 3, Period: campaign.PeriodHour}, {Max: 20, Period: campaign.PeriodLifetime},
		{Scope: campaign.ScopeAdvertiser, Max: 8, Period: campaign.PeriodDay}}},
	{"c3", "other", []campaign.FrequencyCap{{Max: 4, Period: campaign.PeriodDay}}},
}

// model is what the store must count: per user, key and period start.
type model map[modelKey]int64

type modelKey struct {
	user  string
	key   campaign.CapKey
	start time.Time
}

func (m model) at(user string, k campaign.CapKey, now time.Time) modelKey {
	start, _ := k.Period.Bounds(now, time.UTC)
	return modelKey{user, k, start}
}

// testSimulatedDay runs a bidder over a day of a fake clock: for each
// auction it reads the user's counts for every campaign in one call, bids
// with the first campaign under all its caps, and records the impression
// when it is billed. The store must count exactly as a model does, and no
// user may exceed a cap.
func testSimulatedDay(t *testing.T, s campaign.FrequencyStore, _ config) {
	rng := rand.New(rand.NewPCG(10, 1))
	var all []campaign.CapKey
	for _, c := range dayCampaigns {
		all = append(all, c.keys()...)
	}
	m := model{}
	midnight := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	capped, billed := 0, 0
	for now := midnight; now.Before(midnight.Add(24 * time.Hour)); now = now.Add(time.Duration(rng.IntN(240)) * time.Second) {
		user := "user" + string(rune('a'+rng.IntN(12)))
		got := counts(t, s, user, all, now)
		for i, k := range all {
			require.Equal(t, m[m.at(user, k, now)], got[i], "%s at %v: count of %s", user, now, k)
		}
		c, ok := pick(got)
		if !ok {
			capped++
			continue
		}
		if rng.IntN(10) < 2 { // lost, or won and never billed
			continue
		}
		billed++
		keys := c.keys()
		record(t, s, user, keys, now, 1)
		for i, k := range keys {
			mk := m.at(user, k, now)
			m[mk]++
			require.LessOrEqual(t, m[mk], c.caps[i].Max, "%s at %v: %s above its cap", user, now, k)
		}
	}
	require.Positive(t, capped, "some auctions found every campaign capped")
	t.Logf("simulated day: %d impressions billed, %d auctions capped", billed, capped)
}

// pick returns the first campaign whose counts, in the order of its
// caps within counts of all campaigns, are all under their caps.
func pick(counts []int64) (dayCampaign, bool) {
	i := 0
	for _, c := range dayCampaigns {
		under := true
		for _, fc := range c.caps {
			under = under && counts[i] < fc.Max
			i++
		}
		if under {
			return c, true
		}
	}
	return dayCampaign{}, false
}
