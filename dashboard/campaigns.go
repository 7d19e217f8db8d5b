package dashboard

import (
	"math"
	"sync/atomic"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/gavelhttp"
)

var _ gavelhttp.BilledHook = (*Dashboard)(nil)

// campaignCounters count one campaign's billed impressions, spend, clicks
// and conversions since the Dashboard was made.
type campaignCounters struct {
	account                          atomic.Pointer[string] // the first account seen with it
	imps, spendMicros, clicks, convs atomic.Int64
}

// setAccount keeps account as the campaign's when it has none yet; it
// allocates only then.
func (c *campaignCounters) setAccount(account string) {
	if account == "" || c.account.Load() != nil {
		return
	}
	a := account
	c.account.CompareAndSwap(nil, &a)
}

// Billed implements gavelhttp.BilledHook: register the Dashboard with
// gavelhttp.WithNoticesHooks. It counts the billed impression and its cost
// (micros) against the hold's account and, with WithCampaignOf, against
// the impression's campaign.
func (d *Dashboard) Billed(b gavel.Billing, costMicros int64) {
	var a *accountCounters
	if b.Hold.Account != "" {
		a = d.accounts.get(b.Hold.Account)
	} else {
		a = d.accounts.getOther()
	}
	a.billed.Add(1)
	a.billedMicros.Add(costMicros)
	if d.cfg.campaignOf == nil {
		return
	}
	name := d.cfg.campaignOf(b)
	if name == "" {
		return
	}
	c := d.campaigns.get(name)
	c.setAccount(b.Hold.Account)
	c.imps.Add(1)
	c.spendMicros.Add(costMicros)
}

// Clicked counts a click on an ad of the event's campaign (e.Campaign,
// e.Account). It has the shape of campaign.ClickHook: register the
// Dashboard with campaign.WithTrackerHooks. An event without a campaign is
// ignored.
func (d *Dashboard) Clicked(e gavel.Event) {
	if e.Campaign == "" {
		return
	}
	c := d.campaigns.get(e.Campaign)
	c.setAccount(e.Account)
	c.clicks.Add(1)
}

// Converted counts a conversion of the event's campaign, as Clicked counts
// a click. It has the shape of campaign.ConversionHook.
func (d *Dashboard) Converted(e gavel.Event) {
	if e.Campaign == "" {
		return
	}
	c := d.campaigns.get(e.Campaign)
	c.setAccount(e.Account)
	c.convs.Add(1)
}

// campaignFrame is a campaign's totals since the Dashboard was made, its
// rates over the frame's span and, from its account's frame, the pacing
// and balance of the account it spends.
type campaignFrame struct {
	Name        string  `json:"name"`
	Account     string  `json:"account,omitempty"`
	Impressions int64   `json:"impressions"` // billed, since the Dashboard was made
	Spend       int64   `json:"spend"`       // micros billed
	Clicks      int64   `json:"clicks"`
	Conversions int64   `json:"conversions"`
	CTR         float64 `json:"ctr"`       // clicks per impression, 0 without impressions
	ImpRate     float64 `json:"impRate"`   // billed impressions a second
	SpendRate   int64   `json:"spendRate"` // micros billed a second
	// From the account's frame, when its pacer or ledger is watched.
	Pacing  *float64      `json:"pacing,omitempty"`
	Balance *balanceFrame `json:"balance,omitempty"`
}

type campaignCounts struct {
	imps, spendMicros int64
}

// campaignFrames returns the campaigns in the order first seen, joined to
// accounts by name.
func (d *Dashboard) campaignFrames(r *readings, s span, accounts []accountFrame) []campaignFrame {
	var out []campaignFrame
	d.campaigns.each(func(name string, c *campaignCounters, other bool) {
		f := campaignFrame{Name: name}
		if other {
			f.Name = "(other)"
		} else if a := c.account.Load(); a != nil {
			f.Account = *a
		}
		f.Impressions, f.Spend = c.imps.Load(), c.spendMicros.Load()
		f.Clicks, f.Conversions = c.clicks.Load(), c.convs.Load()
		f.CTR = share(f.Clicks, f.Impressions)
		p := r.campaigns[c]
		r.campaigns[c] = campaignCounts{f.Impressions, f.Spend}
		f.ImpRate = s.rate(f.Impressions - p.imps)
		f.SpendRate = int64(math.Round(float64(max(f.Spend-p.spendMicros, 0)) / s.secs))
		for i := range accounts {
			if f.Account != "" && accounts[i].Name == f.Account {
				f.Pacing, f.Balance = accounts[i].Pacing, accounts[i].Balance
			}
		}
		out = append(out, f)
	})
	return out
}
