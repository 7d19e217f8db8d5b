package gavelprom

import (
	"context"
	"errors"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
)

var (
	_ gavel.AuctionStartHook    = (*Metrics)(nil)
	_ gavel.AuctionEndHook      = (*Metrics)(nil)
	_ gavel.BidderResponseHook  = (*Metrics)(nil)
	_ gavel.BidOutcomeHook      = (*Metrics)(nil)
	_ gavel.ProfileHook         = (*Metrics)(nil)
	_ gavel.BudgetHook          = (*Metrics)(nil)
	_ gavel.EventsDroppedHook   = (*Metrics)(nil)
	_ gavel.SinkRetryHook       = (*Metrics)(nil)
	_ gavel.EventsFailedHook    = (*Metrics)(nil)
	_ gavel.EventsDeliveredHook = (*Metrics)(nil)
)

// noNBR marks an auctions_total series without an nbr label value.
const noNBR = -1

// OnAuctionStart implements gavel.AuctionStartHook: the auction is in
// flight.
func (m *Metrics) OnAuctionStart(context.Context, *openrtb2.BidRequest) {
	m.inFlight.Inc()
}

// OnAuctionEnd implements gavel.AuctionEndHook: it counts the auction by
// outcome and observes its duration. A request Run refused (invalid, or
// without a currency to hold it) never started, so it is counted but
// leaves auctions_in_flight as it was.
func (m *Metrics) OnAuctionEnd(_ context.Context, _ *openrtb2.BidRequest, res *gavel.Result, err error) {
	switch {
	case err == nil && res.HasWinner():
		m.inFlight.Dec()
		m.auctionKinds.get(auctionKey{"won", noNBR}).Inc()
		m.durationWon.Observe(res.Duration.Seconds())
	case err == nil:
		m.inFlight.Dec()
		m.auctionKinds.get(auctionKey{"no_bid", int(res.NBR)}).Inc()
		m.durationNoBid.Observe(res.Duration.Seconds())
	case errors.Is(err, gavel.ErrInvalidRequest):
		nbr := openrtb3.NoBidInvalidRequest
		if re, ok := err.(*gavel.RequestError); ok {
			nbr = re.Reason
		}
		m.auctionKinds.get(auctionKey{"invalid_request", int(nbr)}).Inc()
	case errors.Is(err, gavel.ErrNoCurrency):
		// A valid request that no allowed currency can hold: refused before
		// it started, like an invalid one, with a technical no-bid.
		m.auctionKinds.get(auctionKey{"no_currency", int(openrtb3.NoBidTechnicalError)}).Inc()
	case errors.Is(err, context.Canceled):
		m.inFlight.Dec()
		m.auctionKinds.get(auctionKey{"canceled", noNBR}).Inc()
	default:
		m.inFlight.Dec()
		m.auctionKinds.get(auctionKey{"error", noNBR}).Inc()
	}
}

// OnBidderResponse implements gavel.BidderResponseHook: it counts the
// bidder's part in the auction by status, the bids it sent and, when it was
// called, the call's duration.
func (m *Metrics) OnBidderResponse(_ context.Context, _ string, r *gavel.BidderResult) {
	bm := m.bidders.get(r.Bidder)
	bm.statuses.get(r.Status).Inc()
	if r.Status.Called() {
		bm.latency.Observe(max(r.Latency, 0).Seconds()) // a histogram's sum never decreases
	}
	if r.Bids > 0 {
		bm.received.Add(float64(r.Bids))
	}
}

// OnBidOutcome implements gavel.BidOutcomeHook: it counts a win, with its
// clearing price and cost, or a loss by reason.
func (m *Metrics) OnBidOutcome(_ context.Context, _ string, b *gavel.BidOutcome) {
	bm := m.bidders.get(b.Bidder)
	if !b.Won {
		bm.losses.get(b.Loss).Inc()
		return
	}
	bm.won.Inc()
	bm.price.Observe(float64(b.ClearMicros))
	bm.cost.Add(float64(b.CostMicros()))
}

// OnProfile implements gavel.ProfileHook: it counts the lookup by outcome
// and, when the request had a key, observes its duration.
func (m *Metrics) OnProfile(_ context.Context, _ string, o gavel.ProfileOutcome, latency time.Duration, _ error) {
	if int(o) < len(m.profileOutcomes) && m.profileOutcomes[o] != nil {
		m.profileOutcomes[o].Inc()
	} else {
		m.profileLookups.WithLabelValues(o.String()).Inc()
	}
	if o != gavel.ProfileNoKey {
		m.profileLatency.Observe(latency.Seconds())
	}
}

// OnReserve implements gavel.BudgetHook: it counts the reservation by
// result and the money reserved: reserved, refused (the budget is
// exhausted), unknown_account (the ledger has no budget for it),
// unavailable (the ledger failed), no_time (the deadline came first) and
// pending (the ledger's share of the budget was not refilled yet,
// gavel.ErrBudgetPending). The account is not a label of the last three,
// which say nothing of it.
func (m *Metrics) OnReserve(_ context.Context, _ string, h gavel.Hold, err error) {
	switch {
	case err == nil:
		am := m.accounts.get(h.Account)
		am.reservations.Inc()
		am.reserved.Add(float64(h.Amount))
	case errors.Is(err, gavel.ErrBudgetExhausted):
		m.accounts.get(h.Account).refusals.Inc()
	case errors.Is(err, gavel.ErrUnknownAccount):
		m.accounts.get(h.Account).unknown.Inc()
	case errors.Is(err, gavel.ErrNoTime), errors.Is(err, context.DeadlineExceeded):
		m.reserveNoTime.Inc()
	case errors.Is(err, gavel.ErrBudgetPending):
		m.reservePending.Inc()
	default:
		m.reserveErrors.Inc()
	}
}

// OnEventsDropped implements gavel.EventsDroppedHook.
func (m *Metrics) OnEventsDropped(n int) { m.eventsDropped.Add(float64(n)) }

// OnSinkRetry implements gavel.SinkRetryHook.
func (m *Metrics) OnSinkRetry(int, error) { m.eventRetries.Inc() }

// OnEventsFailed implements gavel.EventsFailedHook.
func (m *Metrics) OnEventsFailed(n int, _ error) { m.eventsFailed.Add(float64(n)) }

// OnEventsDelivered implements gavel.EventsDeliveredHook.
func (m *Metrics) OnEventsDelivered(n int) { m.eventsDelivered.Add(float64(n)) }
