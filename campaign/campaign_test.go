package campaign_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateNamesEveryProblem(t *testing.T) {
	c := campaign.Campaign{
		ID:   "a.b",
		Goal: campaign.Goal{Kind: campaign.GoalCPC, Value: 0, FallbackCTR: 2},
		Creatives: []campaign.Creative{
			{ID: "x", MType: openrtb2.MarkupBanner, Markup: "<a href=\"" + campaign.ClickMacro + "\">"},
			{ID: "x", MType: openrtb2.MarkupVideo},
		},
		Flight:    campaign.Flight{Start: time.Unix(10, 0), End: time.Unix(5, 0)},
		Targeting: campaign.Targeting{Segments: []string{"s1", ""}},
	}
	err := c.Validate()
	require.Error(t, err)
	assert.True(t, errors.Is(err, gavel.ErrInvalidOption))
	for _, want := range []string{
		"id must be non-empty", "account must not be empty", "flight end", "bid cap",
		"goal value", "fallback ctr", "used twice", "needs a positive size",
		"click macro but no landing", "needs a positive duration", "has no markup",
		"targeting segments hold an empty value",
	} {
		assert.Contains(t, err.Error(), want)
	}
	require.NoError(t, validCampaign("c1").Validate())
}

func TestParseBidID(t *testing.T) {
	id := campaign.BidID{Campaign: "c1", Creative: "cr", User: campaign.NoUser, Nonce: "00000000000000ff"}
	got, err := campaign.ParseBidID(id.String())
	require.NoError(t, err)
	assert.Equal(t, id, got)
	for _, bad := range []string{"", "c1.cr", "c1.cr.123.00000000000000ff", "c1..0000000000000000.00000000000000ff", "c1.cr.zz00000000000000.00000000000000ff"} {
		_, err := campaign.ParseBidID(bad)
		assert.ErrorIs(t, err, campaign.ErrBidID, bad)
	}
}

func TestFlightActive(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	f := campaign.Flight{
		Start:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		End:      time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		Location: ny,
	}
	f.Hours[9] = true
	f.Weekdays[time.Monday] = true
	// Monday 5 January 2026, 09:30 in New York is 14:30 UTC.
	at := time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC)
	assert.True(t, f.Active(at))
	assert.False(t, f.Active(at.Add(time.Hour)), "10:30 local")
	assert.False(t, f.Active(at.Add(24*time.Hour)), "tuesday")
	assert.False(t, f.Active(at.AddDate(0, 1, 0)), "after end")
	assert.False(t, f.Active(at.AddDate(-1, 0, 0)), "before start")
	assert.True(t, campaign.Flight{}.Active(at))
}

func validCampaign(id string) *campaign.Campaign {
	return &campaign.Campaign{
		ID: id, Account: "acct-" + id, Advertiser: "adv",
		Goal:         campaign.Goal{Kind: campaign.GoalCPM, Value: 2_000_000},
		BidCapMicros: 5_000_000,
		Creatives: []campaign.Creative{{
			ID: "b1", MType: openrtb2.MarkupBanner, W: 300, H: 250,
			Markup: `<a href="` + campaign.ClickMacro + `">ad</a>`, Landing: "https://adv.example/",
			ADomain: []string{"adv.example"},
		}},
	}
}
