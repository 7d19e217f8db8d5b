package predict_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/predict"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// world is a simulated market with a hidden click model with
// interactions: sites, campaigns, segments, device types and hours each
// have an effect on the log odds of a click, and so do site × campaign
// and segment × campaign.
type world struct {
	r         *rand.Rand
	sites     []string
	campaigns []*campaign.Campaign
	site      []float64   // per site
	camp      []float64   // per campaign
	siteCamp  [][]float64 // per site, per campaign
	segCamp   [][]float64 // per segment, per campaign
	device    []float64   // per device type
	hour      [24]float64 // per local hour
	base      float64
}

const (
	worldSites     = 40
	worldCampaigns = 8
	worldSegments  = 12
)

func newWorld(seed uint64) *world {
	r := rand.New(rand.NewPCG(seed, seed))
	w := &world{r: r, base: -4.5}
	norm := func(sd float64) float64 { return r.NormFloat64() * sd }
	for i := range worldSites {
		w.sites = append(w.sites, fmt.Sprintf("site%02d.example", i))
		w.site = append(w.site, norm(0.5))
	}
	for i := range worldCampaigns {
		w.campaigns = append(w.campaigns, cpcCampaign(fmt.Sprintf("c%d", i)))
		w.camp = append(w.camp, norm(0.3))
	}
	w.siteCamp = make([][]float64, worldSites)
	for i := range w.siteCamp {
		for range worldCampaigns {
			w.siteCamp[i] = append(w.siteCamp[i], norm(0.4))
		}
	}
	w.segCamp = make([][]float64, worldSegments)
	for i := range w.segCamp {
		for range worldCampaigns {
			w.segCamp[i] = append(w.segCamp[i], norm(0.5))
		}
	}
	for range 8 {
		w.device = append(w.device, norm(0.3))
	}
	for h := range w.hour {
		w.hour[h] = 0.3 * math.Sin(float64(h)/24*2*math.Pi)
	}
	return w
}

// impression draws a request at t, a campaign, and the true CTR.
func (w *world) impression(t time.Time) (*openrtb2.BidRequest, *campaign.Campaign, float64) {
	r := w.r
	s, c, d := r.IntN(worldSites), r.IntN(worldCampaigns), 1+r.IntN(7)
	offset := []int64{-300, 0, 60, 330}[r.IntN(4)]
	req := auctiontest.Request("a", auctiontest.BannerImp("1", 0, [2]int64{300, 250}))
	req.Site = &openrtb2.Site{Domain: w.sites[s]}
	req.Device = &openrtb2.Device{DeviceType: adcom1.DeviceType(d), Geo: &openrtb2.Geo{Country: "USA", UTCOffset: offset}}
	logit := w.base + w.site[s] + w.camp[c] + w.siteCamp[s][c] + w.device[d]
	logit += w.hour[t.UTC().Add(time.Duration(offset)*time.Minute).Hour()]
	data := openrtb2.Data{ID: "dmp"}
	for g := range worldSegments {
		if r.IntN(4) == 0 {
			data.Segment = append(data.Segment, openrtb2.Segment{ID: fmt.Sprint(g)})
			logit += w.segCamp[g][c]
		}
	}
	req.User = &openrtb2.User{Data: []openrtb2.Data{data}}
	return req, w.campaigns[c], 1 / (1 + math.Exp(-logit))
}

// auc is the area under the ROC curve of scores against labels.
func auc(scores []float64, labels []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmpFloat(scores[a], scores[b]) })
	var pos, rankSum float64
	for rank, i := range idx {
		if labels[i] {
			pos++
			rankSum += float64(rank + 1)
		}
	}
	neg := float64(len(scores)) - pos
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// The click model learns the simulated market from its impressions (a
// fifth of the negatives kept) and ends, on held-out traffic, close to the
// truth in AUC and calibrated.
func TestSimulatedMarket(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("400k training and 100k held-out impressions: run without -short and -race")
	}
	const n = 400_000
	w := newWorld(21)
	x := extractor(t, predict.WithBits(18))
	cfg := predict.DefaultConfig()
	cfg.Bits, cfg.NegativeRate, cfg.Alpha, cfg.Seed = 18, 0.2, 0.05, 21
	ctr, err := predict.NewModel(cfg)
	require.NoError(t, err)
	now := noon
	f := make([]uint32, 0, x.MaxFeatures())
	for range n {
		now = now.Add(200 * time.Millisecond)
		req, c, p := w.impression(now)
		f = x.Extract(f[:0], req, &req.Imp[0], c, &c.Creatives[0], now)
		ctr.Learn(f, w.r.Float64() < p)
	}
	const held = 100_000
	var model, truth []float64
	var labels []bool
	var sumModel, sumTruth float64
	for range held {
		now = now.Add(200 * time.Millisecond)
		req, c, p := w.impression(now)
		f = x.Extract(f[:0], req, &req.Imp[0], c, &c.Creatives[0], now)
		q := ctr.Predict(f)
		model, truth = append(model, q), append(truth, p)
		labels = append(labels, w.r.Float64() < p)
		sumModel += q
		sumTruth += p
	}
	aucModel, aucTruth := auc(model, labels), auc(truth, labels)
	t.Logf("%d impressions: AUC model %.4f, truth %.4f; mean CTR model %.5f, truth %.5f; nonzero weights %d",
		n, aucModel, aucTruth, sumModel/held, sumTruth/held, ctr.NonZero())
	assert.InDelta(t, aucTruth, aucModel, 0.02)
	assert.InEpsilon(t, sumTruth/held, sumModel/held, 0.05)
}
