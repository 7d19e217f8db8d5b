package main

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

const (
	// maxBody caps a bid request, after inflating a gzip body.
	maxBody = 1 << 20
	// tmaxMargin is how long before the request's tmax the DSP answers at
	// the latest (when the answer is not meant to be late), to leave time
	// for the answer to travel.
	tmaxMargin = 5 * time.Millisecond
)

// config is how the DSP behaves; see the flags in main.go.
type config struct {
	Campaigns []Campaign
	// Latency is the median time to answer and Spread the sigma of the
	// log-normal it is drawn from (0: always Latency).
	Latency time.Duration
	Spread  float64
	NoBid   float64 // the share of requests answered with 204 at random
	Late    float64 // the share of requests answered after their tmax
	Seed    uint64
	// Base is the URL the notice URLs point at, such as
	// "http://127.0.0.1:9001"; empty means "http://" and the request's Host.
	Base string
}

func (c *config) validate() error {
	var errs []error
	if c.NoBid < 0 || c.NoBid > 1 {
		errs = append(errs, fmt.Errorf("dsp: nobid %v is not in [0, 1]", c.NoBid))
	}
	if c.Late < 0 || c.Late > 1 {
		errs = append(errs, fmt.Errorf("dsp: late %v is not in [0, 1]", c.Late))
	}
	if c.Latency < 0 || c.Spread < 0 {
		errs = append(errs, errors.New("dsp: latency and spread must not be negative"))
	}
	if len(c.Campaigns) == 0 {
		errs = append(errs, errors.New("dsp: no campaigns"))
	}
	return errors.Join(errs...)
}

// dsp is a demo demand-side platform: an http.Handler that answers bid
// requests from its campaigns and counts the notices it receives. It is
// safe for concurrent use; draws from its random source are serialised, so
// that a given seed and sequence of requests gives the same answers.
type dsp struct {
	cfg   config
	mu    sync.Mutex // guards rng
	rng   *rand.Rand
	seq   atomic.Uint64
	stats stats
	mux   *http.ServeMux
}

func newDSP(cfg config) (*dsp, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &dsp{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	d.stats.losses = make(map[string]int64)
	d.mux = http.NewServeMux()
	d.mux.HandleFunc("POST /bid", d.bid)
	d.mux.HandleFunc("GET /win", d.win)
	d.mux.HandleFunc("GET /bill", d.bill)
	d.mux.HandleFunc("GET /loss", d.loss)
	d.mux.HandleFunc("GET /stats", d.showStats)
	return d, nil
}

// ServeHTTP serves POST /bid, the notice paths GET /win, /bill and /loss,
// and GET /stats.
func (d *dsp) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

// plan is what the DSP decided to do with a request before looking at it.
type plan struct {
	noBid bool
	late  bool
	delay time.Duration
}

// draw takes the random decisions for one request, always the same number
// of draws, so that the sequence stays deterministic.
func (d *dsp) draw() plan {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := plan{noBid: d.rng.Float64() < d.cfg.NoBid, late: d.rng.Float64() < d.cfg.Late}
	p.delay = time.Duration(float64(d.cfg.Latency) * math.Exp(d.cfg.Spread*d.rng.NormFloat64()))
	return p
}

// wait sleeps for the planned latency, cut to end tmaxMargin before the
// request's tmax unless the plan is to be late, in which case it answers
// after tmax. It returns false when the request was cancelled meanwhile.
func wait(r *http.Request, start time.Time, tmax int64, p plan) bool {
	delay := p.delay
	if tmax > 0 {
		budget := time.Duration(tmax)*time.Millisecond - tmaxMargin
		if p.late {
			delay = max(delay, budget+tmaxMargin+time.Millisecond)
		} else {
			delay = min(delay, budget)
		}
	}
	t := time.NewTimer(max(0, delay-time.Since(start)))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (d *dsp) bid(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	d.stats.add(&d.stats.requests)
	req, status, err := decodeRequest(r)
	if err != nil {
		d.stats.add(&d.stats.invalid)
		http.Error(w, err.Error(), status)
		return
	}
	p := d.draw()
	var resp *openrtb2.BidResponse
	if !p.noBid {
		resp = d.respond(req, d.base(r))
	}
	if !wait(r, start, req.TMax, p) {
		return
	}
	if resp == nil {
		d.stats.add(&d.stats.noBids)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	d.stats.addBids(len(resp.SeatBid[0].Bid))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Openrtb-Version", "2.6")
	_ = json.NewEncoder(w).Encode(resp)
}

// decodeRequest reads a bid request, plain or gzip, up to maxBody bytes.
// It returns the status to answer with when the request cannot be used.
func decodeRequest(r *http.Request) (*openrtb2.BidRequest, int, error) {
	var body io.Reader = http.MaxBytesReader(nil, r.Body, maxBody)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("dsp: gzip: %w", err)
		}
		defer zr.Close()
		body = io.LimitReader(zr, maxBody+1)
	}
	data, err := io.ReadAll(body)
	if err != nil || len(data) > maxBody {
		return nil, http.StatusRequestEntityTooLarge, errors.New("dsp: request too large or unreadable")
	}
	var req openrtb2.BidRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("dsp: bad request: %w", err)
	}
	if req.ID == "" || len(req.Imp) == 0 {
		return nil, http.StatusBadRequest, errors.New("dsp: bad request: id and imp are required")
	}
	return &req, 0, nil
}

func (d *dsp) base(r *http.Request) string {
	if d.cfg.Base != "" {
		return strings.TrimSuffix(d.cfg.Base, "/")
	}
	return "http://" + r.Host
}

// respond builds the response for req: one bid per imp that a campaign
// wants, all in one seat; nil when there is none or req does not accept USD.
func (d *dsp) respond(req *openrtb2.BidRequest, base string) *openrtb2.BidResponse {
	if len(req.Cur) > 0 && !containsFold(req.Cur, "USD") {
		return nil
	}
	n := d.seq.Add(1)
	var bids []openrtb2.Bid
	for i := range req.Imp {
		imp := &req.Imp[i]
		c, cr := pick(d.cfg.Campaigns, req, imp)
		if c == nil {
			continue
		}
		bids = append(bids, openrtb2.Bid{
			ID:      fmt.Sprintf("b%d-%d", n, i),
			ImpID:   imp.ID,
			Price:   c.Price,
			AdM:     cr.AdM,
			ADomain: cr.ADomain,
			Cat:     cr.Cat,
			CrID:    cr.CrID,
			CID:     c.ID,
			W:       cr.W,
			H:       cr.H,
			MType:   openrtb2.MarkupBanner,
			NURL:    noticeURL(base, "win", c.ID),
			BURL:    noticeURL(base, "bill", c.ID),
			LURL:    noticeURL(base, "loss", c.ID),
		})
	}
	if len(bids) == 0 {
		return nil
	}
	return &openrtb2.BidResponse{
		ID:      req.ID,
		BidID:   "r" + strconv.FormatUint(n, 10),
		Cur:     "USD",
		SeatBid: []openrtb2.SeatBid{{Bid: bids}},
	}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
