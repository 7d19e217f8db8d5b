// Package sim simulates a market in which gavel's campaigns bid on the
// click and conversion rates that package predict learns online: the
// auction-level check of the models and of the bids made from them, and a
// harness for trying a model, a Learner's windows or a market before
// production.
//
// A World holds the hidden truth: sites, users (segments, device, time
// zone, country) and house campaigns, and the true probability of a click
// on each impression and of a conversion after each click, logistic in
// effects with interactions (site × campaign, segment × campaign, device
// × campaign, the user's local hour). Run draws traffic from it and runs
// every bid request through a real gavel.Auction: a campaign.Bidder with
// the World's CPC and CPA campaigns, each with a budget on a
// gavel.MemoryLedger paced evenly over its day by a gavel.EvenPacer,
// against in-process competitors. A house win is billed (Auction.Commit);
// its click and its conversion are drawn from the truth and reach the
// Learner later, as a Tracker's hooks would, the conversion after the
// click. The models learn from live traffic as an embedder wires them:
// the Predictor observes each bid (campaign.BidObserver), is told of each
// billing (Billed, a gavelhttp.BilledHook) and feeds the Learner, whose
// Monitors watch both models.
//
// # The market
//
// The auctions are first price (at=1): a winner pays its bid. A CPC
// campaign bids its target × the predicted CTR per impression, so at
// first price it pays, per click, its target × (predicted clicks / actual
// clicks) of what it won: its effective cost per click is on target
// exactly when the model is calibrated on the traffic it wins, and the
// check is a check of the model where it costs money. At second price a
// campaign would pay the next bid, below its own, and land under its
// target by however much the market leaves on the table, whatever the
// model; a real buyer in a first-price market would shade its bids, which
// these campaigns do not. The competitors' bids are lognormal around a
// price per site, so the house wins where its predicted value beats the
// market's and loses elsewhere: a model that ranks well buys the clicks
// cheaply. Budgets are below what the campaigns could spend unpaced, so
// the pacer holds them back, and spending the budget over the day is
// part of the check.
//
// # Days
//
// Training spreads Config.Training auctions over Config.TrainingDays
// days (the first Config.WarmUp of it on the campaigns' fixed rates, as a
// new campaign would start), each with its own budgets. The held-out day,
// a week after the first, runs fresh traffic with fresh budgets; the
// models keep learning from it, as in production (Config.HeldOutLearns),
// and every number of the day is of predictions made at bid time, before
// the impression's outcome was drawn: each impression is scored held out,
// as progressive validation does. (Models frozen at the end of training
// predict low, 0.86 of the clicks replaying the last training day: the
// Learner's negatives come a click window late, and while live, the
// features of the hour have all of its positives and part of its
// negatives, which the rest of the model makes up for. The root README
// says more.) Cost per click and per action count the expected
// clicks and conversions (the sum of the true probabilities of the
// impressions won), not the drawn ones, so that the check measures the
// bids rather than the draw's noise; the drawn counts are reported too.
// With Config.CompareFixedCPM the held-out day runs again, on the same
// traffic and budgets, with every campaign bidding a fixed CPM: what it
// paid per mille in the first run.
//
// Time is an auctiontest.Clock that Run moves, one step per auction, so a
// run depends on its Config alone; Run runs one auction at a time.
package sim
