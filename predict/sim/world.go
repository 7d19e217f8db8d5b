package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// A World is the hidden truth of a simulated market: sites, users and
// campaigns, and the true probability of a click on each impression and
// of a conversion after each click. The log odds of a click add up
// effects of the site, the campaign, the site × campaign, the device type,
// the device type × campaign, the user's local hour, each of the user's
// segments and each segment × campaign; those of a conversion, effects of
// the campaign, the site, and each segment × campaign. Every effect is a
// function of what the bid request shows, so a model over the Extractor's
// features can learn the truth, but not at once: the crosses are many and
// clicks are few. A World is read-only once built and safe for concurrent
// use.
type World struct {
	cfg   Config
	sites []site
	byDom map[string]int // site index by domain
	users []user
	camps []*campaign.Campaign

	ctrBase, cvrBase float64
	ctrCamp, cvrCamp []float64
	ctrSiteCamp      [][]float64 // [site][campaign]
	ctrSegCamp       [][]float64 // [segment][campaign]
	cvrSegCamp       [][]float64 // [segment][campaign]
	ctrSeg           []float64
	ctrDev           []float64   // [device type]
	ctrDevCamp       [][]float64 // [device type][campaign]
	ctrHour          [24]float64 // local hour
}

type site struct {
	domain, publisher string
	ctr, cvr          float64 // effects on the log odds
	price             float64 // the competitors' median bid, CPM micros
}

type user struct {
	id       string
	segments []int
	device   adcom1.DeviceType
	os       string
	offset   int64 // minutes east of UTC
	country  string
}

// deviceTypes are the device types users have.
var deviceTypes = []adcom1.DeviceType{adcom1.DeviceMobile, adcom1.DevicePC, adcom1.DeviceTablet, adcom1.DeviceConnected}

// NewWorld draws a World from cfg.Seed; cfg must be valid (Config.Validate).
func NewWorld(cfg Config) *World {
	r := rand.New(rand.NewPCG(cfg.Seed, 0x776f726c64))
	norm := func(sd float64) float64 { return r.NormFloat64() * sd }
	w := &World{cfg: cfg, ctrBase: cfg.CTRLogOdds, cvrBase: cfg.CVRLogOdds}
	nc := cfg.CPC + cfg.CPA
	for i := range cfg.Sites {
		w.sites = append(w.sites, site{
			domain: fmt.Sprintf("site%03d.example", i), publisher: fmt.Sprintf("pub%02d", i%7),
			ctr: norm(0.4), cvr: norm(0.2),
			price: float64(cfg.MarketCPMMicros) * math.Exp(norm(0.3)),
		})
	}
	w.byDom = make(map[string]int, len(w.sites))
	for i := range w.sites {
		w.byDom[w.sites[i].domain] = i
	}
	offsets := []int64{-300, -240, 0, 60, 120, 330}
	countries := []string{"USA", "USA", "GBR", "DEU", "FRA", "IND"}
	for i := range cfg.Users {
		k := r.IntN(len(offsets))
		u := user{id: "u" + strconv.Itoa(i), device: deviceTypes[r.IntN(len(deviceTypes))],
			os: []string{"iOS", "Android", "Windows"}[r.IntN(3)], offset: offsets[k], country: countries[k]}
		for g := range cfg.Segments {
			if r.Float64() < 0.2 {
				u.segments = append(u.segments, g)
			}
		}
		w.users = append(w.users, u)
	}
	for i := range nc {
		w.camps = append(w.camps, w.newCampaign(i))
		w.ctrCamp = append(w.ctrCamp, norm(0.3))
		w.cvrCamp = append(w.cvrCamp, norm(0.3))
	}
	w.ctrSiteCamp = effects(norm, cfg.Sites, nc, 0.35)
	w.ctrSegCamp = effects(norm, cfg.Segments, nc, 0.4)
	w.cvrSegCamp = effects(norm, cfg.Segments, nc, 0.4)
	w.ctrDevCamp = effects(norm, len(deviceTypes)+8, nc, 0.2)
	for range cfg.Segments {
		w.ctrSeg = append(w.ctrSeg, norm(0.2))
	}
	for range len(deviceTypes) + 8 {
		w.ctrDev = append(w.ctrDev, norm(0.2))
	}
	for h := range w.ctrHour {
		w.ctrHour[h] = 0.25 * math.Sin(float64(h-6)/24*2*math.Pi)
	}
	return w
}

func effects(norm func(float64) float64, rows, cols int, sd float64) [][]float64 {
	e := make([][]float64, rows)
	for i := range e {
		for range cols {
			e[i] = append(e[i], norm(sd))
		}
	}
	return e
}

// newCampaign is house campaign i: CPC for the first cfg.CPC, CPA after.
func (w *World) newCampaign(i int) *campaign.Campaign {
	cfg := &w.cfg
	g := campaign.Goal{Kind: campaign.GoalCPC, Value: cfg.TargetCPCMicros, FallbackCTR: 0.04, FallbackCVR: 0.1}
	id := fmt.Sprintf("cpc%02d", i)
	if i >= cfg.CPC {
		g.Kind, g.Value = campaign.GoalCPA, cfg.TargetCPAMicros
		id = fmt.Sprintf("cpa%02d", i-cfg.CPC)
	}
	return &campaign.Campaign{
		ID: id, Account: "acct-" + id, Advertiser: "adv-" + id, Goal: g, BidCapMicros: cfg.BidCapMicros,
		Creatives: []campaign.Creative{{
			ID: "cr1", MType: openrtb2.MarkupBanner, W: 300, H: 250, Markup: "<div>ad</div>",
			Landing: "https://adv.example/" + id, ADomain: []string{id + ".example"},
		}},
	}
}

// Campaigns returns copies of the house campaigns, CPC ones first; goal
// CPM at cpm micros when cpm is positive.
func (w *World) Campaigns(cpm []int64) []*campaign.Campaign {
	cs := make([]*campaign.Campaign, len(w.camps))
	for i, c := range w.camps {
		cc := *c
		if cpm != nil {
			cc.Goal = campaign.Goal{Kind: campaign.GoalCPM, Value: cpm[i]}
		}
		cs[i] = &cc
	}
	return cs
}

// An Impression is one bid request of the simulated traffic, with what
// the World knows of it.
type Impression struct {
	Req  *openrtb2.BidRequest
	site int
	user int
}

// Draw draws a bid request at time t from r: a user, a site, one 300×250
// banner imp at the configured floor, first price (at=1).
func (w *World) Draw(r *rand.Rand, id string) Impression {
	s, ui := r.IntN(len(w.sites)), r.IntN(len(w.users))
	st, u := &w.sites[s], &w.users[ui]
	req := &openrtb2.BidRequest{
		ID: id, AT: 1,
		Imp: []openrtb2.Imp{{ID: "1", BidFloor: float64(w.cfg.FloorMicros) / 1e6, BidFloorCur: "USD",
			Banner: &openrtb2.Banner{Format: []openrtb2.Format{{W: 300, H: 250}}}}},
		Site:   &openrtb2.Site{Domain: st.domain, Publisher: &openrtb2.Publisher{ID: st.publisher}},
		Device: &openrtb2.Device{DeviceType: u.device, OS: u.os, Geo: &openrtb2.Geo{Country: u.country, UTCOffset: u.offset}},
		User:   &openrtb2.User{ID: u.id},
	}
	if len(u.segments) > 0 {
		d := openrtb2.Data{ID: "dmp", Segment: make([]openrtb2.Segment, len(u.segments))}
		for k, g := range u.segments {
			d.Segment[k].ID = strconv.Itoa(g)
		}
		req.User.Data = []openrtb2.Data{d}
	}
	return Impression{Req: req, site: s, user: ui}
}

// campaignIndex returns the index of the house campaign with id, -1 if none.
func (w *World) campaignIndex(id string) int {
	for i, c := range w.camps {
		if c.ID == id {
			return i
		}
	}
	return -1
}

// CTR is the true probability that imp, shown at t with house campaign c
// (an index of Campaigns), is clicked.
func (w *World) CTR(imp Impression, c int, t time.Time) float64 {
	st, u := &w.sites[imp.site], &w.users[imp.user]
	z := w.ctrBase + st.ctr + w.ctrCamp[c] + w.ctrSiteCamp[imp.site][c] +
		w.ctrDev[u.device] + w.ctrDevCamp[u.device][c] +
		w.ctrHour[t.UTC().Add(time.Duration(u.offset)*time.Minute).Hour()]
	for _, g := range u.segments {
		z += w.ctrSeg[g] + w.ctrSegCamp[g][c]
	}
	return sigmoid(z)
}

// CVR is the true probability that a click on imp with house campaign c
// converts within the conversion window.
func (w *World) CVR(imp Impression, c int) float64 {
	st, u := &w.sites[imp.site], &w.users[imp.user]
	z := w.cvrBase + st.cvr + w.cvrCamp[c]
	for _, g := range u.segments {
		z += w.cvrSegCamp[g][c]
	}
	return sigmoid(z)
}

// competitorBid is what competitor k bids on req, CPM micros: lognormal
// around the site's price, drawn from the request id so that it does not
// depend on the order the auction calls bidders in; 0 for no bid.
func (w *World) competitorBid(req *openrtb2.BidRequest, k int) int64 {
	s, ok := w.byDom[req.Site.Domain]
	if !ok {
		return 0
	}
	r := rand.New(rand.NewPCG(xxhash.Sum64String(req.ID), uint64(k)))
	if r.Float64() < 0.2 {
		return 0
	}
	return int64(w.sites[s].price * math.Exp(0.5*r.NormFloat64()))
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
