package sim

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/predict"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// day is how long each simulated day lasts.
const day = 24 * time.Hour

// Run simulates cfg's market: a training day in which a predict.Predictor
// learns online, through a predict.Learner fed from the house's billed
// impressions (Predictor.Billed, from the features ObserveBid kept at bid
// time) and from clicks and conversions (Learner.Clicked, Converted),
// watched by a Monitor per model; then a held-out day on fresh traffic in
// which the models only predict; then, with CompareFixedCPM, the held-out
// day again with the same campaigns bidding fixed CPMs. Every auction is a
// gavel.Auction run: the house campaign.Bidder against cfg.Competitors
// in-process bidders, first price, each campaign's budget on a
// gavel.MemoryLedger paced by a gavel.EvenPacer over its day. Time is an
// auctiontest.Clock moved by Run, so a run depends on cfg alone.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := newSim(cfg)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	per := cfg.Training / cfg.TrainingDays
	for d := range cfg.TrainingDays {
		n := per
		if d == cfg.TrainingDays-1 {
			n = cfg.Training - per*d
		}
		r, err := s.day(ctx, d, n, true, nil)
		if err != nil {
			return nil, err
		}
		rep.Training = append(rep.Training, r)
	}
	s.closeWindows(cfg.Start.Add(time.Duration(cfg.TrainingDays) * day))
	rep.Learner, rep.Feedback = s.learner.Stats(), s.pred.FeedbackStats()
	rep.CTRMonitor, rep.CVRMonitor = s.ctrMon.Snapshot(), s.cvrMon.Snapshot()
	// The held-out day is a week after the first: the models saw
	// TrainingDays weekdays, and the weekday is one of their features.
	if rep.HeldOut, err = s.day(ctx, 7, cfg.HeldOut, cfg.HeldOutLearns, nil); err != nil {
		return nil, err
	}
	if cfg.CompareFixedCPM {
		cpm := make([]int64, len(rep.HeldOut.Campaigns))
		for i, c := range rep.HeldOut.Campaigns {
			cpm[i] = max(c.CPMMicros(), cfg.FloorMicros)
		}
		if rep.FixedCPM, err = s.day(ctx, 7, cfg.HeldOut, false, cpm); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// sim is one simulation's state across its days.
type sim struct {
	cfg            Config
	w              *World
	clock          *auctiontest.Clock
	pred           *predict.Predictor
	learner        *predict.Learner
	ctrMon, cvrMon *predict.Monitor
	events         eventQueue
}

func newSim(cfg Config) (*sim, error) {
	s := &sim{cfg: cfg, w: NewWorld(cfg), clock: auctiontest.NewClock(cfg.Start)}
	x, err := predict.NewExtractor(predict.WithBits(cfg.Bits))
	if err != nil {
		return nil, err
	}
	mc := predict.DefaultConfig()
	mc.Bits, mc.Alpha, mc.Seed = cfg.Bits, 0.05, cfg.Seed
	ctr, err := predict.NewModel(mc)
	if err != nil {
		return nil, err
	}
	mc.Seed++
	cvr, err := predict.NewModel(mc)
	if err != nil {
		return nil, err
	}
	monOpts := []predict.MonitorOption{predict.WithMonitorClock(s.clock), predict.WithMonitorWindow(6*time.Hour, 24)}
	if s.ctrMon, err = predict.NewMonitor("ctr", monOpts...); err != nil {
		return nil, err
	}
	if s.cvrMon, err = predict.NewMonitor("cvr", monOpts...); err != nil {
		return nil, err
	}
	s.learner, err = predict.NewLearner(ctr, cvr, predict.WithClickWindow(cfg.ClickWindow),
		predict.WithConversionWindow(cfg.ConversionWindow), predict.WithMonitors(s.ctrMon, s.cvrMon))
	if err != nil {
		return nil, err
	}
	s.pred, err = predict.NewPredictor(ctr, cvr, x, predict.WithClock(s.clock), predict.WithLearner(s.learner),
		predict.WithBidMemory(1<<12, time.Minute))
	return s, err
}

// market is one day's auction: its ledger, pacer and bidders.
type market struct {
	auction *gavel.Auction
	camps   []*campaign.Campaign
}

func (s *sim) market(start time.Time, n int, cpm []int64) (*market, error) {
	cfg := &s.cfg
	ledger, err := gavel.NewMemoryLedger(gavel.WithLedgerClock(s.clock))
	if err != nil {
		return nil, err
	}
	pacer, err := gavel.NewEvenPacer(gavel.WithPacerClock(s.clock), gavel.WithPacerStep(cfg.PacerStep))
	if err != nil {
		return nil, err
	}
	camps := s.w.Campaigns(cpm)
	budgets := make([]gavel.Budget, len(camps))
	for i, c := range camps {
		budgets[i] = gavel.Budget{Account: c.Account, Amount: int64(n) * cfg.BudgetPerAuction, Start: start, End: start.Add(day)}
	}
	opts := []campaign.Option{campaign.WithCampaigns(camps...), campaign.WithClock(s.clock),
		campaign.WithPacer(pacer), campaign.WithBalances(ledger), campaign.WithBudgets(budgets...)}
	switch {
	case cpm != nil:
	case start.Equal(cfg.Start) && cfg.WarmUp > 0:
		// The models learn the first hours of training from bids on the
		// campaigns' fixed rates: a model that starts from nothing predicts
		// 0.5, and learns its first negatives a click window late.
		warmEnd := start.Add(cfg.WarmUp)
		opts = append(opts, campaign.WithBidObserver(s.pred), campaign.WithPredictor(campaign.PredictorFunc(
			func(ctx context.Context, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *campaign.Campaign, cr *campaign.Creative) (campaign.Prediction, error) {
				if s.clock.Now().Before(warmEnd) {
					return campaign.FixedRates.Predict(ctx, req, imp, c, cr)
				}
				return s.pred.Predict(ctx, req, imp, c, cr)
			})))
	default:
		opts = append(opts, campaign.WithPredictor(s.pred))
	}
	house, err := campaign.NewBidder("house", opts...)
	if err != nil {
		return nil, err
	}
	bidders := []gavel.Bidder{house}
	for k := range cfg.Competitors {
		name := "dsp" + strconv.Itoa(k)
		bidders = append(bidders, gavel.BidderFunc(name, func(_ context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
			price := s.w.competitorBid(req, k)
			if price <= 0 {
				return nil, nil
			}
			return &openrtb2.BidResponse{ID: req.ID, SeatBid: []openrtb2.SeatBid{{Seat: name, Bid: []openrtb2.Bid{{
				ID: name, ImpID: req.Imp[0].ID, Price: float64(price) / 1e6, CrID: "c", AdM: "<div>ad</div>", ADomain: []string{name + ".example"}}}}}}, nil
		}))
	}
	noAccount := func(string, string) string { return "" } // competitors are not budgeted
	a, err := gavel.New(
		gavel.WithBidders(bidders...),
		gavel.WithBidderSeats(house.Name(), house.Accounts()...),
		gavel.WithAccounts(house.AccountFunc(noAccount)),
		gavel.WithBudgets(house.Budgets()...),
		gavel.WithLedger(ledger), gavel.WithPacer(pacer), gavel.WithClock(s.clock),
		// in-process bidders answer in microseconds: a generous deadline
		// keeps a loaded machine from timing one out, and the run
		// deterministic
		gavel.WithDefaultTMax(time.Second), gavel.WithMaxTMax(time.Second),
	)
	if err != nil {
		return nil, err
	}
	return &market{auction: a, camps: camps}, nil
}

// day runs n auctions over day d after the start (0 training, 7 held out) with the house
// campaigns bidding on predictions, or the fixed CPMs cpm; learn feeds
// the Learner.
func (s *sim) day(ctx context.Context, d, n int, learn bool, cpm []int64) (DayReport, error) {
	start := s.cfg.Start.Add(time.Duration(d) * day)
	s.clock.Set(start) // before the budgets are set: their pacing starts now
	m, err := s.market(start, n, cpm)
	if err != nil {
		return DayReport{}, err
	}
	defer m.auction.Close(context.Background())
	rep := DayReport{Start: start, Auctions: n, Campaigns: make([]CampaignReport, len(m.camps))}
	for i, c := range m.camps {
		rep.Campaigns[i] = CampaignReport{ID: c.ID, Goal: s.w.camps[i].Goal.Kind, Budget: int64(n) * s.cfg.BudgetPerAuction}
	}
	traffic := rand.New(rand.NewPCG(s.cfg.Seed, uint64(d)))
	outcomes := rand.New(rand.NewPCG(s.cfg.Seed, uint64(d)+0x100))
	step := day / time.Duration(n)
	var eval evalSet
	for i := range n {
		now := start.Add(time.Duration(i) * step)
		s.clock.Set(now)
		if learn {
			s.deliver(now)
		}
		imp := s.w.Draw(traffic, "d"+strconv.Itoa(d)+"-"+strconv.Itoa(i))
		res, err := m.auction.Run(ctx, imp.Req)
		if err != nil {
			return rep, fmt.Errorf("sim: auction %d of day %d: %w", i, d, err)
		}
		if err := s.settle(ctx, m, res, imp, now, learn, outcomes, &rep, &eval); err != nil {
			return rep, err
		}
	}
	eval.finish(&rep)
	return rep, nil
}

// settle bills the house's win of res, if any, and draws its click and
// conversion from the truth.
func (s *sim) settle(ctx context.Context, m *market, res *gavel.Result, imp Impression, now time.Time, learn bool, r *rand.Rand, rep *DayReport, eval *evalSet) error {
	w := res.Imps[0].Winner
	if w < 0 {
		return nil
	}
	rep.Sold++
	b := &res.Bids[w]
	if b.Bidder != "house" {
		return nil
	}
	bl, err := res.Billing(w)
	if err != nil {
		return err
	}
	cost := b.CostMicros()
	if err := m.auction.Commit(ctx, bl, cost); err != nil {
		return fmt.Errorf("sim: commit %s: %w", bl.BidID, err)
	}
	if learn {
		s.pred.Billed(bl, cost)
	}
	ci := s.w.campaignIndex(b.Bid.CID)
	c := m.camps[ci]
	pr, err := s.pred.Predict(ctx, imp.Req, &imp.Req.Imp[0], s.w.camps[ci], &c.Creatives[0])
	if err != nil {
		return err
	}
	ctr, cvr := s.w.CTR(imp, ci, now), s.w.CVR(imp, ci)
	cr := &rep.Campaigns[ci]
	cr.Impressions++
	cr.Spent += cost
	cr.SpentByQuarter[min(3, int(now.Sub(rep.Start)/(day/4)))] += cost
	cr.ExpectedClicks += ctr
	cr.ExpectedConversions += ctr * cvr
	cr.PredictedClicks += pr.CTR
	cr.PredictedConversions += pr.CTR * pr.CVR
	clicked := r.Float64() < ctr
	eval.add(pr.CTR, ctr, clicked)
	if !clicked {
		return nil
	}
	cr.Clicks++
	at := now.Add(delay(r, s.cfg.ClickDelay, s.cfg.ClickWindow))
	converted := r.Float64() < cvr
	eval.addClick(pr.CVR, cvr, converted)
	if learn {
		heap.Push(&s.events, event{at: at, bidID: bl.BidID})
	}
	if converted {
		cr.Conversions++
		if learn {
			heap.Push(&s.events, event{at: at.Add(delay(r, s.cfg.ConversionDelay, s.cfg.ConversionWindow)), bidID: bl.BidID, conversion: true})
		}
	}
	return nil
}

// delay draws an exponential delay of the given mean, cut at window: the
// truth's click and conversion probabilities are of events within the
// Learner's windows.
func delay(r *rand.Rand, mean, window time.Duration) time.Duration {
	cut := 1 - math.Exp(-float64(window)/float64(mean))
	return time.Duration(-float64(mean) * math.Log(1-r.Float64()*cut))
}

// deliver gives the Learner the clicks and conversions due by now, as a
// campaign.Tracker would (its ClickHook and ConversionHook).
func (s *sim) deliver(now time.Time) {
	for len(s.events) > 0 && !s.events[0].at.After(now) {
		e := heap.Pop(&s.events).(event)
		ev := gavel.Event{Version: gavel.EventSchemaVersion, Time: e.at.UnixMilli(), BidID: e.bidID}
		if e.conversion {
			ev.Type = gavel.EventConversion
			s.learner.Converted(ev)
		} else {
			ev.Type = gavel.EventClick
			s.learner.Clicked(ev)
		}
	}
}

// closeWindows delivers every event of the training day and closes every
// window, as the time between the days would.
func (s *sim) closeWindows(end time.Time) {
	last := end.Add(s.cfg.ClickWindow + s.cfg.ConversionWindow + time.Second)
	s.clock.Set(last)
	s.deliver(last)
	s.learner.Advance(last)
}

// event is a click or a conversion due at a time.
type event struct {
	at         time.Time
	bidID      string
	conversion bool
}

// eventQueue is a min-heap of events by time.
type eventQueue []event

func (q eventQueue) Len() int           { return len(q) }
func (q eventQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q eventQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)        { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
