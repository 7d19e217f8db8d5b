// Package auctiontest has helpers for testing code that runs gavel
// auctions: fake bidders that bid, stall, fail or panic on demand, request
// and bid builders, a clock that moves only when told, an event sink that
// records what it is given, and TestLedger, the conformance suite of a
// gavel.Ledger.
//
// Deadlines follow real time. Test them in a testing/synctest bubble, whose
// fake clock moves only when every goroutine in it waits: there a Hang
// bidder costs no real time, and Run takes exactly as long as the auction
// waits (its fan-out, say), so a test can assert durations exactly. Make
// the Auction, its bidders and any AsyncSink inside the bubble.
package auctiontest
