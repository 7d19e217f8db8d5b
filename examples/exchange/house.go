package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// houseBidder is the name of the demo's campaign bidder: the exchange's
// own demand, beside the demo bidders.
const houseBidder = "house"

// Paths of the click and conversion tracking, under pathTrack.
const (
	pathTrack           = "/track"
	pathTrackClick      = pathTrack + "/click"
	pathTrackConversion = pathTrack + "/conversion"
)

// houseBudgets are the daily budgets of the demo campaigns' accounts, one
// account per campaign, paced evenly over the day (UTC) as the demo
// bidders' are.
var houseBudgets = []gavel.Budget{
	{Account: "acme", Amount: 300_000_000, Period: gavel.DailyPeriod(nil, 0), Pacing: gavel.PacingEven},
	{Account: "puzzle-co", Amount: 150_000_000, Period: gavel.DailyPeriod(nil, 0), Pacing: gavel.PacingEven},
	{Account: "autos-direct", Amount: 400_000_000, Period: gavel.DailyPeriod(nil, 0), Pacing: gavel.PacingEven},
}

// houseCampaigns are the demo campaigns; their targeting matches a good
// share of what examples/loadgen sends:
//
//   - spring-sale: a fixed CPM of 1.80 on banners of 300x250, 728x90 and
//     320x50 in five countries, at most 3 impressions per user an hour;
//   - puzzle-installs: a target CPC of 0.50 at a fixed CTR of 0.4% (a bid
//     of 2.00 CPM, capped at 2.50) on phones and tablets under iOS or
//     Android, banners of 320x50 and 300x250, at most 5 per user a day;
//   - autos-deal: a fixed CPM of 3.00, only on the deals deal-1 and
//     deal-3, banners of 300x250 and 300x600 and a 15 s video.
func houseCampaigns() []*campaign.Campaign {
	return []*campaign.Campaign{
		{
			ID: "spring-sale", Account: "acme", Advertiser: "acme",
			Targeting:    campaign.Targeting{Countries: []string{"USA", "GBR", "CAN", "DEU", "FRA"}},
			Goal:         campaign.Goal{Kind: campaign.GoalCPM, Value: 1_800_000},
			BidCapMicros: 1_800_000,
			Caps:         []campaign.FrequencyCap{{Scope: campaign.ScopeCampaign, Max: springSaleCap, Period: campaign.PeriodHour}},
			Creatives: []campaign.Creative{
				banner("mrec", 300, 250, "acme", "https://acme.example/spring?utm_source=gavel", "IAB18"),
				banner("leaderboard", 728, 90, "acme", "https://acme.example/spring?utm_source=gavel", "IAB18"),
				banner("mobile", 320, 50, "acme", "https://acme.example/spring?utm_source=gavel", "IAB18"),
			},
		},
		{
			ID: "puzzle-installs", Account: "puzzle-co", Advertiser: "puzzle-co",
			Targeting: campaign.Targeting{
				DeviceTypes: []adcom1.DeviceType{adcom1.DeviceMobile, adcom1.DevicePhone, adcom1.DeviceTablet},
				OS:          []string{"iOS", "Android"},
			},
			Goal:         campaign.Goal{Kind: campaign.GoalCPC, Value: 500_000, FallbackCTR: 0.004},
			BidCapMicros: 2_500_000,
			Caps:         []campaign.FrequencyCap{{Scope: campaign.ScopeCampaign, Max: 5, Period: campaign.PeriodDay}},
			Creatives: []campaign.Creative{
				banner("banner", 320, 50, "puzzle.example", "https://puzzle.example/install", "IAB9-30"),
				banner("mrec", 300, 250, "puzzle.example", "https://puzzle.example/install", "IAB9-30"),
			},
		},
		{
			ID: "autos-deal", Account: "autos-direct", Advertiser: "autos-direct",
			Targeting:    campaign.Targeting{Deals: []string{"deal-1", "deal-3"}},
			Goal:         campaign.Goal{Kind: campaign.GoalCPM, Value: 3_000_000},
			BidCapMicros: 3_000_000,
			Creatives: []campaign.Creative{
				banner("mrec", 300, 250, "autos.example", "https://autos.example/new-model", "IAB2"),
				banner("half-page", 300, 600, "autos.example", "https://autos.example/new-model", "IAB2"),
				{
					ID: "video", MType: openrtb2.MarkupVideo, Duration: 15,
					Markup: `<VAST version="3.0"><Ad id="autos"><InLine><AdSystem>gavel house</AdSystem><AdTitle>New model</AdTitle>` +
						`<Creatives><Creative><Linear><Duration>00:00:15</Duration><VideoClicks><ClickThrough><![CDATA[` + campaign.ClickMacro +
						`]]></ClickThrough></VideoClicks><MediaFiles><MediaFile delivery="progressive" type="video/mp4" width="640" height="360">` +
						`<![CDATA[https://autos.example/new-model.mp4]]></MediaFile></MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>`,
					Landing: "https://autos.example/new-model", ADomain: []string{"autos.example"}, Cat: []string{"IAB2"},
				},
			},
		},
	}
}

// springSaleCap is how many impressions of spring-sale a user may see an
// hour.
const springSaleCap = 3

// banner is a demo banner creative of w×h whose markup links to the click
// URL.
func banner(id string, w, h int64, domain, landing, cat string) campaign.Creative {
	return campaign.Creative{
		ID: id, MType: openrtb2.MarkupBanner, W: w, H: h,
		Markup: `<a href="` + campaign.ClickMacro + `" target="_blank"><img src="https://` + domain + `/ads/` + id +
			`.png" width="` + strconv.FormatInt(w, 10) + `" height="` + strconv.FormatInt(h, 10) + `" alt="` + domain + `"></a>`,
		Landing: landing, ADomain: []string{domain}, Cat: []string{cat},
	}
}

// house is the demo's own demand: the campaign bidder, its frequency
// store and the tracker of its clicks and conversions.
type house struct {
	bidder  *campaign.Bidder
	tracker *campaign.Tracker
	freq    *campaign.MemoryFrequencyStore
	pred    *housePredictor // the CPC and CPA goals' rates, learned online
}

// newHouse makes the demo's campaign bidder on x's stores, its budgets
// paced as the demo bidders' (ASAP with asap), with a tracker at x's
// pathTrack that signs with key and writes to x's events sink, telling
// hooks of clicks and conversions.
func (x *exchange) newHouse(key gavelhttp.Key, asap bool, hooks ...any) (*house, error) {
	h := &house{}
	var err error
	if h.freq, err = campaign.NewMemoryFrequencyStore(campaign.WithFrequencyMaxUsers(100_000)); err != nil {
		return nil, err
	}
	sink := x.events.sink
	if sink == nil {
		sink = gavel.EventSinkFunc(func(_ context.Context, _ []gavel.Event) error { return nil })
	}
	if h.pred, err = newHousePredictor(houseCampaigns(), x.dashboard); err != nil {
		return nil, err
	}
	if h.tracker, err = campaign.NewTracker(x.base+pathTrack, []gavelhttp.Key{key}, sink,
		campaign.WithTrackerHooks(append(hooks, h.pred.learner)...)); err != nil {
		return nil, err
	}
	budgets := append([]gavel.Budget(nil), houseBudgets...)
	if asap {
		for i := range budgets {
			budgets[i].Pacing = gavel.PacingASAP
		}
	}
	opts := []campaign.Option{
		campaign.WithCampaigns(houseCampaigns()...),
		campaign.WithBudgets(budgets...),
		campaign.WithFrequencyStore(h.freq),
		campaign.WithClickURL(h.tracker.ClickURL),
		campaign.WithPredictor(h.pred.predictor),
	}
	if x.stores.pacer != nil {
		opts = append(opts, campaign.WithPacer(x.stores.pacer))
	}
	if bc, ok := x.stores.ledger.(gavel.BalanceCache); ok {
		opts = append(opts, campaign.WithBalances(bc))
	}
	if h.bidder, err = campaign.NewBidder(houseBidder, opts...); err != nil {
		return nil, err
	}
	return h, nil
}

// options are the Auction options that let the house bidder bid and
// spend its campaigns' accounts, as package campaign says.
func (h *house) options() []gavel.Option {
	return []gavel.Option{
		// Inline: the house bidder's frequency store and predictor are in
		// memory, so Run calls it on its own goroutine (campaign.Bidder.Inline).
		gavel.WithBidders(h.bidder.Inline()),
		gavel.WithBidderTimeout(houseBidder, bidderTimeout),
		gavel.WithBidderSeats(h.bidder.Name(), h.bidder.Accounts()...),
		gavel.WithAccounts(h.bidder.AccountFunc(gavel.BidderAccount)),
		gavel.WithBudgets(h.bidder.Budgets()...),
	}
}

// campaignOf names the campaign of a billed impression of the house
// bidder, "" for any other bidder's: the bid id starts with the campaign
// id (campaign.BidID). It does not allocate.
func campaignOf(b gavel.Billing) string {
	if b.Bidder != houseBidder {
		return ""
	}
	id, _, _ := strings.Cut(b.BidID, ".")
	return id
}

// houseAccounts lists the accounts of houseBudgets.
func houseAccounts() []string {
	names := make([]string, len(houseBudgets))
	for i, b := range houseBudgets {
		names[i] = b.Account
	}
	return names
}

// describeCampaign tells a campaign's account, goal and bounds, for the
// banner.
func describeCampaign(c *campaign.Campaign) string {
	var goal string
	switch c.Goal.Kind {
	case campaign.GoalCPC:
		goal = fmt.Sprintf("CPC %s at CTR %.1f%% (cap %s CPM)", gavel.FormatMicros(c.Goal.Value), 100*c.Goal.FallbackCTR, gavel.FormatMicros(c.BidCapMicros))
	case campaign.GoalCPA:
		goal = "CPA " + gavel.FormatMicros(c.Goal.Value)
	default:
		goal = "CPM " + gavel.FormatMicros(c.Goal.Value)
	}
	s := fmt.Sprintf("account %s, %s", c.Account, goal)
	if len(c.Targeting.Deals) > 0 {
		s += ", deals " + strings.Join(c.Targeting.Deals, " ")
	}
	for _, fc := range c.Caps {
		s += fmt.Sprintf(", %d per user per %s", fc.Max, fc.Period)
	}
	return s
}
