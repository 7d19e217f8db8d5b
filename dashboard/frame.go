package dashboard

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// frame is what the page gets each second: rates over the last second
// (Secs, a second but for the first frame after a pause) and the state of
// what is watched. Money is in micros; prices are micros of CPM.
type frame struct {
	Time      int64           `json:"t"`    // Unix milliseconds, by the Dashboard's clock
	Secs      float64         `json:"secs"` // the span the rates are over
	Auctions  auctionFrame    `json:"auctions"`
	Bidders   []bidderFrame   `json:"bidders"`
	NoBids    []reasonFrame   `json:"noBids"`
	Losses    []reasonFrame   `json:"losses"`
	Accounts  []accountFrame  `json:"accounts"`
	Campaigns []campaignFrame `json:"campaigns"`
	Handler   *handlerFrame   `json:"handler,omitempty"` // with WatchHandler only
	Models    []modelFrame    `json:"models,omitempty"`  // from predict.Monitor hooks
}

type auctionFrame struct {
	Rate     float64 `json:"rate"` // auctions a second, any outcome
	Won      float64 `json:"won"`
	NoBid    float64 `json:"noBid"`
	Invalid  float64 `json:"invalid"`
	Failed   float64 `json:"failed"`
	P50      float64 `json:"p50"` // latency in milliseconds, of the auctions that ran
	P90      float64 `json:"p90"`
	P99      float64 `json:"p99"`
	Bids     float64 `json:"bids"`     // bids a second
	AvgBid   int64   `json:"avgBid"`   // mean bid price; 0 without bids
	AvgClear int64   `json:"avgClear"` // mean clearing price; 0 without wins
}

type bidderFrame struct {
	Name      string  `json:"name"`
	Calls     float64 `json:"calls"`     // calls a second
	NotCalled float64 `json:"notCalled"` // auctions a second it was left out of
	BidRate   float64 `json:"bidRate"`   // shares of its calls, 0 to 1
	NoBidRate float64 `json:"noBidRate"`
	Timeouts  float64 `json:"timeoutRate"`
	Errors    float64 `json:"errorRate"` // errors and invalid responses
	WinRate   float64 `json:"winRate"`   // share of its bids that won
	P50       float64 `json:"p50"`       // call latency in milliseconds
	P90       float64 `json:"p90"`
	P99       float64 `json:"p99"`
	Bids      float64 `json:"bids"` // bids a second
	Wins      float64 `json:"wins"`
	AvgBid    int64   `json:"avgBid"`
	AvgClear  int64   `json:"avgClear"`
}

type reasonFrame struct {
	Code int     `json:"code"` // -1 for the codes past WithMaxReasons
	Name string  `json:"name"` // empty for a code the Dashboard has no name for
	Rate float64 `json:"rate"` // a second
}

type accountFrame struct {
	Name string `json:"name"`
	// From the budget hook, a second.
	Reserves float64 `json:"reserves"`
	Reserved int64   `json:"reserved"` // micros reserved a second
	Refusals float64 `json:"refusals"`
	Failures float64 `json:"failures"`
	// From the billing hook (Billed), a second.
	Billed      float64 `json:"billed"`      // impressions billed a second
	BilledSpend int64   `json:"billedSpend"` // micros billed a second
	// From a watched ledger; absent when not watched or not read.
	Balance *balanceFrame `json:"balance,omitempty"`
	// From a watched pacer; absent when not watched.
	Pacing *float64 `json:"pacing,omitempty"` // the pacing rate, 0 to 1
	Target *int64   `json:"target,omitempty"` // the spend the pacer aims at by now (a TargetReader)
}

type balanceFrame struct {
	Budget    int64 `json:"budget"`
	Committed int64 `json:"committed"`
	Held      int64 `json:"held"`
	Remaining int64 `json:"remaining"`
}

type handlerFrame struct {
	InFlight int64   `json:"inFlight"`
	Shed     float64 `json:"shed"` // a second, as the other fields
	OK       float64 `json:"ok"`   // 200
	NoBid    float64 `json:"noBid"`
	Rejected float64 `json:"rejected"` // 4xx: invalid, malformed, too large, bad encoding or method
	Canceled float64 `json:"canceled"`
	Errors   float64 `json:"errors"`
}

// readings are the counters as last read, to take differences from.
type readings struct {
	at        time.Time // by the monotonic clock
	auctions  auctionReading
	bidders   map[*bidderCounters]bidderReading
	reasons   map[*atomic.Int64]int64
	accounts  map[*accountCounters]accountCounts
	campaigns map[*campaignCounters]campaignCounts
	handlers  map[*gavelhttp.AuctionHandler]gavelhttp.HandlerStats
}

type auctionReading struct {
	won, noBid, invalid, failed int64
	latency                     [latencyBuckets]int64
	bids, bidMicros             int64
	wins, clearMicros           int64
}

type bidderReading struct {
	statuses          [int(gavel.StatusBudgetExhausted) + 1]int64
	latency           [latencyBuckets]int64
	bids, bidMicros   int64
	wins, clearMicros int64
}

type accountCounts struct {
	reserved, reservedMicros, refused, failed int64
	billed, billedMicros                      int64
}

func newReadings() *readings {
	return &readings{
		bidders:   map[*bidderCounters]bidderReading{},
		reasons:   map[*atomic.Int64]int64{},
		accounts:  map[*accountCounters]accountCounts{},
		campaigns: map[*campaignCounters]campaignCounts{},
		handlers:  map[*gavelhttp.AuctionHandler]gavelhttp.HandlerStats{},
	}
}

// span is what a frame's rates are over.
type span struct{ secs float64 }

func (s span) rate(n int64) float64 { return round2(float64(max(n, 0)) / s.secs) }

func round2(x float64) float64 { return math.Round(x*100) / 100 }

func share(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return math.Round(float64(n)/float64(of)*10000) / 10000
}

func mean(sum, n int64) int64 {
	if n <= 0 {
		return 0
	}
	return int64(math.Round(float64(sum) / float64(n)))
}

// build reads every counter and watched value, and returns the frame of
// the differences since r was last read; r then holds the new readings.
func (d *Dashboard) build(ctx context.Context, r *readings, now time.Time) *frame {
	s := span{secs: max(now.Sub(r.at).Seconds(), 0.001)}
	r.at = now
	f := &frame{Time: d.cfg.clock.Now().UnixMilli(), Secs: round2(s.secs)}
	f.Auctions = d.auctionFrame(r, s)
	d.bidders.each(func(name string, b *bidderCounters, other bool) {
		if other {
			name = "(other)"
		}
		f.Bidders = append(f.Bidders, bidderFrameOf(name, b, r, s))
	})
	f.NoBids = reasonFrames(d.noBids, noBidNames, r, s)
	f.Losses = reasonFrames(d.losses, lossNames, r, s)
	f.Accounts = d.accountFrames(ctx, r, s)
	f.Campaigns = d.campaignFrames(r, s, f.Accounts)
	f.Handler = d.handlerFrame(r, s)
	f.Models = d.modelFrames()
	return f
}

func (d *Dashboard) auctionFrame(r *readings, s span) auctionFrame {
	a := &d.auctions
	cur := auctionReading{
		won: a.won.Load(), noBid: a.noBid.Load(), invalid: a.invalid.Load(), failed: a.failed.Load(),
		bids: a.bids.Load(), bidMicros: a.bidMicros.Load(), wins: a.wins.Load(), clearMicros: a.clearMicros.Load(),
	}
	a.latency.read(&cur.latency)
	p := r.auctions
	r.auctions = cur
	lat := diff(&cur.latency, &p.latency)
	won, noBid, invalid, failed := cur.won-p.won, cur.noBid-p.noBid, cur.invalid-p.invalid, cur.failed-p.failed
	return auctionFrame{
		Rate: s.rate(won + noBid + invalid + failed),
		Won:  s.rate(won), NoBid: s.rate(noBid), Invalid: s.rate(invalid), Failed: s.rate(failed),
		P50: round2(quantile(&lat, 0.5)), P90: round2(quantile(&lat, 0.9)), P99: round2(quantile(&lat, 0.99)),
		Bids:     s.rate(cur.bids - p.bids),
		AvgBid:   mean(cur.bidMicros-p.bidMicros, cur.bids-p.bids),
		AvgClear: mean(cur.clearMicros-p.clearMicros, cur.wins-p.wins),
	}
}

func diff(cur, prev *[latencyBuckets]int64) [latencyBuckets]int64 {
	var d [latencyBuckets]int64
	for i := range d {
		d[i] = max(cur[i]-prev[i], 0)
	}
	return d
}

func bidderFrameOf(name string, b *bidderCounters, r *readings, s span) bidderFrame {
	var cur bidderReading
	for i := range b.statuses {
		cur.statuses[i] = b.statuses[i].Load()
	}
	b.latency.read(&cur.latency)
	cur.bids, cur.bidMicros = b.bids.Load(), b.bidMicros.Load()
	cur.wins, cur.clearMicros = b.wins.Load(), b.clearMicros.Load()
	p := r.bidders[b]
	r.bidders[b] = cur
	var st [len(cur.statuses)]int64
	var calls, all int64
	for i := range st {
		st[i] = cur.statuses[i] - p.statuses[i]
		all += st[i]
		if gavel.BidderStatus(i).Called() {
			calls += st[i]
		}
	}
	lat := diff(&cur.latency, &p.latency)
	bids, wins := cur.bids-p.bids, cur.wins-p.wins
	return bidderFrame{
		Name: name, Calls: s.rate(calls), NotCalled: s.rate(all - calls),
		BidRate:   share(st[gavel.StatusBid], calls),
		NoBidRate: share(st[gavel.StatusNoBid], calls),
		Timeouts:  share(st[gavel.StatusTimeout], calls),
		Errors:    share(st[gavel.StatusError]+st[gavel.StatusInvalidResponse], calls),
		WinRate:   share(wins, bids),
		P50:       round2(quantile(&lat, 0.5)), P90: round2(quantile(&lat, 0.9)), P99: round2(quantile(&lat, 0.99)),
		Bids: s.rate(bids), Wins: s.rate(wins),
		AvgBid:   mean(cur.bidMicros-p.bidMicros, bids),
		AvgClear: mean(cur.clearMicros-p.clearMicros, wins),
	}
}

// reasonFrames returns the reasons counted in the last span, in the order
// first seen.
func reasonFrames(b *bounded[int, atomic.Int64], names map[int]string, r *readings, s span) []reasonFrame {
	var out []reasonFrame
	b.each(func(code int, c *atomic.Int64, other bool) {
		if other {
			code = otherReason
		}
		n := c.Load()
		p := r.reasons[c]
		r.reasons[c] = n
		if n > p {
			out = append(out, reasonFrame{Code: code, Name: names[code], Rate: s.rate(n - p)})
		}
	})
	return out
}

func (d *Dashboard) handlerFrame(r *readings, s span) *handlerFrame {
	hs := d.watchedHandlers()
	if len(hs) == 0 {
		return nil
	}
	f := &handlerFrame{}
	for _, h := range hs {
		cur := h.Stats()
		p := r.handlers[h]
		r.handlers[h] = cur
		f.InFlight += cur.InFlight
		f.Shed += s.rate(cur.Shed - p.Shed)
		f.OK += s.rate(cur.Won - p.Won)
		f.NoBid += s.rate(cur.NoBid - p.NoBid)
		f.Rejected += s.rate(cur.Invalid + cur.Malformed + cur.TooLarge + cur.BadEncoding + cur.BadMethod -
			(p.Invalid + p.Malformed + p.TooLarge + p.BadEncoding + p.BadMethod))
		f.Canceled += s.rate(cur.Canceled - p.Canceled)
		f.Errors += s.rate(cur.Errors - p.Errors)
	}
	return f
}
