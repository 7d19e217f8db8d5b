// Package gavelhttp serves a gavel.Auction over HTTP, as handlers an
// embedder mounts on its own server:
//
//   - AuctionHandler, the OpenRTB 2.6 auction endpoint. It caps and inflates
//     request bodies, decodes them strictly, runs the auction under the
//     request's context and tmax, answers 200, 204 or 400 as OpenRTB
//     expects, and sheds the requests it has no room for before reading them.
//   - Notices, signed billing and loss notices (Keys), and the Notifier that
//     fires the bidders' own notice URLs with a guard against requests into
//     the embedder's network. WithNotices points the auction endpoint's
//     burls at them.
//   - Config, an exchange's set-up read from JSON (ParseConfig, LoadConfig),
//     which builds the options of all of the above and of gavel.New.
//   - Reload: AuctionHandler.Swap and Notices.Swap put a new Auction in
//     service without dropping a request in flight.
//
// Each type is made by its New function; the zero values are not usable.
// All are safe for concurrent use. A bid request an AuctionHandler decodes
// belongs to the auction (bidders may still hold it after the response is
// written), so it is never reused; buffers and gzip readers and writers are
// pooled and never outlive the call of ServeHTTP that took them.
//
// The handlers are net/http's, but their logic is not tied to it:
// AuctionHandler.ServeRequest and Notices.ServeNotice take the request as
// plain values and answer through an http.ResponseWriter, and ServeHTTP and
// the notice handlers are thin calls of them. Another server calls them
// too: adapters/gavelfasthttp serves the same endpoints on fasthttp, with
// the same answers (one end-to-end suite runs on both servers).
//
// # Config
//
// A config is a JSON object; ConfigSchema returns its JSON Schema
// (config.schema.json, draft 2020-12), which describes every field. Every
// field may be left out and takes its default; an unknown field or a bad
// value is refused, all of them at once, each named by its JSON path:
//
//	bidders[1].timeout: "fast" is not a duration
//	unknown field "bidders[0].endpont"
//	stores.ledger.kind: "mysql": want memory or redis
//
// Durations are Go duration strings ("80ms"); money is a decimal amount
// in currency units with at most six decimals ("500.00", or a JSON number),
// read exactly into int64 micros (Micros). An annotated config, every
// default shown (// comments are not JSON: they are here to explain):
//
//	{
//	  "auction": {                      // gavel.With...; a reload may change it
//	    "default_tmax": "100ms",        // WithDefaultTMax
//	    "max_tmax": "1s",               // WithMaxTMax
//	    "reserve": "5ms",               // WithReserve
//	    "clearing_time": "0s",          // WithClearingTime; 0s: follows the ledger
//	    "min_bidder_time": "10ms",      // WithMinBidderTime
//	    "bidder_timeout": "0s",         // WithAllBiddersTimeout; 0s: until the deadline
//	    "price_increment": "0.01",      // WithPriceIncrement, CPM
//	    "max_price": "1000.00",         // WithMaxPrice, CPM
//	    "prefer_deals": false,          // WithPreferDeals
//	    "pod_separation": ["advertisers", "categories"], // WithPodSeparation
//	    "health_window": "10s",         // WithHealthWindow
//	    "throttle": null,               // WithThrottling: {"max_failure_rate", "min_calls", "min_call_rate"}
//	    "hold_ttl": "15m",              // WithHoldTTL
//	    "accounts": "bidder",           // WithAccounts: bidder or seat
//	    "unknown_accounts": "refuse",   // WithUnknownAccounts: refuse or allow
//	    "profile_timeout": "3ms",       // WithProfileTimeout
//	    "profile_keys": ["user.id"]     // WithProfileKeys: user.id, user.buyeruid, eid:SOURCE
//	  },
//	  "bidders": [{                     // gavel.NewHTTPBidder; a reload may change them
//	    "name": "dsp-a",                // required, unique: its seat
//	    "endpoint": "https://dsp-a.example/bid", // required
//	    "timeout": "0s",                // WithBidderTimeout; 0s: auction.bidder_timeout
//	    "seats": [],                    // WithBidderSeats
//	    "gzip": false,                  // WithHTTPGzipRequests
//	    "headers": {},                  // WithHTTPHeader
//	    "max_response_size": 262144,    // WithHTTPMaxResponseSize
//	    "notice_hosts": []              // WithBidderHosts (a restart to change)
//	  }],
//	  "budgets": [{                     // gavel.WithBudgets; a reload may change them
//	    "account": "dsp-a",             // required, unique
//	    "amount": "500.00",             // or "amount_micros": 500000000
//	    "period": "daily",              // daily, or total (the default with start and end)
//	    "time_zone": "UTC",             // a daily period's zone
//	    "reset": "0s",                  // a daily period starts this long after midnight
//	    "start": null, "end": null,     // a flight, RFC 3339
//	    "pacing": "even"                // even or asap
//	  }],
//	  "stores": {                       // built by the embedder; a restart to change
//	    "ledger": {"kind": "memory"},   // memory, or {"kind": "redis", "addr": "127.0.0.1:6379", "prefix": "gavel"}
//	    "profiles": {"kind": "none"},   // none, memory or redis
//	    "pacer": {"kind": "memory"}     // none, memory or redis
//	  },
//	  "events": {"kind": "none"},       // or {"kind": "jsonl", "file": ...}, {"kind": "kafka", "brokers": [...], "topic": ...}
//	  "notices": {                      // Keys, NewNotices, NewNotifier; a restart to change
//	    "base_url": "",                 // where BillingHandler is reached
//	    "keys": [],                     // [{"id", and one of "secret_env", "secret_file", "secret"}], newest last
//	    "token_ttl": "1h", "billing_timeout": "5s", "billed_memory": 65536,
//	    "notifier": {"workers": 16, "queue": 4096, "per_host_limit": 4,
//	                 "timeout": "2s", "billing_retries": 3, "retry_backoff": "200ms"},
//	    "allow_private_networks": false,
//	    "allowed_addresses": []         // "127.0.0.1", "10.0.0.0/8"
//	  },
//	  "server": {                       // NewAuctionHandler; a restart to change
//	    "addr": "127.0.0.1:8080",
//	    "max_in_flight": 512,           // 256 × GOMAXPROCS
//	    "shed_status": 204,             // or 503
//	    "max_request_size": 1048576
//	  }
//	}
//
// The Config's methods turn it into options: AuctionOptions for gavel.New
// (bidders, budgets and the auction section; the embedder adds the ledger,
// pacer, profile store and sink that Stores and Events name, and its
// hooks), Keys, NotifierOptions, NoticesOptions and HandlerOptions.
//
// # Reload
//
// To reload, parse the new config, check Config.Reloadable (it names every
// changed field that needs a restart), build a new Auction from its
// AuctionOptions with the same stores, sink and hooks, and swap it in:
// AuctionHandler.Swap makes new requests run on it and returns the old
// Auction once the auctions running on it have returned, to be closed;
// Notices.Swap makes billing go through it (holds of the old Auction bill
// fine on the shared ledger). The handler's Stats and in-flight bound
// carry on; the Prometheus adapter's Metrics.SwapAuction carries the
// metrics on.
package gavelhttp
