package campaign

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/require"
)

// pick returns up to n values of vals at random, or none half the time.
func pick[T any](r *rand.Rand, n int, vals ...T) []T {
	if r.IntN(2) == 0 {
		return nil
	}
	return some(r, n, vals...)
}

// third returns up to n values of vals at random, or none 2/3 of the time.
func third[T any](r *rand.Rand, n int, vals ...T) []T {
	if r.IntN(3) > 0 {
		return nil
	}
	return some(r, n, vals...)
}

// rare returns up to n values of vals at random, or none 80% of the time.
func rare[T any](r *rand.Rand, n int, vals ...T) []T {
	if r.IntN(5) > 0 {
		return nil
	}
	return some(r, n, vals...)
}

func some[T any](r *rand.Rand, n int, vals ...T) []T {
	var out []T
	for range 1 + r.IntN(n) {
		out = append(out, vals[r.IntN(len(vals))])
	}
	return out
}

func one[T any](r *rand.Rand, vals ...T) T { return vals[r.IntN(len(vals))] }

func randomCampaign(r *rand.Rand, id int) *Campaign {
	c := &Campaign{
		ID: fmt.Sprintf("c%d", id), Account: "a", BidCapMicros: 1,
		Goal:      Goal{Kind: GoalCPM, Value: 1},
		Targeting: randomTargeting(r, rare[string]),
	}
	for k := range 1 + r.IntN(3) {
		cr := Creative{ID: fmt.Sprint(k), MType: one(r, openrtb2.MarkupBanner, openrtb2.MarkupBanner, openrtb2.MarkupVideo, openrtb2.MarkupNative),
			Markup: "x", ADomain: pick(r, 1, "x.example", "y.example"), Cat: pick(r, 1, "IAB1", "IAB2"), Lang: one(r, "", "en", "de")}
		switch cr.MType {
		case openrtb2.MarkupBanner:
			cr.W, cr.H = one(r, int64(300), 728), one(r, int64(250), 90)
		case openrtb2.MarkupVideo:
			cr.Duration, cr.Protocol = one(r, int64(15), 30), one(r, 0, adcom1.CreativeVAST30, adcom1.CreativeVAST40)
		}
		c.Creatives = append(c.Creatives, cr)
	}
	return c
}

// randomTargeting targets each dimension as choose picks its values.
func randomTargeting(r *rand.Rand, choose func(r *rand.Rand, n int, vals ...string) []string) Targeting {
	t := Targeting{
		Countries:      choose(r, 2, "USA", "CAN", "GBR"),
		Regions:        choose(r, 2, "CA", "NY"),
		OS:             choose(r, 2, "ios", "android"),
		Domains:        choose(r, 2, "a.example", "b.example"),
		Bundles:        choose(r, 2, "com.a", "com.b"),
		BlockedDomains: choose(r, 1, "a.example", "c.example"),
		BlockedBundles: choose(r, 1, "com.a", "com.c"),
		Segments:       choose(r, 3, "s1", "s2", "s3", "s4"),
		Deals:          choose(r, 2, "d1", "d2", "d3"),
	}
	for _, d := range choose(r, 2, "4", "2", "5") {
		t.DeviceTypes = append(t.DeviceTypes, adcom1.DeviceType(d[0]-'0'))
	}
	return t
}

func randomRequest(r *rand.Rand) *openrtb2.BidRequest {
	req := &openrtb2.BidRequest{ID: "r", BAdv: pick(r, 1, "x.example"), BCat: pick(r, 1, "IAB1"), WLang: pick(r, 1, "en")}
	if r.IntN(2) == 0 {
		req.Site = &openrtb2.Site{Domain: one(r, "a.example", "b.example", "c.example")}
	} else {
		req.App = &openrtb2.App{Bundle: one(r, "com.a", "com.b", "com.c")}
	}
	geo := &openrtb2.Geo{Country: one(r, "usa", "CAN", "FRA", ""), Region: one(r, "ca", "NY", "")}
	req.Device = &openrtb2.Device{OS: one(r, "iOS", "android", "other"), DeviceType: one(r, adcom1.DevicePhone, adcom1.DevicePC, 0)}
	req.User = &openrtb2.User{ID: "u"}
	if r.IntN(2) == 0 {
		req.Device.Geo = geo
	} else {
		req.User.Geo = geo
	}
	for _, s := range pick(r, 3, "s1", "s2", "s3", "s5") {
		req.User.Data = append(req.User.Data, openrtb2.Data{Segment: []openrtb2.Segment{{ID: s}}})
	}
	imp := openrtb2.Imp{ID: "1"}
	if r.IntN(3) > 0 {
		imp.Banner = &openrtb2.Banner{}
		for _, w := range pick(r, 2, int64(300), 728) {
			imp.Banner.Format = append(imp.Banner.Format, openrtb2.Format{W: w, H: one(r, int64(250), 90)})
		}
	}
	if r.IntN(2) == 0 {
		imp.Video = &openrtb2.Video{MaxDuration: one(r, int64(0), 15), Protocols: pick(r, 2, adcom1.CreativeVAST30, adcom1.CreativeVAST40)}
	}
	if r.IntN(3) == 0 {
		imp.Native = &openrtb2.Native{}
	}
	if ids := pick(r, 2, "d1", "d2", "d4"); ids != nil || r.IntN(4) == 0 {
		imp.PMP = &openrtb2.PMP{PrivateAuction: int8(r.IntN(2))}
		for _, id := range ids {
			imp.PMP.Deals = append(imp.PMP.Deals, openrtb2.Deal{ID: id})
		}
	}
	req.Imp = []openrtb2.Imp{imp}
	return req
}

// matching returns the ids of the campaigns of s that match imp 0 of req,
// through the index or by a scan of every campaign.
func matching(s *snapshot, req *openrtb2.BidRequest, scan bool) []string {
	p := new(probe)
	p.v.reset(req)
	var cands []int32
	if scan {
		for i := range s.entries {
			cands = append(cands, int32(i))
		}
	} else {
		s.x.requestDims(p, &p.v)
		s.x.impDims(p, &req.Imp[0])
		cands = p.candidates(len(s.entries))
	}
	var ids []string
	for _, pos := range cands {
		if _, _, ok := s.entries[pos].match(&p.v, &req.Imp[0], nil); ok {
			ids = append(ids, s.entries[pos].c.ID)
		}
	}
	return ids
}

// TestIndexEqualsScan compares the index with a scan of every campaign on
// random campaign/request pairs: 100 campaigns that target few dimensions
// × 100 requests, and 1,000 campaigns that target more × 30 requests,
// where the candidates are also narrowed by dimensions after the smallest.
func TestIndexEqualsScan(t *testing.T) {
	for _, tt := range []struct {
		campaigns, requests int
		sparse              bool
	}{{100, 100, true}, {1000, 30, false}} {
		t.Run(fmt.Sprintf("campaigns=%d/requests=%d", tt.campaigns, tt.requests), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tt.campaigns)))
			all := make(map[string]*Campaign)
			for i := range tt.campaigns {
				c := randomCampaign(r, i)
				if !tt.sparse {
					c.Targeting = randomTargeting(r, third[string])
				}
				require.NoError(t, c.Validate())
				all[c.ID] = c
			}
			s := buildAll(all)
			matched, narrowed := 0, 0
			for range tt.requests {
				req := randomRequest(r)
				want := matching(s, req, true)
				require.Equal(t, want, matching(s, req, false))
				matched += len(want)
				if narrowedBy(s, req) > 1 {
					narrowed++
				}
			}
			t.Logf("%d of %d pairs match; %d requests narrowed by more than one dimension", matched, tt.campaigns*tt.requests, narrowed)
			require.Greater(t, matched, 100, "the random pairs must match often enough to test something")
			if !tt.sparse {
				require.Positive(t, narrowed, "the dimensions after the smallest must be used")
			}
		})
	}
}

// narrowedBy returns 2 when dimensions after the smallest narrowed the
// candidates of req, 1 otherwise.
func narrowedBy(s *snapshot, req *openrtb2.BidRequest) int {
	p := new(probe)
	p.v.reset(req)
	s.x.requestDims(p, &p.v)
	s.x.impDims(p, &req.Imp[0])
	smallest := len(p.candidates(0)) // a total of 0 narrows by no other dimension
	if len(p.candidates(len(s.entries))) < smallest {
		return 2
	}
	return 1
}

// TestChangedSnapshotEqualsFresh changes campaigns 300 times at random
// and checks that the snapshot built change by change, reusing entries,
// finds what a snapshot built from scratch finds.
func TestChangedSnapshotEqualsFresh(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var cs []*Campaign
	for i := range 200 {
		cs = append(cs, randomCampaign(r, i))
	}
	b, err := NewBidder("house", WithCampaigns(cs...))
	require.NoError(t, err)
	for n := range 300 {
		id := fmt.Sprintf("c%d", r.IntN(250))
		switch r.IntN(4) {
		case 0:
			b.Remove(id)
		case 1:
			b.Pause(id)
		case 2:
			b.Resume(id)
		default:
			c := randomCampaign(r, 1000+n)
			c.ID = id
			require.NoError(t, b.Set(c))
		}
	}
	s := b.snap.Load()
	fresh := buildAll(s.copyAll())
	require.Equal(t, fresh.ids, s.ids)
	require.Len(t, s.entries, len(fresh.entries))
	for range 100 {
		req := randomRequest(r)
		require.Equal(t, matching(fresh, req, true), matching(s, req, false))
	}
}

// TestCandidatesIntersect checks that the candidates are narrowed by more
// than the smallest dimension: 100 campaigns in the USA, half of them on
// iOS, give 50 candidates for an iOS request, not 100.
func TestCandidatesIntersect(t *testing.T) {
	all := make(map[string]*Campaign)
	for i := range 100 {
		c := &Campaign{ID: fmt.Sprintf("c%03d", i), Account: "a", BidCapMicros: 1, Goal: Goal{Value: 1},
			Targeting: Targeting{Countries: []string{"USA"}, OS: []string{[]string{"ios", "android"}[i%2]}},
			Creatives: []Creative{{ID: "n", MType: openrtb2.MarkupNative, Markup: "{}"}}}
		all[c.ID] = c
	}
	s := buildAll(all)
	req := &openrtb2.BidRequest{ID: "r", Device: &openrtb2.Device{OS: "iOS", Geo: &openrtb2.Geo{Country: "USA"}},
		Imp: []openrtb2.Imp{{ID: "1", Native: &openrtb2.Native{}}}}
	p := new(probe)
	p.v.reset(req)
	s.x.requestDims(p, &p.v)
	s.x.impDims(p, &req.Imp[0])
	require.Len(t, p.candidates(len(s.entries)), 50)
	require.Len(t, matching(s, req, true), 50)
}
