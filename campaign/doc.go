// Package campaign runs an ad server's own campaigns in a gavel auction: its
// Bidder is a gavel.Bidder, so internal demand competes with external
// bidders under the same deadline, rules, budgets and events.
//
// A Campaign says where it may bid (Targeting, Flight), what it shows
// (Creatives), what it pays (Goal, BidCapMicros) and how often a user may
// see it (frequency caps). The Bidder holds an immutable snapshot of its
// campaigns with inverted indexes on the targeting dimensions; Set, Pause,
// Remove and Replace build a new snapshot and swap it in atomically, so
// bidding takes no lock and every bid comes from one consistent state.
//
// Money is in int64 micros throughout: a CPM of 2.50 is 2_500_000.
package campaign
