package predict_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/predict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// fedPredictor is a Predictor over fresh models that feeds a Learner.
func fedPredictor(t testing.TB, clock gavel.Clock, opts ...predict.PredictorOption) (*predict.Predictor, *predict.Learner, *predict.Model) {
	t.Helper()
	x := extractor(t)
	ctr, cvr := models(t, x)
	l, err := predict.NewLearner(ctr, cvr, predict.WithClickWindow(time.Minute))
	require.NoError(t, err)
	p, err := predict.NewPredictor(ctr, cvr, x, append([]predict.PredictorOption{predict.WithClock(clock), predict.WithLearner(l)}, opts...)...)
	require.NoError(t, err)
	return p, l, ctr
}

// The wiring of live traffic: the Bidder tells the Predictor of each bid,
// a billing makes it an impression of the Learner with the features the
// bid's prediction used, a click labels it.
func TestPredictorFeedsLearner(t *testing.T) {
	clock := auctiontest.NewClock(noon)
	p, l, ctr := fedPredictor(t, clock)
	c := cpcCampaign("c1")
	b, err := campaign.NewBidder("house", campaign.WithCampaigns(c), campaign.WithPredictor(p), campaign.WithClock(clock))
	require.NoError(t, err)
	req := request(5)
	resp, err := b.Bid(context.Background(), req)
	require.NoError(t, err)
	require.NotNil(t, resp)
	bid := resp.SeatBid[0].Bid[0]
	assert.Equal(t, predict.FeedbackStats{Observed: 1}, p.FeedbackStats())

	f := p.Features(nil, req, &req.Imp[0], c, &c.Creatives[0], noon)
	before := ctr.Predict(f)
	clock.Advance(time.Second)
	p.Billed(gavel.Billing{Bidder: "house", BidID: bid.ID}, 1000)
	p.Billed(gavel.Billing{Bidder: "house", BidID: bid.ID}, 1000) // a repeat
	p.Billed(gavel.Billing{Bidder: "other", BidID: "x"}, 1000)    // another bidder's
	assert.Equal(t, predict.FeedbackStats{Observed: 1, Shown: 1, Unknown: 2}, p.FeedbackStats())
	assert.Equal(t, int64(1), l.Stats().Impressions)
	l.Clicked(gavel.Event{Type: gavel.EventClick, BidID: bid.ID, Time: clock.Now().Add(10 * time.Second).UnixMilli()})
	s := l.Stats()
	assert.Equal(t, int64(1), s.Clicks)
	assert.Greater(t, ctr.Predict(f), before, "the click model learned the bid's features as a positive")
}

// A billing later than the TTL is not learned; bids beyond the memory
// are forgotten, oldest first, and counted.
func TestBidMemoryBounds(t *testing.T) {
	clock := auctiontest.NewClock(noon)
	p, l, _ := fedPredictor(t, clock, predict.WithBidMemory(16, time.Minute))
	c := cpcCampaign("c1")
	req := request(2)
	for i := range 40 {
		p.ObserveBid(fmt.Sprintf("bid%02d", i), req, &req.Imp[0], c, &c.Creatives[0], campaign.Prediction{})
	}
	clock.Advance(30 * time.Second)
	shown := 0
	for i := range 40 {
		p.Billed(gavel.Billing{BidID: fmt.Sprintf("bid%02d", i)}, 1)
	}
	shown = int(l.Stats().Impressions)
	s := p.FeedbackStats()
	assert.Equal(t, int64(40), s.Observed)
	assert.Equal(t, int64(shown), s.Shown)
	assert.LessOrEqual(t, shown, 16, "at most the memory's bids")
	assert.Positive(t, shown)
	assert.Equal(t, int64(40-shown), s.Unknown)
	assert.Equal(t, int64(40-shown), s.Overwritten)

	p.ObserveBid("late", req, &req.Imp[0], c, &c.Creatives[0], campaign.Prediction{})
	clock.Advance(time.Minute + time.Millisecond)
	p.Billed(gavel.Billing{BidID: "late"}, 1)
	assert.Equal(t, int64(1), p.FeedbackStats().Expired)
	assert.Equal(t, int64(shown), l.Stats().Impressions)
}

func TestFeedbackOptions(t *testing.T) {
	x := extractor(t)
	ctr, _ := models(t, x)
	_, err := predict.NewPredictor(ctr, nil, x, predict.WithLearner(nil), predict.WithBidMemory(3, 0))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, want := range []string{"nil learner", "bid memory 3", "bid ttl 0s"} {
		assert.ErrorContains(t, err, want)
	}
	p, err := predict.NewPredictor(ctr, nil, x) // no learner: nothing kept
	require.NoError(t, err)
	c := cpcCampaign("c1")
	req := request(2)
	p.ObserveBid("b", req, &req.Imp[0], c, &c.Creatives[0], campaign.Prediction{})
	p.Billed(gavel.Billing{BidID: "b"}, 1)
	assert.Zero(t, p.FeedbackStats())
}

func TestObserveBidDoesNotAllocate(t *testing.T) {
	p, _, _ := fedPredictor(t, auctiontest.NewClock(noon), predict.WithBidMemory(1024, time.Minute))
	c := cpcCampaign("c1")
	req := request(5)
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = fmt.Sprintf("bid%05d", i)
	}
	for _, id := range ids { // warm: every slot taken
		p.ObserveBid(id, req, &req.Imp[0], c, &c.Creatives[0], campaign.Prediction{})
	}
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		p.ObserveBid(ids[i%len(ids)], req, &req.Imp[0], c, &c.Creatives[0], campaign.Prediction{})
		i++
	})
	assert.Zero(t, allocs)
}

// Bids observed and billed from many goroutines, as a Bidder and notice
// handlers do.
func TestFeedbackConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := auctiontest.NewClock(noon)
	p, l, _ := fedPredictor(t, clock)
	c := cpcCampaign("c1")
	req := request(3)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				id := fmt.Sprintf("g%d-%d", g, i)
				p.ObserveBid(id, req, &req.Imp[0], c, &c.Creatives[0], campaign.Prediction{})
				_, _ = p.Predict(context.Background(), req, &req.Imp[0], c, &c.Creatives[0])
				p.Billed(gavel.Billing{BidID: id}, 1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(2000), l.Stats().Impressions)
	assert.Equal(t, predict.FeedbackStats{Observed: 2000, Shown: 2000}, p.FeedbackStats())
}

// WithMonitors: each example the Learner learns reaches its model's
// Monitor, with the prediction made before learning it.
func TestLearnerFeedsMonitors(t *testing.T) {
	clock := auctiontest.NewClock(noon)
	x := extractor(t)
	ctr, cvr := models(t, x)
	ctrMon, err := predict.NewMonitor("ctr", predict.WithMonitorClock(clock))
	require.NoError(t, err)
	cvrMon, err := predict.NewMonitor("cvr", predict.WithMonitorClock(clock))
	require.NoError(t, err)
	l, err := predict.NewLearner(ctr, cvr, predict.WithClickWindow(time.Minute), predict.WithConversionWindow(time.Minute),
		predict.WithMonitors(ctrMon, cvrMon))
	require.NoError(t, err)
	c := cpcCampaign("c1")
	req := request(5)
	f := x.Extract(nil, req, &req.Imp[0], c, &c.Creatives[0], noon)
	for i := range 10 {
		l.Shown(fmt.Sprint(i), f, noon)
	}
	l.Click("0", noon.Add(time.Second))
	l.Conversion("0", noon.Add(2*time.Second))
	l.Click("1", noon.Add(time.Second))
	l.Advance(noon.Add(2 * time.Minute))
	s := ctrMon.Snapshot()
	assert.Equal(t, int64(10), s.Observations)
	assert.Equal(t, int64(2), s.Positives)
	s = cvrMon.Snapshot()
	assert.Equal(t, int64(2), s.Observations)
	assert.Equal(t, int64(1), s.Positives)
}
