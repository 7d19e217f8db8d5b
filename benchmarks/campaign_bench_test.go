package benchmarks_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"github.com/gavelrtb/gavel/campaign"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// campaignMatches is how many campaigns of the large sets match the
// request of BenchmarkCampaignBid.
const campaignMatches = 20

// campaignSet returns n campaigns of which min(n, campaignMatches) match
// campaignRequest: those target the request's country, OS and segment
// "hot"; the others are audience campaigns that target one or two of 5,000
// segments the request's user is not in, besides a random country, device
// type and OS, with a banner and a video creative each.
func campaignSet(n int) []*campaign.Campaign {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	countries := []string{"USA", "CAN", "GBR", "DEU", "FRA", "ESP", "ITA", "BRA", "MEX", "JPN"}
	cs := make([]*campaign.Campaign, n)
	for i := range cs {
		c := &campaign.Campaign{
			ID: "c" + strconv.Itoa(i), Account: "acct-" + strconv.Itoa(i%100), Advertiser: "adv",
			Goal:         campaign.Goal{Kind: campaign.GoalCPM, Value: 1_000_000 + int64(r.IntN(4_000_000))},
			BidCapMicros: 10_000_000,
			Creatives: []campaign.Creative{
				{ID: "b", MType: openrtb2.MarkupBanner, W: 300, H: 250, Markup: `<a href="` + campaign.ClickMacro + `">ad</a>`,
					Landing: "https://adv.example/", ADomain: []string{"adv.example"}, Cat: []string{"IAB3"}},
				{ID: "l", MType: openrtb2.MarkupBanner, W: 728, H: 90, Markup: "<div>leaderboard</div>", ADomain: []string{"adv.example"}},
				{ID: "v", MType: openrtb2.MarkupVideo, Duration: 15, Markup: "<VAST/>", ADomain: []string{"adv.example"}},
			},
		}
		if i < campaignMatches {
			c.Targeting = campaign.Targeting{Countries: []string{"USA"}, OS: []string{"ios"}, Segments: []string{"hot"}}
		} else {
			c.Targeting = campaign.Targeting{
				Countries:   []string{countries[r.IntN(len(countries))]},
				DeviceTypes: []adcom1.DeviceType{adcom1.DeviceType(1 + r.IntN(7))},
				Segments:    []string{"seg-" + strconv.Itoa(r.IntN(5000)), "seg-" + strconv.Itoa(r.IntN(5000))},
			}
		}
		cs[i] = c
	}
	return cs
}

// campaignRequest has three imps (300x250 banner, 728x90 banner, video up
// to 30 s), a site, an iPhone in the USA and a user in 6 segments.
func campaignRequest() *openrtb2.BidRequest {
	user := &openrtb2.User{ID: "user-1", Data: []openrtb2.Data{{Segment: []openrtb2.Segment{{ID: "hot"}}}}}
	for i := range 5 {
		user.Data[0].Segment = append(user.Data[0].Segment, openrtb2.Segment{ID: fmt.Sprintf("other-%d", i)})
	}
	return &openrtb2.BidRequest{
		ID: "req-1", Cur: []string{"USD"}, TMax: 100,
		Imp: []openrtb2.Imp{
			{ID: "1", BidFloor: 0.5, Banner: &openrtb2.Banner{Format: []openrtb2.Format{{W: 300, H: 250}}}},
			{ID: "2", BidFloor: 0.5, Banner: &openrtb2.Banner{Format: []openrtb2.Format{{W: 728, H: 90}}}},
			{ID: "3", BidFloor: 0.5, Video: &openrtb2.Video{MIMEs: []string{"video/mp4"}, MaxDuration: 30}},
		},
		Site:   &openrtb2.Site{Domain: "pub.example"},
		Device: &openrtb2.Device{OS: "iOS", DeviceType: adcom1.DevicePhone, Geo: &openrtb2.Geo{Country: "USA"}},
		User:   user,
		BCat:   []string{"IAB25"},
		BAdv:   []string{"blocked.example"},
	}
}

// BenchmarkCampaignBid is the campaign Bidder's Bid for a 3-imp request
// against 10, 1,000 and 100,000 campaigns, of which at most 20 match: the
// index makes the cost follow the matching campaigns, not all of them.
// With caps=memory every campaign has a daily frequency cap, counted in a
// MemoryFrequencyStore (one Counts per call, the user below the cap).
// Every call must bid on all 3 imps.
func BenchmarkCampaignBid(b *testing.B) {
	for _, n := range []int{10, 1000, 100_000} {
		for _, caps := range []string{"off", "memory"} {
			b.Run("campaigns="+strconv.Itoa(n)+"/imps=3/caps="+caps, func(b *testing.B) {
				benchCampaignBid(b, n, caps == "memory")
			})
		}
	}
}

func benchCampaignBid(b *testing.B, n int, capped bool) {
	cs := campaignSet(n)
	opts := []campaign.Option{campaign.WithCampaigns(cs...)}
	if capped {
		store, err := campaign.NewMemoryFrequencyStore()
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cs {
			c.Caps = []campaign.FrequencyCap{{Max: 1 << 40, Period: campaign.PeriodDay}}
		}
		opts = append(opts, campaign.WithFrequencyStore(store))
	}
	bd, err := campaign.NewBidder("house", opts...)
	if err != nil {
		b.Fatal(err)
	}
	req := campaignRequest()
	ctx := context.Background()
	check := func() {
		resp, err := bd.Bid(ctx, req)
		bids := 0
		if resp != nil {
			for _, sb := range resp.SeatBid {
				bids += len(sb.Bid)
			}
		}
		if err != nil || bids != 3 {
			b.Fatalf("want 3 bids, got %d (%v)", bids, err)
		}
	}
	check()
	before := bd.Stats().Bids
	runtime.GC() // the garbage of building 100,000 campaigns is not the loop's
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for range b.N {
		if _, err := bd.Bid(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b)
	b.StopTimer()
	if got := bd.Stats().Bids - before; got != int64(3*b.N) {
		b.Fatalf("%d bids in %d calls, want 3 per call", got, b.N)
	}
	if st := bd.Stats(); st.FrequencySkips != 0 || st.FrequencyCapped != 0 {
		b.Fatalf("frequency caps held campaigns back: %+v", st)
	}
	check()
}

// BenchmarkCampaignSet is one Set of one changed campaign among n: a
// change rebuilds the snapshot's index, reusing the compiled campaigns
// that did not change.
func BenchmarkCampaignSet(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run("campaigns="+strconv.Itoa(n), func(b *testing.B) {
			cs := campaignSet(n)
			bd, err := campaign.NewBidder("house", campaign.WithCampaigns(cs...))
			if err != nil {
				b.Fatal(err)
			}
			var c campaign.Campaign
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				c = *cs[0] // a new value each time: a Campaign given to Set must not change
				c.Goal.Value = 1_000_000 + int64(i)
				if err := bd.Set(&c); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if got, _ := bd.Campaign(c.ID); got.Goal.Value != c.Goal.Value {
				b.Fatal("the last Set is not in the Bidder")
			}
		})
	}
}
