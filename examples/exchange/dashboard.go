package main

import (
	"net/http"
	"strings"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/dashboard"
)

// pathDashboard is where the exchange mounts its live dashboard.
const pathDashboard = "/dashboard/"

// newDashboard makes the exchange's dashboard; buildAuction registers it
// as a hook of the Auction.
func newDashboard() (*dashboard.Dashboard, error) {
	return dashboard.New(dashboard.WithTitle("gavel exchange"))
}

// watchDashboard makes the dashboard read the demo accounts' balances on
// the ledger and their pacing on the pacer.
func (x *exchange) watchDashboard(ledger *gavel.MemoryLedger, pacer *gavel.EvenPacer) error {
	if err := x.dashboard.WatchLedger(ledger, demoAccounts()...); err != nil {
		return err
	}
	return x.dashboard.WatchPacer(pacer, demoAccounts()...)
}

// dashboardHandler is the dashboard as mounted at pathDashboard.
func (x *exchange) dashboardHandler() http.Handler {
	return http.StripPrefix(strings.TrimSuffix(pathDashboard, "/"), x.dashboard)
}
