// Package gavel runs OpenRTB 2.6 auctions inside your own exchange, SSP or ad
// server: build an [Auction] once with [New], then call [Auction.Run] once per
// bid request. The zero Auction is not usable. An Auction is safe for
// concurrent use and meant to be shared by every goroutine that runs auctions.
//
// # One auction
//
// Run(ctx, req) does, in this order:
//
//  1. Validate req (ids, imps and their media objects, site, app or dooh,
//     tmax, at, cur, floors, deals); a request it refuses gets a
//     [*RequestError] (no-bid reason 2) and no Result. Choose the auction
//     currency among cur: the first that every floor converts to; a request
//     whose imp floors none can hold gets a [*CurrencyError] (no-bid reason
//     1, a technical no-bid) and no Result.
//  2. Set the deadline: the earliest of ctx's deadline and the start plus
//     tmax ([WithDefaultTMax], [WithMaxTMax]), less [WithReserve].
//  3. Enrich the user from the [ProfileStore] within [WithProfileTimeout]; a
//     miss, an error or a timeout leaves the user as it is.
//  4. Pick the bidders: wseat and bseat, throttling ([WithThrottling]), the
//     [Pacer], an account that can afford the floors ([BalanceCache]), and
//     the time left ([WithMinBidderTime]).
//  5. Fan out: call each bidder in its own goroutine under its own deadline,
//     with a copy of req whose tmax is the time it really has, recovering
//     panics. Run stops waiting [WithClearingTime] before its deadline; the
//     bidders still out are timed out.
//  6. Validate each bid (a seat its bidder may use: its own name or
//     [WithBidderSeats]; imp, price, currency, markup and its media type,
//     deal, floor, blocked advertisers, apps, categories, attributes, size,
//     secure); an invalid bid loses with an OpenRTB loss reason. A response
//     without bids is a no-bid.
//  7. Per imp, rank the bids (the same input always gives the same order)
//     and clear at first or second price per at and the deal's at; reserve
//     the winners' costs on the [Ledger], all imps in one call with a
//     [BatchLedger]; where it refuses, the next bid is tried. Ad pods
//     (OpenRTB 2.6 §7.6): the slots of a structured pod (one podid) are
//     filled best bid first with competitive separation
//     ([WithPodSeparation]); a dynamic pod (poddur) takes several winners,
//     the set of greatest value that fits it.
//  8. Return a [*Result]: per imp the winner and its clearing price (a
//     dynamic pod's winners in [ImpResult].Pod), every bid with its
//     outcome, every bidder with its status and latency.
//  9. Hand the auction's events to the [EventSink] without waiting for it
//     ([Auction.Close] delivers what is still queued).
//
// # Ownership and concurrency
//
// Run never modifies req. Do not modify req, or anything it points to, while
// Run runs or while you use its Result, which refers to the request's imps
// and deals; do not reuse it for another request either: the bidders' copies
// are shallow, and a bidder that has not yet seen its ctx end (all have ended
// by the time Run returns) may still be reading them.
//
// A [Bidder] is called from many goroutines at once. It must not modify the
// request it is given, nor keep it or anything reachable from it after Bid
// returns. The response it returns is the auction's from then on: it must
// not change or reuse it, though it may return one immutable response to
// many auctions.
//
// The *Result is the caller's: Run keeps nothing of it and never changes it
// once returned. It may be read from many goroutines and kept as long as
// needed; it keeps the request and the bidders' responses alive. Each call of
// [Result.BidResponse] builds a new response whose bids are copies, with
// price and macros filled in, that share their slices (adomain, cat, ext,
// ...) with the bidders' bids: do not modify those. To bill an impression
// later, keep the winner's [Result.Billing], a plain value.
// [Auction.RunInto] runs an auction into a Result you hand it, reusing the
// memory of its slices: what that Result held before is gone, so use it
// only once nothing reads the previous auction's Result any more.
//
// # Money
//
// Money is int64 micros. Prices are CPM, as in OpenRTB: [BidOutcome]'s
// PriceMicros and ClearMicros and [ImpResult]'s FloorMicros are micros of CPM
// in the auction currency (the first of req.cur that every floor converts
// to, or USD): 2_510_000 is 2.51 CPM. An impression costs price/1000:
// [BidOutcome.CostMicros], in micros of the currency, is what a Ledger
// reserves and commits, on the account of the bidder that bid
// ([BidderAccount]; [WithAccounts]). [FormatMicros] prints an amount
// exactly.
//
// # State, adapters, hooks and tests
//
// What outlives an auction sits behind small interfaces, in memory here:
// [Ledger] ([MemoryLedger]; bill with [Auction.Commit], give back with
// [Auction.Release]), [Pacer] ([EvenPacer]), [ProfileStore]
// ([MemoryProfileStore]), [EventSink] ([AsyncSink], [JSONLinesSink]).
// An account's [Budget] (amount in int64 micros, period or flight, pacing)
// is declared once, with [WithBudgets] or [Auction.SetBudget], and feeds
// both the Ledger and the Pacer ([BudgetSetter]). Adapters that share them
// between processes are modules of their own:
//
//   - github.com/gavelrtb/gavel/adapters/gavelredis: Ledger, Pacer and
//     ProfileStore over Redis;
//   - github.com/gavelrtb/gavel/adapters/gavelkafka: an EventSink to Kafka;
//   - github.com/gavelrtb/gavel/adapters/gavelprom: hooks as Prometheus metrics.
//
// Hooks ([WithHooks]) watch auctions: a hook is any value with the method of
// one or more of [AuctionStartHook], [AuctionEndHook], [BidderResponseHook],
// [BidOutcomeHook], [ProfileHook] and [BudgetHook]. Run calls them
// synchronously, from many goroutines at once: they must be fast, safe for
// concurrent use, and must not keep what they are given. Without hooks, Run
// builds nothing for them.
//
// For your tests, package github.com/gavelrtb/gavel/auctiontest has fake
// bidders (bid, fail, hang, panic), request builders, a hand-moved clock, an
// event recorder and TestLedger, the conformance suite of a Ledger.
package gavel
