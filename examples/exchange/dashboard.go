package main

import (
	"net/http"
	"strings"

	"github.com/gavelrtb/gavel/dashboard"
)

// pathDashboard is where the exchange mounts its live dashboard.
const pathDashboard = "/dashboard/"

// newDashboard makes the exchange's dashboard; newAuction registers it as
// a hook of every Auction, newNotices as a hook of billing, newHouse as a
// hook of the tracker's clicks and conversions. It finds the campaign of
// a billed impression of the house bidder in its bid id.
func newDashboard() (*dashboard.Dashboard, error) {
	return dashboard.New(dashboard.WithTitle("gavel exchange"), dashboard.WithCampaignOf(campaignOf))
}

// watchDashboard makes the dashboard read the balances of accounts on the
// ledger and, when there is a pacer, their pacing.
func (x *exchange) watchDashboard(accounts []string) error {
	if err := x.dashboard.WatchLedger(x.stores.balances, accounts...); err != nil {
		return err
	}
	if x.stores.rates == nil {
		return nil
	}
	return x.dashboard.WatchPacer(x.stores.rates, accounts...)
}

// dashboardHandler is the dashboard as mounted at pathDashboard.
func (x *exchange) dashboardHandler() http.Handler {
	return http.StripPrefix(strings.TrimSuffix(pathDashboard, "/"), x.dashboard)
}
