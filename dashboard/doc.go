// Package dashboard is a live dashboard of gavel auctions: an http.Handler
// an embedder mounts on its own server, serving one page that charts, once
// a second over server-sent events, auctions per second, auction latency
// percentiles, each bidder's latency, timeout, error and win rates, bid and
// clearing prices, no-bid and loss reasons, spend against budget with the
// pacing curve of each account, the requests an AuctionHandler sheds, and
// per campaign its billed impressions, spend, clicks, conversions and
// pacing, and per prediction model its log loss, normalised entropy,
// calibration (overall and by bucket of prediction), AUC, base rate and
// drifts.
//
// A Dashboard is fed by hooks: register it with gavel.WithHooks on every
// Auction it is to show. The hooks belong to the Dashboard, not to an
// Auction, so it carries on when a new Auction takes over (a reload): hook
// the new one too. What no hook reports is read once a frame from what the
// Dashboard watches: the balances of a ledger (WatchLedger), the rates and
// targets of a pacer (WatchPacer), the counters of an AuctionHandler
// (WatchHandler). Billing happens outside an Auction: register the
// Dashboard with gavelhttp.WithNoticesHooks too (Billed: billed
// impressions and spend per account, and per campaign with
// WithCampaignOf), and, for the clicks and conversions of a campaign
// Tracker, with campaign.WithTrackerHooks (Clicked, Converted). A model's
// statistics come from its predict.Monitor: register the Dashboard with
// predict.WithMonitorHooks (OnModelStats, OnDrift); the page shows what the
// Monitor last reported, once per WithMonitorStatsInterval, for up to
// MaxModels models.
//
// # Cost
//
// The hooks only add to atomic counters: they take no lock and, once a
// bidder, account, campaign or reason has been seen, allocate nothing. The
// Dashboard tells apart at most WithMaxBidders bidders, WithMaxAccounts
// accounts, WithMaxCampaigns campaigns and WithMaxReasons reasons of each
// kind, and counts the rest together, so its
// counters stay bounded whatever the traffic. Frames are built by one
// goroutine that runs only while a page is connected; it keeps the last
// WithHistory frames (five minutes by default), each bounded by those
// limits, and sends a page them first when it connects, then a frame a
// second. Without a page, nothing runs but the hooks.
//
// # Serving
//
// The page uses relative URLs (the events at "events", its files under
// "assets/"), so it works under any prefix: mount it with http.StripPrefix
// as in the example. An event stream ends when its page goes or the
// Dashboard is closed; Close it before http.Server.Shutdown, which
// otherwise waits for the streams. Each write to a page is given 10
// seconds, whatever the server's WriteTimeout. The page reconnects by
// itself and starts its charts over when the server changed.
//
// The page's files are embedded: nothing is loaded from elsewhere at run
// time. The charts are drawn by uPlot 1.6.32 (https://github.com/leeoniya/uPlot,
// MIT licence, Copyright (c) 2022 Leon Sorokin), from the npm package
// uplot@1.6.32, vendored in assets/uplot with its LICENSE, which the page
// links to.
package dashboard
