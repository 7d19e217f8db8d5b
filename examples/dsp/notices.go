package main

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

// noticeURL returns the notice URL of kind ("win", "bill" or "loss") for a
// bid of campaign, with the OpenRTB 2.6 §4.4 macros the exchange fills in.
func noticeURL(base, kind, campaign string) string {
	u := base + "/" + kind + "?campaign=" + url.QueryEscape(campaign) +
		"&auction=${AUCTION_ID}&bidid=${AUCTION_BID_ID}&imp=${AUCTION_IMP_ID}" +
		"&cur=${AUCTION_CURRENCY}&min=${AUCTION_MIN_TO_WIN}"
	switch kind {
	case "win":
		u += "&price=${AUCTION_PRICE}"
	case "bill":
		u += "&price=${AUCTION_PRICE}&ts=${AUCTION_IMP_TS}"
	case "loss":
		u += "&loss=${AUCTION_LOSS}"
	}
	return u
}

// costMicros is what one impression at a CPM price costs, in micros of
// the currency, rounded half up as gavel.BidOutcome.CostMicros does.
func costMicros(cpm float64) int64 {
	return (int64(math.Round(cpm*1e6)) + 500) / 1000
}

// stats counts what the DSP saw. Its methods are safe for concurrent use.
type stats struct {
	mu        sync.Mutex
	requests  int64
	invalid   int64
	noBids    int64
	responses int64
	bids      int64
	wins      int64
	billings  int64
	spend     int64 // what the billed impressions cost, micros of USD
	losses    map[string]int64
	badNotes  int64
}

// Stats is the JSON form of stats, served at GET /stats.
type Stats struct {
	Requests       int64            `json:"requests"`
	Invalid        int64            `json:"invalid_requests"`
	NoBids         int64            `json:"no_bids"`
	Responses      int64            `json:"responses"`
	Bids           int64            `json:"bids"`
	Wins           int64            `json:"wins"`
	Billings       int64            `json:"billings"`
	SpendMicros    int64            `json:"spend_micros"`
	Losses         map[string]int64 `json:"losses"`
	InvalidNotices int64            `json:"invalid_notices"`
}

func (s *stats) add(n *int64) {
	s.mu.Lock()
	*n++
	s.mu.Unlock()
}

func (s *stats) addBids(n int) {
	s.mu.Lock()
	s.responses++
	s.bids += int64(n)
	s.mu.Unlock()
}

func (s *stats) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{
		Requests: s.requests, Invalid: s.invalid, NoBids: s.noBids, Responses: s.responses,
		Bids: s.bids, Wins: s.wins, Billings: s.billings, SpendMicros: s.spend,
		Losses: make(map[string]int64, len(s.losses)), InvalidNotices: s.badNotes,
	}
	for k, v := range s.losses {
		out.Losses[k] = v
	}
	return out
}

// notice checks the fields every notice carries and answers 400 when one
// is missing; it returns the query and whether it was valid.
func (d *dsp) notice(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	q := r.URL.Query()
	if q.Get("campaign") == "" || q.Get("auction") == "" || q.Get("imp") == "" {
		d.stats.add(&d.stats.badNotes)
		http.Error(w, "dsp: notice without campaign, auction or imp", http.StatusBadRequest)
		return q, false
	}
	return q, true
}

func (d *dsp) win(w http.ResponseWriter, r *http.Request) {
	if _, ok := d.notice(w, r); ok {
		d.stats.add(&d.stats.wins)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (d *dsp) bill(w http.ResponseWriter, r *http.Request) {
	q, ok := d.notice(w, r)
	if !ok {
		return
	}
	price, err := strconv.ParseFloat(q.Get("price"), 64)
	if err != nil || price < 0 {
		d.stats.add(&d.stats.badNotes)
		http.Error(w, "dsp: billing notice without a price", http.StatusBadRequest)
		return
	}
	d.stats.mu.Lock()
	d.stats.billings++
	d.stats.spend += costMicros(price)
	d.stats.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (d *dsp) loss(w http.ResponseWriter, r *http.Request) {
	q, ok := d.notice(w, r)
	if !ok {
		return
	}
	reason := q.Get("loss")
	if _, err := strconv.Atoi(reason); err != nil {
		reason = "unknown"
	}
	d.stats.mu.Lock()
	d.stats.losses[reason]++
	d.stats.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (d *dsp) showStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(d.stats.snapshot())
}
