package gavelprom

import (
	"errors"
	"strconv"

	"github.com/gavelrtb/gavel"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics turns gavel's hooks into Prometheus metrics. It implements every
// hook interface of gavel.Auction (register it with gavel.WithHooks) and of
// gavel.AsyncSink (register it with gavel.WithSinkHooks), and reads the
// state of an Auction, a ledger, a pacer and a sink on each scrape (the
// Watch methods). The package documentation lists the metrics.
//
// Create a Metrics with New; the zero value is not usable. A Metrics is
// safe for concurrent use. Once a bidder, account or reason has been seen,
// the hook methods take no lock and allocate nothing.
//
// One Metrics observes one Auction. To observe several in one registry,
// give each its own Metrics with distinct constant labels
// (WithConstLabels).
type Metrics struct {
	reg *prometheus.Registry // nil with WithRegisterer

	inFlight      prometheus.Gauge
	auctions      *prometheus.CounterVec // outcome, nbr
	auctionKinds  childCache[auctionKey, prometheus.Counter]
	durations     *prometheus.HistogramVec // outcome
	durationWon   prometheus.Observer
	durationNoBid prometheus.Observer

	bidderAuctions *prometheus.CounterVec   // bidder, status
	bidderLatency  *prometheus.HistogramVec // bidder
	bidsReceived   *prometheus.CounterVec   // bidder
	bidsWon        *prometheus.CounterVec   // bidder
	bidsLost       *prometheus.CounterVec   // bidder, reason
	clearPrices    *prometheus.HistogramVec // bidder
	winCost        *prometheus.CounterVec   // bidder
	bidders        childCache[string, *bidderMetrics]

	profileLookups  *prometheus.CounterVec // outcome
	profileOutcomes [gavel.ProfileTimeout + 1]prometheus.Counter
	profileLatency  prometheus.Histogram

	reservations   *prometheus.CounterVec // account, result
	reserved       *prometheus.CounterVec // account
	billed         *prometheus.CounterVec // account
	accounts       childCache[string, *accountMetrics]
	reserveErrors  prometheus.Counter // account "", result unavailable
	reserveNoTime  prometheus.Counter // account "", result no_time
	reservePending prometheus.Counter // account "", result pending

	eventsDropped   prometheus.Counter
	eventsDelivered prometheus.Counter
	eventsFailed    prometheus.Counter
	eventRetries    prometheus.Counter

	state  *stateCollector
	models *modelCollector        // predict.go
	drifts *prometheus.CounterVec // model, kind
}

// auctionKey is a series of auctions_total.
type auctionKey struct {
	outcome string
	nbr     int // -1: no nbr label value
}

// bidderMetrics holds one bidder's children.
type bidderMetrics struct {
	latency  prometheus.Observer
	received prometheus.Counter
	won      prometheus.Counter
	price    prometheus.Observer
	cost     prometheus.Counter
	statuses childCache[gavel.BidderStatus, prometheus.Counter]
	losses   childCache[openrtb3.LossReason, prometheus.Counter]
}

// accountMetrics holds one account's children.
type accountMetrics struct {
	reservations prometheus.Counter // result "reserved"
	refusals     prometheus.Counter // result "refused"
	unknown      prometheus.Counter // result "unknown_account"
	reserved     prometheus.Counter
	billed       prometheus.Counter
}

// New returns a Metrics configured by opts and registers its metrics. It
// returns an error wrapping gavel.ErrInvalidOption when an option is out of
// range, all such problems at once, or the registerer's error (for example a
// prometheus.AlreadyRegisteredError when another Metrics with the same
// namespace and constant labels is registered there); it then leaves the
// registerer as it was.
func New(opts ...Option) (*Metrics, error) {
	cfg := config{
		namespace:   DefaultNamespace,
		latency:     DefaultLatencyBuckets(),
		readTimeout: DefaultReadTimeout,
	}
	WithPriceBuckets(DefaultPriceBuckets()...).apply(&cfg)
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	m := &Metrics{}
	if cfg.registerer == nil {
		m.reg = prometheus.NewRegistry()
		cfg.registerer = m.reg
	}
	collectors := m.build(&cfg)
	for i, c := range collectors {
		if err := cfg.registerer.Register(c); err != nil {
			for _, r := range collectors[:i] {
				cfg.registerer.Unregister(r)
			}
			return nil, err
		}
	}
	m.resolve()
	return m, nil
}

// build makes the metrics and returns them, to register.
func (m *Metrics) build(cfg *config) []prometheus.Collector {
	b := builder{ns: cfg.namespace, labels: cfg.constLabels}
	m.inFlight = b.gauge("auctions_in_flight", "Auctions running now: accepted by Run and not yet returned.")
	m.auctions = b.counterVec("auctions_total", "Calls of Run, by outcome (won, no_bid, invalid_request, no_currency, canceled, error) and, without a winner, the OpenRTB no-bid reason (nbr) of the response.", "outcome", "nbr")
	m.durations = b.histogramVec("auction_duration_seconds", "Duration of the auctions that returned a result, by outcome (won, no_bid).", cfg.latency, "outcome")
	m.bidderAuctions = b.counterVec("bidder_auctions_total", "Auctions per bidder, by how the bidder took part (status).", "bidder", "status")
	m.bidderLatency = b.histogramVec("bidder_request_duration_seconds", "Duration of the calls of a bidder, from the call to its answer or deadline.", cfg.latency, "bidder")
	m.bidsReceived = b.counterVec("bids_received_total", "Bids received, valid or not.", "bidder")
	m.bidsWon = b.counterVec("bids_won_total", "Bids that won their imp.", "bidder")
	m.bidsLost = b.counterVec("bids_lost_total", "Bids that lost, by OpenRTB loss reason code (reason).", "bidder", "reason")
	m.clearPrices = b.histogramVec("clearing_price_micros", "Clearing price of winning bids, micros of CPM in the auction currency.", cfg.prices, "bidder")
	m.winCost = b.counterVec("win_cost_micros_total", "Cost of the impressions won (clearing price / 1000), micros of the auction currency.", "bidder")
	m.profileLookups = b.counterVec("profile_lookups_total", "Profile lookups, by outcome (hit, miss, no_key, error, timeout).", "outcome")
	m.profileLatency = b.histogram("profile_lookup_duration_seconds", "Duration of the profile lookups of requests that had a key.", cfg.latency)
	m.reservations = b.counterVec("budget_reservations_total", "Budget reservations of winners, by result (reserved, refused, unknown_account, unavailable, no_time, pending); account is empty for the last three.", "account", "result")
	m.reserved = b.counterVec("budget_reserved_micros_total", "Money reserved for winners, micros of the account currency.", "account")
	m.billed = b.counterVec("billed_micros_total", "Money billed (reported with Metrics.Billed), micros of the account currency.", "account")
	m.eventsDropped = b.counter("events_dropped_total", "Events the AsyncSink refused: queue full or sink closed.")
	m.eventsDelivered = b.counter("events_delivered_total", "Events the AsyncSink delivered to its inner sink.")
	m.eventsFailed = b.counter("events_failed_total", "Events the AsyncSink accepted and then gave up on.")
	m.eventRetries = b.counter("event_write_retries_total", "Writes of the AsyncSink's inner sink that failed and were retried.")
	m.drifts = b.counterVec("model_drifts_total", "Drifts of a model seen by its predict.Monitor, by kind (calibration, entropy).", "model", "kind")
	m.state = newStateCollector(&b, cfg.readTimeout)
	m.models = newModelCollector(&b)
	return append(b.collectors, m.state, m.models)
}

// resolve sets up the children of the metrics, once they are registered
// (a metric with an invalid name must not get children).
func (m *Metrics) resolve() {
	m.durationWon = m.durations.WithLabelValues("won")
	m.durationNoBid = m.durations.WithLabelValues("no_bid")
	m.auctionKinds.build = func(k auctionKey) prometheus.Counter {
		nbr := ""
		if k.nbr >= 0 {
			nbr = strconv.Itoa(k.nbr)
		}
		return m.auctions.WithLabelValues(k.outcome, nbr)
	}
	for o := gavel.ProfileHit; o <= gavel.ProfileTimeout; o++ {
		m.profileOutcomes[o] = m.profileLookups.WithLabelValues(o.String())
	}
	m.reserveErrors = m.reservations.WithLabelValues("", "unavailable")
	m.reserveNoTime = m.reservations.WithLabelValues("", "no_time")
	m.reservePending = m.reservations.WithLabelValues("", "pending")
	m.bidders.build = m.newBidder
	m.accounts.build = m.newAccount
}

func (m *Metrics) newBidder(name string) *bidderMetrics {
	bm := &bidderMetrics{
		latency:  m.bidderLatency.WithLabelValues(name),
		received: m.bidsReceived.WithLabelValues(name),
		won:      m.bidsWon.WithLabelValues(name),
		price:    m.clearPrices.WithLabelValues(name),
		cost:     m.winCost.WithLabelValues(name),
	}
	bm.statuses.build = func(s gavel.BidderStatus) prometheus.Counter {
		return m.bidderAuctions.WithLabelValues(name, s.String())
	}
	bm.losses.build = func(r openrtb3.LossReason) prometheus.Counter {
		return m.bidsLost.WithLabelValues(name, strconv.Itoa(int(r)))
	}
	return bm
}

func (m *Metrics) newAccount(name string) *accountMetrics {
	return &accountMetrics{
		reservations: m.reservations.WithLabelValues(name, "reserved"),
		refusals:     m.reservations.WithLabelValues(name, "refused"),
		unknown:      m.reservations.WithLabelValues(name, "unknown_account"),
		reserved:     m.reserved.WithLabelValues(name),
		billed:       m.billed.WithLabelValues(name),
	}
}

// Registry returns the registry the metrics are registered with, to serve
// with promhttp.HandlerFor, or nil when WithRegisterer gave another.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Billed counts costMicros billed for the impression b, in
// billed_micros_total of b.Hold.Account. Call it when Auction.Commit has
// returned nil for the same arguments: gavel has no hook on billing, since
// billing happens outside Run. The billing endpoint of gavelhttp calls it
// when the Metrics is registered there (gavelhttp.WithNoticesHooks: the
// Metrics is a gavelhttp.BilledHook). It does not allocate once the
// account has been seen.
func (m *Metrics) Billed(b gavel.Billing, costMicros int64) {
	m.accounts.get(b.Hold.Account).billed.Add(float64(costMicros))
}

// builder makes metrics with the namespace and constant labels of a
// Metrics, and keeps them for registration.
type builder struct {
	ns         string
	labels     prometheus.Labels
	collectors []prometheus.Collector
}

func (b *builder) add(c prometheus.Collector) { b.collectors = append(b.collectors, c) }

func (b *builder) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: b.ns, Name: name, Help: help, ConstLabels: b.labels})
	b.add(c)
	return c
}

func (b *builder) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: b.ns, Name: name, Help: help, ConstLabels: b.labels}, labels)
	b.add(c)
	return c
}

func (b *builder) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: b.ns, Name: name, Help: help, ConstLabels: b.labels})
	b.add(g)
	return g
}

func (b *builder) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: b.ns, Name: name, Help: help, ConstLabels: b.labels, Buckets: buckets})
	b.add(h)
	return h
}

func (b *builder) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: b.ns, Name: name, Help: help, ConstLabels: b.labels, Buckets: buckets}, labels)
	b.add(h)
	return h
}

// desc makes the descriptor of a metric read on scrape.
func (b *builder) desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(b.ns, "", name), help, labels, b.labels)
}
