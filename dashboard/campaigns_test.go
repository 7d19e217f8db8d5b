package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// campaignOf names the campaign of a bid of the bidder "house" whose id
// starts with it, as package campaign's bid ids do.
func campaignOf(b gavel.Billing) string {
	if b.Bidder != "house" {
		return ""
	}
	id, _, _ := strings.Cut(b.BidID, ".")
	return id
}

func billing(bidder, bidID, account string) gavel.Billing {
	return gavel.Billing{AuctionID: "a", ImpID: "1", Bidder: bidder, Seat: account, BidID: bidID,
		Hold: gavel.Hold{Account: account, ID: 1, Amount: 2000}}
}

// campaignTraffic is two seconds of billings, clicks and conversions.
func campaignTraffic(d *Dashboard) {
	for range 4 {
		d.Billed(billing("house", "spring.banner.0123456789abcdef.0123456789abcdef", "acme"), 1800)
	}
	d.Billed(billing("house", "autos.video.0123456789abcdef.0123456789abcdef", "autos"), 3000)
	d.Billed(billing("swift", "swift-1", "swift"), 900)
	d.Clicked(gavel.Event{Type: gavel.EventClick, Campaign: "spring", Account: "acme"})
	d.Converted(gavel.Event{Type: gavel.EventConversion, Campaign: "spring", Account: "acme"})
	d.Clicked(gavel.Event{Type: gavel.EventClick}) // no campaign: ignored
}

func TestCampaignCounters(t *testing.T) {
	clk := auctiontest.NewClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	d := newDashboard(t, WithClock(clk), WithCampaignOf(campaignOf))
	ledger, err := gavel.NewMemoryLedger()
	require.NoError(t, err)
	require.NoError(t, ledger.SetBudget(context.Background(), gavel.Budget{Account: "acme", Amount: 100_000_000}))
	require.NoError(t, d.WatchLedger(ledger, "acme"))
	require.NoError(t, d.WatchPacer(fixedPacer{rate: 0.5, target: 1_000_000}, "acme"))
	r := newReadings()
	at := time.Unix(1000, 0)
	d.build(context.Background(), r, at)

	campaignTraffic(d)
	clk.Advance(2 * time.Second)
	f := d.build(context.Background(), r, at.Add(2*time.Second))

	require.Len(t, f.Campaigns, 2)
	spring, autos := f.Campaigns[0], f.Campaigns[1]
	rate, budget := 0.5, &balanceFrame{Budget: 100_000_000, Remaining: 100_000_000}
	assert.Equal(t, campaignFrame{Name: "spring", Account: "acme", Impressions: 4, Spend: 7200, Clicks: 1, Conversions: 1,
		CTR: 0.25, ImpRate: 2, SpendRate: 3600, Pacing: &rate, Balance: budget}, spring)
	assert.Equal(t, campaignFrame{Name: "autos", Account: "autos", Impressions: 1, Spend: 3000, ImpRate: 0.5, SpendRate: 1500}, autos,
		"no pacer or ledger watched for its account")

	accounts := map[string]accountFrame{}
	for _, a := range f.Accounts {
		accounts[a.Name] = a
	}
	assert.Equal(t, 2.0, accounts["acme"].Billed)
	assert.Equal(t, int64(3600), accounts["acme"].BilledSpend)
	assert.Equal(t, 0.5, accounts["swift"].Billed, "every bidder's billings count per account")
	assert.Equal(t, int64(450), accounts["swift"].BilledSpend)

	// Totals stay, rates fall to 0.
	d.Clicked(gavel.Event{Campaign: "spring", Account: "acme"})
	f = d.build(context.Background(), r, at.Add(3*time.Second))
	assert.Equal(t, int64(4), f.Campaigns[0].Impressions)
	assert.Equal(t, int64(2), f.Campaigns[0].Clicks)
	assert.Equal(t, 0.5, f.Campaigns[0].CTR)
	assert.Equal(t, 0.0, f.Campaigns[0].ImpRate)
	assert.Equal(t, int64(0), f.Campaigns[0].SpendRate)
}

// Without WithCampaignOf, billings count per account only; clicks and
// conversions still count per campaign.
func TestCampaignsWithoutCampaignOf(t *testing.T) {
	d := newDashboard(t)
	campaignTraffic(d)
	f := d.build(context.Background(), newReadings(), time.Now())
	require.Len(t, f.Campaigns, 1)
	assert.Equal(t, campaignFrame{Name: "spring", Account: "acme", Clicks: 1, Conversions: 1}, f.Campaigns[0])
}

func TestCampaignFrameJSON(t *testing.T) {
	d := newDashboard(t, WithCampaignOf(campaignOf))
	require.NoError(t, d.WatchPacer(fixedPacer{rate: 0.25}, "acme"))
	r := newReadings()
	at := time.Unix(1000, 0)
	d.build(context.Background(), r, at)
	campaignTraffic(d)
	b, err := json.Marshal(d.build(context.Background(), r, at.Add(time.Second)))
	require.NoError(t, err)
	var got struct {
		Campaigns []json.RawMessage `json:"campaigns"`
	}
	require.NoError(t, json.Unmarshal(b, &got))
	require.Len(t, got.Campaigns, 2)
	assert.JSONEq(t, `{"name":"spring","account":"acme","impressions":4,"spend":7200,"clicks":1,"conversions":1,
		"ctr":0.25,"impRate":4,"spendRate":7200,"pacing":0.25}`, string(got.Campaigns[0]))
	assert.JSONEq(t, `{"name":"autos","account":"autos","impressions":1,"spend":3000,"clicks":0,"conversions":0,
		"ctr":0,"impRate":1,"spendRate":3000}`, string(got.Campaigns[1]))

	empty := newDashboard(t)
	b, err = json.Marshal(empty.build(context.Background(), newReadings(), time.Now()))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"campaigns":null`, "the page reads a missing list as empty")
}

func TestCampaignsBounded(t *testing.T) {
	d := newDashboard(t, WithMaxCampaigns(3), WithCampaignOf(campaignOf))
	for i := range 1000 {
		id := fmt.Sprintf("c%d", i)
		d.Billed(billing("house", id+".cr.0123456789abcdef.0123456789abcdef", "acme"), 1)
		d.Clicked(gavel.Event{Campaign: id, Account: "acme"})
	}
	assert.Len(t, *d.campaigns.m.Load(), 3)
	f := d.build(context.Background(), newReadings(), time.Now())
	require.Len(t, f.Campaigns, 4)
	other := f.Campaigns[3]
	assert.Equal(t, "(other)", other.Name)
	assert.Equal(t, "", other.Account)
	assert.Equal(t, int64(997), other.Impressions)
	assert.Equal(t, int64(997), other.Clicks)
}

// TestCampaignHooksDoNotAllocate: once a campaign and its account have
// been seen, Billed, Clicked and Converted do not allocate.
func TestCampaignHooksDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	d := newDashboard(t, WithCampaignOf(campaignOf))
	house := billing("house", "spring.banner.0123456789abcdef.0123456789abcdef", "acme")
	other := billing("swift", "swift-1", "swift")
	click := gavel.Event{Type: gavel.EventClick, Campaign: "spring", Account: "acme"}
	conv := gavel.Event{Type: gavel.EventConversion, Campaign: "spring", Account: "acme"}
	calls := map[string]func(){
		"Billed/campaign": func() { d.Billed(house, 1800) },
		"Billed/other":    func() { d.Billed(other, 900) },
		"Clicked":         func() { d.Clicked(click) },
		"Converted":       func() { d.Converted(conv) },
	}
	for name, call := range calls {
		call() // warm
		assert.Zero(t, testing.AllocsPerRun(1000, call), name)
	}
}
