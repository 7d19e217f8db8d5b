// Package gavelprom turns gavel's hooks into Prometheus metrics with
// github.com/prometheus/client_golang.
//
// A Metrics is a gavel hook for auctions and for event sinks, and reads the
// state of an Auction, a ledger, a pacer and a sink when it is scraped.
// Its name never collides with client_golang's prometheus package, which
// its users import too:
//
//	m, err := gavelprom.New(gavelprom.WithConstLabels(prometheus.Labels{"exchange": "eu-1"}))
//	sink, err := gavel.NewAsyncSink(inner, gavel.WithSinkHooks(m))
//	a, err := gavel.New(gavel.WithBidders(...), gavel.WithHooks(m), gavel.WithEventSink(sink), ...)
//	err = m.WatchAuction(a)
//	err = m.WatchLedger(ledger, "acme", "globex")
//	err = m.WatchPacer(pacer, "acme", "globex")
//	err = m.WatchSink(sink)
//	http.Handle("/metrics", promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{}))
//
// The metrics are registered with a registry of the Metrics' own unless
// WithRegisterer names another; the global registry is never used unless
// asked for.
//
// # Units
//
// Durations are in seconds. Money is in integer micros, as everywhere in
// gavel, and the names say so (_micros): prices are micros of CPM in the
// auction currency, costs and budgets micros of the auction or account
// currency. The currency is not a label, since the request chooses it; an
// exchange that runs auctions in several currencies should convert before
// reading sums across them. A float64 counts micros exactly up to 2^53, 9
// billion units of the currency.
//
// # Labels
//
// Every label value comes from a closed set or from configuration, so the
// number of series is bounded: bidder is a bidder's Name; model a name
// given to WatchModel or to a predict.Monitor; account an account known to
// the ledger or named to WatchLedger or WatchPacer;
// status a gavel.BidderStatus in snake case (bid, no_bid, timeout, error,
// invalid_response, skipped_no_time, throttled, seat_blocked, paced);
// reason an OpenRTB loss reason code as a decimal string (100 below floor,
// 102 lost to a higher bid, 205 advertiser exclusions, gavel's 500 to 504,
// ...); nbr an OpenRTB no-bid reason code (1, 2, 15, gavel's 500 to 502).
// No auction, user, bid or deal id, seat or error text is ever a label.
// Constant labels (WithConstLabels) are added to every metric.
//
// # Metrics
//
// With the default namespace, DefaultNamespace ("gavel"). From the auction hooks
// (gavel.WithHooks):
//
//	name                                    type       labels          meaning
//	gavel_auctions_in_flight                gauge                      auctions accepted by Run and not yet returned
//	gavel_auctions_total                    counter    outcome, nbr    calls of Run; outcome is won, no_bid, invalid_request,
//	                                                                   no_currency, canceled or error; nbr is the no-bid reason
//	                                                                   for no_bid, invalid_request (2) and no_currency (1),
//	                                                                   empty otherwise
//	gavel_auction_duration_seconds          histogram  outcome         Result.Duration of auctions that returned a result (won, no_bid)
//	gavel_bidder_auctions_total             counter    bidder, status  every bidder of every auction, called or not, by status
//	gavel_bidder_request_duration_seconds   histogram  bidder          latency of the bidders' calls (statuses bid to invalid_response)
//	gavel_bids_received_total               counter    bidder          bids received, valid or not
//	gavel_bids_won_total                    counter    bidder          bids that won their imp
//	gavel_bids_lost_total                   counter    bidder, reason  bids that lost, by loss reason
//	gavel_clearing_price_micros             histogram  bidder          clearing price of winners, micros of CPM
//	gavel_win_cost_micros_total             counter    bidder          cost of the impressions won (clearing price / 1000), micros
//	gavel_profile_lookups_total             counter    outcome         profile lookups: hit, miss, no_key, error, timeout
//	gavel_profile_lookup_duration_seconds   histogram                  profile lookups of requests that had a key
//	gavel_budget_reservations_total         counter    account, result reservations of winners: reserved, refused (budget
//	                                                                   exhausted), unknown_account (no budget), unavailable
//	                                                                   (the ledger failed), no_time (the deadline came
//	                                                                   first) and pending (the ledger's share not refilled
//	                                                                   yet; account empty for these three)
//	gavel_budget_reserved_micros_total      counter    account         money reserved for winners, micros
//	gavel_billed_micros_total               counter    account         money billed, as told by Metrics.Billed, micros
//
// From the sink hooks (gavel.WithSinkHooks):
//
//	gavel_events_dropped_total              counter                    events the AsyncSink refused: queue full or closed
//	gavel_events_delivered_total            counter                    events delivered to the inner sink
//	gavel_events_failed_total               counter                    accepted events given up after their retries, or by Close
//	gavel_event_write_retries_total         counter                    failed Writes of the inner sink that were retried
//
// Read on scrape, from WatchAuction (Auction.Health, Auction.Stats):
//
//	gavel_bidder_window_calls               gauge      bidder          calls in the health window
//	gavel_bidder_failure_ratio              gauge      bidder          share of those calls that timed out or failed
//	gavel_bidder_call_ratio                 gauge      bidder          share of auctions the bidder is called for: 1 unless throttled
//	gavel_event_batches_refused_total       counter                    batches of events Run could not hand to its sink
//
// from WatchLedger (BalanceReader.Balance):
//
//	gavel_ledger_budget_micros              gauge      account         budget of each period
//	gavel_ledger_committed_micros           gauge      account         billed in the current period
//	gavel_ledger_held_micros                gauge      account         held by outstanding reservations
//	gavel_ledger_remaining_micros           gauge      account         what can still be reserved in the period
//	gavel_ledger_read_errors_total          counter                    balances a scrape could not read
//
// from WatchPacer (Rate):
//
//	gavel_pacer_participation_ratio         gauge      account         share of auctions the account takes part in
//
// and from WatchSink (the sink's Stats: a gavel.AsyncSink, the Kafka adapter's Sink):
//
//	gavel_events_queued                     gauge                      events held: queued or being written
//	gavel_events_accepted_total             counter                    events accepted into the queue
//
// and from WatchModel (a predict.Monitor's Snapshot; NaN while undefined)
// and OnDrift (the Metrics is a predict.DriftHook, registered with
// predict.WithMonitorHooks):
//
//	gavel_model_log_loss                    gauge      model           mean log loss over the monitor's window, nats
//	gavel_model_normalized_entropy          gauge      model           log loss over the entropy of the base rate
//	gavel_model_calibration                 gauge      model           mean prediction over observed rate
//	gavel_model_auc                         gauge      model           AUC of the monitor's sample of its window
//	gavel_model_base_rate                   gauge      model           observed rate, weighted by importance
//	gavel_model_observations                gauge      model           observations in the window
//	gavel_model_positives                   gauge      model           positive observations in the window
//	gavel_model_mean_prediction             gauge      model           mean predicted probability, weighted
//	gavel_model_baseline_normalized_entropy gauge      model           the baseline's NE (entropy drift's reference); NaN without one
//	gavel_model_bucket_calibration          gauge      model, bucket   calibration of the predictions in a bucket of p
//	gavel_model_bucket_observations         gauge      model, bucket   observations in the bucket; bucket is its lower bound
//	                                                                   (0, 0.0001, 0.0003162, ..., 0.1, 0.2, 0.5)
//	gavel_model_drifts_total                counter    model, kind     drifts: kind is calibration or entropy
//
// The profile, budget and event counters of Auction.Stats are not repeated:
// the hooks count the same things with labels.
//
// Spend is observed in three places: money reserved for winners, through
// the budget hook, as it happens; money billed, through Metrics.Billed,
// which the caller calls after a successful Auction.Commit, since billing
// happens outside Run; and each account's committed and remaining money as
// its ledger tells, through WatchLedger.
//
// # Cost
//
// The hook methods take no lock and allocate nothing once the label values
// they use have been seen (a test asserts it with testing.AllocsPerRun): the children of each bidder, account and reason
// are resolved once and kept in copy-on-write maps. Series appear when
// first used, except that a bidder's or account's counters start at zero
// together. The Watch methods read nothing between scrapes.
package gavelprom
