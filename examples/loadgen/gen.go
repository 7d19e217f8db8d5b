package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// Expect is what the generator knows about a request it made: enough to
// judge the answer. An invalid request must be answered 400; a valid one
// 200 with a BidResponse for it, or 204.
type Expect struct {
	ID      string   // the request's id
	ImpIDs  []string // the ids of its imps
	Cur     []string // its allowed currencies (empty: USD only)
	Invalid string   // the kind of invalid request, "" for a valid one
}

// Generator makes bid requests. Request n depends only on the seed and n,
// so a run is reproducible whatever order the requests are made in. A
// Generator holds no mutable state and is safe for concurrent use.
type Generator struct {
	Seed    uint64
	Invalid float64 // share of invalid requests, in [0, 1]
	TMax    int64   // tmax of every valid request in ms; 0 leaves it out
	Users   int     // size of the pool of user ids, user-0 … user-(Users-1)
}

var (
	bannerSizes = [][2]int64{{300, 250}, {728, 90}, {320, 50}, {160, 600}, {300, 600}, {970, 250}, {336, 280}}
	videoSizes  = [][2]int64{{640, 360}, {1280, 720}, {1920, 1080}}
	floors      = []float64{0, 0.05, 0.1, 0.25, 0.5, 1, 2, 5}
	countries   = []string{"USA", "GBR", "DEU", "FRA", "JPN", "BRA", "IND", "CAN", "AUS", "ESP"}
	deviceTypes = []adcom1.DeviceType{adcom1.DeviceMobile, adcom1.DevicePC, adcom1.DeviceTV, adcom1.DevicePhone, adcom1.DeviceTablet}
	oses        = []string{"iOS", "Android", "Windows", "macOS", "Linux", "tvOS"}
	domains     = []string{"news.example", "sports.example", "recipes.example", "games.example", "weather.example"}
	bundles     = []string{"com.example.puzzle", "com.example.runner", "com.example.news"}
	segments    = []string{"sports", "travel", "autos", "finance", "gaming", "cooking"}
	curs        = [][]string{nil, {"USD"}, {"USD", "EUR"}}
)

// invalidKinds are the ways a request is made invalid: each must get 400.
var invalidKinds = []string{"malformed", "trailing", "no-id", "no-imps", "no-media", "video-no-mimes", "duplicate-imp", "bad-at"}

// Make returns request n as JSON and what to expect of its answer.
func (g Generator) Make(n uint64) ([]byte, Expect) {
	rng := rand.New(rand.NewPCG(g.Seed, n))
	req := g.valid(rng, n)
	kind := ""
	if g.Invalid > 0 && rng.Float64() < g.Invalid {
		kind = invalidKinds[rng.IntN(len(invalidKinds))]
	}
	exp := Expect{ID: req.ID, Cur: req.Cur, Invalid: kind}
	for _, imp := range req.Imp {
		exp.ImpIDs = append(exp.ImpIDs, imp.ID)
	}
	body, err := json.Marshal(breakRequest(req, kind))
	if err != nil {
		panic(err) // the generator's own types always marshal
	}
	switch kind {
	case "malformed":
		body = body[:len(body)/2]
	case "trailing":
		body = append(body, []byte(` {"id":"extra"}`)...)
	}
	return body, exp
}

// breakRequest makes req invalid in the given way; "" leaves it as it is.
func breakRequest(req *openrtb2.BidRequest, kind string) *openrtb2.BidRequest {
	switch kind {
	case "no-id":
		req.ID = ""
	case "no-imps":
		req.Imp = nil
	case "no-media":
		req.Imp[0].Banner, req.Imp[0].Video = nil, nil
	case "video-no-mimes":
		req.Imp[0].Banner = nil
		req.Imp[0].Video = &openrtb2.Video{W: ptr[int64](640), H: ptr[int64](360)}
	case "duplicate-imp":
		req.Imp = append(req.Imp, req.Imp[0])
	case "bad-at":
		req.AT = 5
	}
	return req
}

func (g Generator) valid(rng *rand.Rand, n uint64) *openrtb2.BidRequest {
	req := &openrtb2.BidRequest{
		ID:     fmt.Sprintf("lg-%d-%d", g.Seed, n),
		AT:     int64(1 + rng.IntN(2)),
		TMax:   g.TMax,
		Cur:    pick(rng, curs),
		Device: device(rng),
	}
	for i := range 1 + rng.IntN(3) {
		req.Imp = append(req.Imp, imp(rng, i))
	}
	if rng.IntN(3) == 0 {
		req.App = &openrtb2.App{ID: "app-1", Bundle: pick(rng, bundles)}
	} else {
		d := pick(rng, domains)
		req.Site = &openrtb2.Site{ID: "site-" + d, Domain: d, Page: "https://" + d + "/"}
	}
	if g.Users > 0 && rng.IntN(10) < 8 {
		req.User = &openrtb2.User{ID: fmt.Sprintf("user-%d", rng.IntN(g.Users))}
		if rng.IntN(2) == 0 {
			req.User.Data = []openrtb2.Data{{ID: "loadgen", Segment: []openrtb2.Segment{{ID: pick(rng, segments)}}}}
		}
	}
	return req
}

func device(rng *rand.Rand) *openrtb2.Device {
	return &openrtb2.Device{
		DeviceType: pick(rng, deviceTypes),
		OS:         pick(rng, oses),
		UA:         "Mozilla/5.0 (loadgen)",
		IP:         fmt.Sprintf("203.0.113.%d", rng.IntN(254)+1),
		Geo:        &openrtb2.Geo{Country: pick(rng, countries)},
	}
}

// imp makes imp i: a banner (three in four) or a video, a floor, and now
// and then a private deal.
func imp(rng *rand.Rand, i int) openrtb2.Imp {
	im := openrtb2.Imp{ID: fmt.Sprint(i + 1), TagID: fmt.Sprintf("slot-%d", rng.IntN(20))}
	if rng.IntN(4) == 0 {
		s := pick(rng, videoSizes)
		im.Video = &openrtb2.Video{MIMEs: []string{"video/mp4"}, W: ptr(s[0]), H: ptr(s[1]), MinDuration: 5, MaxDuration: 30}
	} else {
		s := pick(rng, bannerSizes)
		im.Banner = &openrtb2.Banner{W: ptr(s[0]), H: ptr(s[1]), Format: []openrtb2.Format{{W: s[0], H: s[1]}}}
	}
	if f := pick(rng, floors); f > 0 {
		im.BidFloor, im.BidFloorCur = f, "USD"
	}
	if rng.IntN(10) == 0 {
		im.PMP = &openrtb2.PMP{Deals: []openrtb2.Deal{{ID: fmt.Sprintf("deal-%d", rng.IntN(5)), BidFloor: 1.5, BidFloorCur: "USD", AT: 1}}}
	}
	return im
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func ptr[T any](v T) *T { return &v }
