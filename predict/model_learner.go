package predict

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
)

// Defaults of the Learner's options.
const (
	// DefaultClickWindow is how long after an impression a click makes it
	// a positive (WithClickWindow).
	DefaultClickWindow = time.Hour
	// DefaultMaxPending bounds the impressions, and separately the clicks,
	// a Learner waits on (WithMaxPending).
	DefaultMaxPending = 1 << 20
)

// A Learner turns an ad server's events into examples for a click model
// and a model of conversions given a click, with delayed feedback handled
// by waiting: an impression (Shown) is a positive of the click model as
// soon as its click arrives within the click window, and a negative only
// once the window has closed with no click (Advance); a click is likewise
// a positive of the conversion model when its conversion arrives within
// the conversion window, a negative when the window closes. Every example
// is thus labelled once, with its final label, at the cost of learning the
// negatives a window late: a model that starts from nothing overpredicts
// until its first windows close.
//
// Events are matched by bid id (campaign.BidID's string form, which
// gavel's billing, click and conversion events carry). The Learner keeps
// a copy of the features of every impression and click it waits on, at
// most WithMaxPending of each; past it the oldest is labelled negative
// early (LearnerStats.Evicted). Windows close in the order Shown and
// clicks were called, which should be the order of their times.
//
// It is safe for concurrent use, and its Clicked and Converted methods
// make it a campaign.ClickHook and campaign.ConversionHook. Create one with
// NewLearner; the zero Learner is not usable.
type Learner struct {
	ctr, cvr              *Model
	clickWindow, cvWindow time.Duration
	maxPending            int
	ctrMon, cvrMon        *Monitor

	mu     sync.Mutex
	imps   waitList // impressions waiting on a click
	clicks waitList // clicks waiting on a conversion
	stats  LearnerStats
}

var (
	_ campaign.ClickHook      = (*Learner)(nil)
	_ campaign.ConversionHook = (*Learner)(nil)
)

// LearnerStats are a Learner's counts since creation.
type LearnerStats struct {
	Pending       int   // impressions waiting on a click now
	PendingClicks int   // clicks waiting on a conversion now
	Impressions   int64 // Shown calls
	Clicks        int64 // positives given to the click model
	Negatives     int64 // negatives given to the click model
	Conversions   int64 // positives given to the conversion model
	ClickNoConv   int64 // negatives given to the conversion model
	Late          int64 // clicks or conversions after their window: labelled negative
	Unmatched     int64 // clicks or conversions of no impression or click waited on
	Evicted       int64 // labelled negative early to stay within WithMaxPending
}

// A LearnerOption configures a Learner.
type LearnerOption interface {
	apply(*Learner)
}

type learnerOption func(*Learner)

func (f learnerOption) apply(l *Learner) { f(l) }

// WithClickWindow sets how long after an impression its click counts. It
// must be positive. Default DefaultClickWindow.
func WithClickWindow(d time.Duration) LearnerOption {
	return learnerOption(func(l *Learner) { l.clickWindow = d })
}

// WithConversionWindow sets how long after a click its conversion counts;
// use the Tracker's attribution window. It must be positive. Default
// campaign.DefaultAttributionWindow.
func WithConversionWindow(d time.Duration) LearnerOption {
	return learnerOption(func(l *Learner) { l.cvWindow = d })
}

// WithMaxPending bounds the impressions, and separately the clicks, the
// Learner waits on. It must be positive. Default DefaultMaxPending.
func WithMaxPending(n int) LearnerOption {
	return learnerOption(func(l *Learner) { l.maxPending = n })
}

// WithMonitors makes the Learner watch its models: before it learns an
// example, it gives the model's prediction for it and its label to the
// model's Monitor (ctr for the click model, cvr for the conversion model;
// either may be nil). The prediction is the one the model made before it
// learned the example, so the Monitor sees each example held out, as
// progressive validation does, at the cost of one more prediction per
// example. Default: none.
func WithMonitors(ctr, cvr *Monitor) LearnerOption {
	return learnerOption(func(l *Learner) { l.ctrMon, l.cvrMon = ctr, cvr })
}

// learnCTR gives the click model an example, and its Monitor first.
func (l *Learner) learnCTR(f []uint32, clicked bool) {
	if l.ctrMon != nil {
		l.ctrMon.Observe(l.ctr.Predict(f), clicked, 1)
	}
	l.ctr.Learn(f, clicked)
}

// learnCVR gives the conversion model an example, and its Monitor first.
func (l *Learner) learnCVR(f []uint32, converted bool) {
	if l.cvrMon != nil {
		l.cvrMon.Observe(l.cvr.Predict(f), converted, 1)
	}
	l.cvr.Learn(f, converted)
}

// NewLearner returns a Learner that trains ctr on impressions and cvr on
// clicks; cvr may be nil, and then clicks wait on nothing. It reports
// every problem at once, wrapping gavel.ErrInvalidOption.
func NewLearner(ctr, cvr *Model, opts ...LearnerOption) (*Learner, error) {
	l := &Learner{ctr: ctr, cvr: cvr, clickWindow: DefaultClickWindow,
		cvWindow: campaign.DefaultAttributionWindow, maxPending: DefaultMaxPending}
	for _, o := range opts {
		o.apply(l)
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: predict: "+format, append([]any{gavel.ErrInvalidOption}, args...)...))
	}
	if ctr == nil {
		bad("nil click model")
	}
	if l.clickWindow <= 0 {
		bad("click window %v not positive", l.clickWindow)
	}
	if l.cvWindow <= 0 {
		bad("conversion window %v not positive", l.cvWindow)
	}
	if l.maxPending <= 0 {
		bad("max pending %d not positive", l.maxPending)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	l.imps.byID = make(map[string]*waiting)
	l.clicks.byID = make(map[string]*waiting)
	return l, nil
}

// Shown records a billed impression of the bid bidID at time at, with the
// features its prediction used (copied). A second Shown of one bid id is
// ignored.
func (l *Learner) Shown(bidID string, features []uint32, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.imps.byID[bidID]; dup {
		return
	}
	l.stats.Impressions++
	for l.imps.len() >= l.maxPending {
		l.learnCTR(l.imps.pop().features, false)
		l.stats.Negatives++
		l.stats.Evicted++
	}
	l.imps.push(&waiting{id: bidID, features: append([]uint32(nil), features...), until: at.Add(l.clickWindow)})
}

// Clicked implements campaign.ClickHook: Click(e.BidID, e.Time).
func (l *Learner) Clicked(e gavel.Event) { l.Click(e.BidID, time.UnixMilli(e.Time)) }

// Converted implements campaign.ConversionHook: Conversion(e.BidID,
// e.Time).
func (l *Learner) Converted(e gavel.Event) { l.Conversion(e.BidID, time.UnixMilli(e.Time)) }

// Click labels the impression of bidID clicked at time at: a positive if
// at is within its click window, else a negative (counted Late). It
// reports whether an impression was waiting.
func (l *Learner) Click(bidID string, at time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.imps.take(bidID)
	if w == nil {
		l.stats.Unmatched++
		return false
	}
	if at.After(w.until) {
		l.stats.Late++
		l.stats.Negatives++
		l.learnCTR(w.features, false)
		return true
	}
	l.stats.Clicks++
	l.learnCTR(w.features, true)
	if l.cvr != nil {
		for l.clicks.len() >= l.maxPending {
			l.learnCVR(l.clicks.pop().features, false)
			l.stats.ClickNoConv++
			l.stats.Evicted++
		}
		l.clicks.push(&waiting{id: bidID, features: w.features, until: at.Add(l.cvWindow)})
	}
	return true
}

// Conversion labels the click of bidID converted at time at: a positive of
// the conversion model if at is within its window, else a negative
// (counted Late). It reports whether a click was waiting.
func (l *Learner) Conversion(bidID string, at time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.clicks.take(bidID)
	if w == nil {
		l.stats.Unmatched++
		return false
	}
	if at.After(w.until) {
		l.stats.Late++
		l.stats.ClickNoConv++
		l.learnCVR(w.features, false)
		return true
	}
	l.stats.Conversions++
	l.learnCVR(w.features, true)
	return true
}

// Advance labels negative every impression and click whose window closed
// at or before now, and returns how many.
func (l *Learner) Advance(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := 0
	for w := l.imps.expired(now); w != nil; w = l.imps.expired(now) {
		l.learnCTR(w.features, false)
		l.stats.Negatives++
		k++
	}
	for w := l.clicks.expired(now); w != nil; w = l.clicks.expired(now) {
		l.learnCVR(w.features, false)
		l.stats.ClickNoConv++
		k++
	}
	return k
}

// Stats returns the Learner's counts.
func (l *Learner) Stats() LearnerStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Pending, s.PendingClicks = l.imps.len(), l.clicks.len()
	return s
}

// waiting is an impression or a click waiting on its label until its
// window closes.
type waiting struct {
	id       string
	features []uint32
	until    time.Time
	done     bool // taken: its entry in the queue is skipped
}

// A waitList holds what waits, by id and in arrival order.
type waitList struct {
	byID  map[string]*waiting
	queue []*waiting
	head  int
}

func (q *waitList) len() int { return len(q.byID) }

func (q *waitList) push(w *waiting) {
	q.byID[w.id] = w
	q.queue = append(q.queue, w)
}

// take removes and returns the entry of id, nil if none.
func (q *waitList) take(id string) *waiting {
	w := q.byID[id]
	if w == nil {
		return nil
	}
	delete(q.byID, id)
	w.done = true
	return w
}

// pop removes and returns the oldest entry; the list must not be empty.
func (q *waitList) pop() *waiting {
	w := q.front()
	q.advance()
	return q.take(w.id)
}

// expired removes and returns the oldest entry if its window closed at or
// before now, nil otherwise.
func (q *waitList) expired(now time.Time) *waiting {
	w := q.front()
	if w == nil || now.Before(w.until) {
		return nil
	}
	q.advance()
	return q.take(w.id)
}

// front returns the oldest entry not taken, dropping taken ones.
func (q *waitList) front() *waiting {
	for q.head < len(q.queue) && q.queue[q.head].done {
		q.advance()
	}
	if q.head == len(q.queue) {
		return nil
	}
	return q.queue[q.head]
}

// advance drops the queue's first entry, and compacts the queue when half
// of it is dropped.
func (q *waitList) advance() {
	q.queue[q.head] = nil
	q.head++
	if q.head > 64 && q.head*2 >= len(q.queue) {
		q.queue = append(q.queue[:0], q.queue[q.head:]...)
		q.head = 0
	}
}
