// Package campaign runs an ad server's own campaigns in a gavel auction: its
// Bidder is a gavel.Bidder, so internal demand competes with external
// bidders under the same deadline, rules, budgets and events.
//
// A Campaign says where it may bid (Targeting, Flight), what it shows
// (Creatives), what it pays (Goal, BidCapMicros) and how often a user may
// see it (Caps). The Bidder holds an immutable snapshot of its campaigns
// with inverted indexes on the targeting dimensions; Set, Pause, Resume,
// Remove and Replace build a new snapshot, index included, and swap it in
// atomically, so bidding takes no lock and every bid comes from one state
// that existed. A change costs a rebuild of the whole snapshot: change
// campaigns in batches, not one call per campaign.
//
// For each imp the Bidder bids once, with the campaign and creative that
// bid the most: the index yields the candidates of the most selective
// dimension, and each is checked in full (targeting, the request's blocks,
// flight and day-parting in the campaign's time zone), then held back if
// the Pacer says so, if its account cannot pay for the imp, or if the user
// reached a frequency cap (one FrequencyStore call per auction).
//
// Money goes through the Auction as for any bidder. Each campaign's seat
// is its account: build the Auction with
//
//	gavel.WithBidders(b),
//	gavel.WithBidderSeats(b.Name(), b.Accounts()...),
//	gavel.WithAccounts(b.AccountFunc(gavel.BidderAccount)),
//	gavel.WithBudgets(b.Budgets()...),
//
// and give the Bidder the Auction's Pacer and Ledger (WithPacer,
// WithBalances), since the Auction paces a bidder by one account and this
// Bidder spends many. Register the Bidder with gavelhttp.WithNoticesHooks
// so that billed impressions count against frequency caps (Billed).
//
// CPC and CPA campaigns bid on the rates of a Predictor (WithPredictor).
// A Predictor that learns from the Bidder's own traffic, as
// predict.Predictor does, is also a BidObserver: the Bidder tells it of
// every bid it makes, with the rates the bid used, so that it can label
// what it predicted once the impression is billed and clicked.
//
// Money is in int64 micros throughout: a CPM of 2.50 is 2_500_000.
package campaign
