package gavelprom

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/prometheus/client_golang/prometheus"
)

// A RateReader tells an account's pacing rate: the share of auctions, in
// [0, 1], the account takes part in. *gavel.EvenPacer is one.
type RateReader interface {
	Rate(account string) float64
}

// WatchAuction makes every scrape read a's bidder health (Auction.Health)
// and counters (Auction.Stats) that no hook reports. Nothing is read
// between scrapes. A Metrics watches at most one Auction: WatchAuction
// returns an error if it already watches one; to replace it on a reload,
// use SwapAuction.
func (m *Metrics) WatchAuction(a *gavel.Auction) error {
	if a == nil {
		return errors.New("gavel: prometheus metrics: watch a nil auction")
	}
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.auction != nil {
		return errors.New("gavel: prometheus metrics: an auction is already watched; use one Metrics per Auction")
	}
	s.auction = a
	return nil
}

// SwapAuction makes every scrape read next instead of the Auction watched
// so far (or watch next, when none is), for a reload that replaces the
// Auction (gavelhttp's AuctionHandler.Swap). Register the same Metrics as
// next's hooks (gavel.WithHooks), so that the hook-fed metrics carry on.
// The bidder health gauges follow next from then on. The counters read
// from Auction.Stats carry on monotonically: the replaced Auction is kept
// retiring, its counters still read and added to next's, until
// RetireAuction folds its final counts into a sum and lets it go. Call
// RetireAuction once no auction runs on it any more (when
// AuctionHandler.Swap returns it); until then each retiring Auction is
// held, so memory stays bounded only if every replaced Auction is retired.
// SwapAuction returns an error, changing nothing, for a nil Auction or one
// already watched or retiring.
func (m *Metrics) SwapAuction(next *gavel.Auction) error {
	if next == nil {
		return errors.New("gavel: prometheus metrics: swap to a nil auction")
	}
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	if next == s.auction || slices.Contains(s.retiring, next) {
		return errors.New("gavel: prometheus metrics: swap to an auction already watched")
	}
	if s.auction != nil {
		s.retiring = append(s.retiring, s.auction)
	}
	s.auction = next
	return nil
}

// RetireAuction adds the counters of a, an Auction that SwapAuction
// replaced, to the counts kept of retired Auctions, and stops reading and
// holding a. Counts that a makes afterwards are not seen: call it once no
// auction runs on a. It returns an error for an Auction that is not
// retiring (never replaced, or retired already).
func (m *Metrics) RetireAuction(a *gavel.Auction) error {
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(s.retiring, a)
	if a == nil || i < 0 {
		return errors.New("gavel: prometheus metrics: retire an auction that SwapAuction did not replace")
	}
	s.retired.add(a.Stats())
	s.retiring = slices.Delete(s.retiring, i, i+1)
	return nil
}

// retiredStats sums the counters of retired Auctions that the scrapes
// read.
type retiredStats struct {
	eventWriteErrors int64
}

func (r *retiredStats) add(st gavel.Stats) { r.eventWriteErrors += st.EventWriteErrors }

// WatchLedger makes every scrape read the balance of each of accounts on l.
// It may be called again to watch more accounts, on the same ledger or
// another; it returns an error for an empty account name or one already
// watched, and then watches none of accounts. A balance that cannot be read
// (an unknown account, a failing ledger, WithReadTimeout passed) is left
// out of the scrape and counted in ledger_read_errors_total.
func (m *Metrics) WatchLedger(l gavel.BalanceReader, accounts ...string) error {
	if l == nil {
		return errors.New("gavel: prometheus metrics: watch a nil ledger")
	}
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := checkAccounts(s.ledgerAccounts, accounts); err != nil {
		return err
	}
	for _, a := range accounts {
		s.ledgerAccounts[a] = true
		s.ledgers = append(s.ledgers, watchedLedger{l, a})
	}
	return nil
}

// WatchPacer makes every scrape read the pacing rate of each of accounts on
// p. It may be called again to watch more accounts; it returns an error
// for an empty account name or one already watched, and then watches none
// of accounts.
func (m *Metrics) WatchPacer(p RateReader, accounts ...string) error {
	if p == nil {
		return errors.New("gavel: prometheus metrics: watch a nil pacer")
	}
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := checkAccounts(s.pacerAccounts, accounts); err != nil {
		return err
	}
	for _, a := range accounts {
		s.pacerAccounts[a] = true
		s.pacers = append(s.pacers, watchedPacer{p, a})
	}
	return nil
}

// A SinkStatsReader tells an event sink's counters in gavel's terms.
// *gavel.AsyncSink is one, and so is the Kafka adapter's Sink.
type SinkStatsReader interface {
	Stats() gavel.SinkStats
}

// WatchSink makes every scrape read the queue depth and the accepted count
// of sink (its Stats). The other event counters come from the sink's
// hooks: register the Metrics as the sink's hook too (gavel.WithSinkHooks,
// or the Kafka adapter's WithSinkHooks). A Metrics watches at most one
// sink: WatchSink returns an error if it already watches one.
func (m *Metrics) WatchSink(sink SinkStatsReader) error {
	if sink == nil {
		return errors.New("gavel: prometheus metrics: watch a nil sink")
	}
	s := m.state
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sink != nil {
		return errors.New("gavel: prometheus metrics: a sink is already watched; use one Metrics per AsyncSink")
	}
	s.sink = sink
	return nil
}

func checkAccounts(watched map[string]bool, accounts []string) error {
	seen := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		switch {
		case a == "":
			return errors.New("gavel: prometheus metrics: empty account name")
		case watched[a] || seen[a]:
			return fmt.Errorf("gavel: prometheus metrics: account %q is already watched", a)
		}
		seen[a] = true
	}
	return nil
}

type watchedLedger struct {
	l       gavel.BalanceReader
	account string
}

type watchedPacer struct {
	p       RateReader
	account string
}

// stateCollector is the prometheus.Collector of the Watch methods: it reads
// what they name on Collect, and nothing between scrapes.
type stateCollector struct {
	windowCalls, failureRatio, callRatio *prometheus.Desc // bidder
	batchesRefused                       *prometheus.Desc
	budget, committed, held, remaining   *prometheus.Desc // account
	ledgerErrors                         *prometheus.Desc
	pacing                               *prometheus.Desc // account
	queued, accepted                     *prometheus.Desc

	readTimeout time.Duration
	readErrors  atomic.Int64

	mu             sync.Mutex
	auction        *gavel.Auction
	retiring       []*gavel.Auction // replaced by SwapAuction, not yet retired
	retired        retiredStats
	sink           SinkStatsReader
	ledgers        []watchedLedger
	ledgerAccounts map[string]bool
	pacers         []watchedPacer
	pacerAccounts  map[string]bool
}

func newStateCollector(b *builder, readTimeout time.Duration) *stateCollector {
	return &stateCollector{
		windowCalls:    b.desc("bidder_window_calls", "Calls of the bidder in the health window (gavel.WithHealthWindow).", "bidder"),
		failureRatio:   b.desc("bidder_failure_ratio", "Share of the bidder's calls in the health window that timed out or failed.", "bidder"),
		callRatio:      b.desc("bidder_call_ratio", "Share of auctions the bidder is called for now: 1 unless throttled.", "bidder"),
		batchesRefused: b.desc("event_batches_refused_total", "Batches of events Run could not hand to its sink (full or closed)."),
		budget:         b.desc("ledger_budget_micros", "Budget of the account for each period, micros of the account currency.", "account"),
		committed:      b.desc("ledger_committed_micros", "Money billed in the account's current period, micros of the account currency.", "account"),
		held:           b.desc("ledger_held_micros", "Money held by the account's outstanding reservations, micros of the account currency.", "account"),
		remaining:      b.desc("ledger_remaining_micros", "Money the account can still reserve in its current period, micros of the account currency.", "account"),
		ledgerErrors:   b.desc("ledger_read_errors_total", "Balances of watched accounts that a scrape could not read."),
		pacing:         b.desc("pacer_participation_ratio", "Share of auctions the account takes part in, as its pacer set it.", "account"),
		queued:         b.desc("events_queued", "Events the AsyncSink holds: queued or being written."),
		accepted:       b.desc("events_accepted_total", "Events the AsyncSink accepted into its queue."),

		readTimeout:    readTimeout,
		ledgerAccounts: map[string]bool{},
		pacerAccounts:  map[string]bool{},
	}
}

// Describe implements prometheus.Collector.
func (s *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		s.windowCalls, s.failureRatio, s.callRatio, s.batchesRefused,
		s.budget, s.committed, s.held, s.remaining, s.ledgerErrors,
		s.pacing, s.queued, s.accepted,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. It reads what is watched
// without holding the collector's lock.
func (s *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	a, sink := s.auction, s.sink
	ledgers, pacers := s.ledgers, s.pacers // append-only: the prefix never changes
	retiring, retired := slices.Clone(s.retiring), s.retired
	s.mu.Unlock()
	if a != nil {
		s.collectAuction(ch, a, retiring, retired)
	}
	if len(ledgers) > 0 {
		s.collectLedgers(ch, ledgers)
	}
	for _, w := range pacers {
		ch <- prometheus.MustNewConstMetric(s.pacing, prometheus.GaugeValue, w.p.Rate(w.account), w.account)
	}
	if sink != nil {
		st := sink.Stats()
		ch <- prometheus.MustNewConstMetric(s.queued, prometheus.GaugeValue, float64(st.Queued))
		ch <- prometheus.MustNewConstMetric(s.accepted, prometheus.CounterValue, float64(st.Accepted))
	}
}

// collectAuction reads a's health, and its counters added to those of the
// Auctions it replaced.
func (s *stateCollector) collectAuction(ch chan<- prometheus.Metric, a *gavel.Auction, retiring []*gavel.Auction, sum retiredStats) {
	for _, h := range a.Health() {
		ch <- prometheus.MustNewConstMetric(s.windowCalls, prometheus.GaugeValue, float64(h.Calls), h.Bidder)
		ch <- prometheus.MustNewConstMetric(s.failureRatio, prometheus.GaugeValue, h.FailureRate, h.Bidder)
		ch <- prometheus.MustNewConstMetric(s.callRatio, prometheus.GaugeValue, h.CallRate, h.Bidder)
	}
	sum.add(a.Stats())
	for _, r := range retiring {
		sum.add(r.Stats())
	}
	ch <- prometheus.MustNewConstMetric(s.batchesRefused, prometheus.CounterValue, float64(sum.eventWriteErrors))
}

// collectLedgers reads the balances, all within one read timeout.
func (s *stateCollector) collectLedgers(ch chan<- prometheus.Metric, ledgers []watchedLedger) {
	ctx, cancel := context.WithTimeout(context.Background(), s.readTimeout)
	defer cancel()
	for _, w := range ledgers {
		b, err := w.l.Balance(ctx, w.account)
		if err != nil {
			s.readErrors.Add(1)
			continue
		}
		ch <- prometheus.MustNewConstMetric(s.budget, prometheus.GaugeValue, float64(b.Budget), w.account)
		ch <- prometheus.MustNewConstMetric(s.committed, prometheus.GaugeValue, float64(b.Committed), w.account)
		ch <- prometheus.MustNewConstMetric(s.held, prometheus.GaugeValue, float64(b.Reserved), w.account)
		ch <- prometheus.MustNewConstMetric(s.remaining, prometheus.GaugeValue, float64(b.Remaining()), w.account)
	}
	ch <- prometheus.MustNewConstMetric(s.ledgerErrors, prometheus.CounterValue, float64(s.readErrors.Load()))
}
