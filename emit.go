package gavel

import (
	"context"
	"time"
)

// WithEventSink reports every auction to sink as events: one auction event,
// one per bidder that was called (bid, no_bid, timeout or error), one per
// bid (win or loss) and, through Auction.Commit, one per billed impression.
// Run never waits for the sink: a sink that is not a NonBlockingSink (such
// as an *AsyncSink) is wrapped in an AsyncSink with its defaults, owned by
// the Auction and closed by Auction.Close. A NonBlockingSink passed here is
// used as it is and stays the caller's to close. Default: no events are
// built.
func WithEventSink(sink EventSink) Option {
	return optionFunc(func(c *config) { c.sink = sink })
}

// A NonBlockingSink is an EventSink whose Write never waits on I/O: it
// queues or refuses the events and returns. WithEventSink hands events to
// such a sink directly instead of putting an AsyncSink in front of it.
type NonBlockingSink interface {
	EventSink
	NonBlocking
}

// NonBlocking marks AsyncSink as a NonBlockingSink.
func (s *AsyncSink) NonBlocking() {}

// Close releases what the Auction owns: it closes the AsyncSink that
// WithEventSink made, delivering the events still queued within ctx. It
// returns that sink's Close error. Run must not be called after Close.
func (a *Auction) Close(ctx context.Context) error {
	if a.ownSink != nil {
		return a.ownSink.Close(ctx)
	}
	return nil
}

// emit builds the auction's events in the round's scratch slice and hands
// them to the sink, which copies them.
func (r *round) emit(ctx context.Context, res *Result) {
	a := r.a
	ts := res.Start.UnixMilli()
	cleared := time.Now().UnixMilli()
	evs := r.events[:0]
	winners := 0
	for i := range res.Imps {
		if res.Imps[i].Winner >= 0 {
			winners++
		}
	}
	au := Event{
		Version: EventSchemaVersion, Type: EventAuction, Time: ts, AuctionID: res.AuctionID,
		Currency: res.Currency, LatencyUS: res.Duration.Microseconds(),
		Bids: len(res.Bids), Imps: len(res.Imps), Winners: winners,
	}
	if winners == 0 {
		au.NBR = int(res.NBR)
	}
	evs = append(evs, au)
	for i := range res.Bidders {
		br := &res.Bidders[i]
		t := bidderEventType(br.Status)
		if t == 0 {
			continue
		}
		e := Event{
			Version: EventSchemaVersion, Type: t, Time: ts + br.Latency.Milliseconds(), AuctionID: res.AuctionID,
			Bidder: br.Bidder, Status: br.Status.String(), LatencyUS: br.Latency.Microseconds(), Bids: br.Bids,
		}
		if br.Err != nil && t != EventTimeout {
			e.Error = br.Err.Error()
		}
		evs = append(evs, e)
	}
	for i := range res.Bids {
		b := &res.Bids[i]
		e := Event{
			Version: EventSchemaVersion, Type: EventLoss, Time: cleared, AuctionID: res.AuctionID,
			ImpID: b.Bid.ImpID, Bidder: b.Bidder, Seat: b.Seat, BidID: b.Bid.ID,
			Currency: res.Currency, PriceMicros: b.PriceMicros, LossReason: int(b.Loss),
		}
		if b.Deal != nil {
			e.DealID = b.Deal.ID
		}
		if b.Won {
			e.Type, e.LossReason = EventWin, 0
			e.ClearMicros, e.CostMicros, e.Account = b.ClearMicros, b.CostMicros(), res.Imps[b.Imp].Hold.Account
		}
		evs = append(evs, e)
	}
	r.events = evs
	if err := a.sink.Write(ctx, evs); err != nil {
		a.stats.eventWrites.Add(1)
	}
}

func bidderEventType(s BidderStatus) EventType {
	switch s {
	case StatusBid:
		return EventBid
	case StatusNoBid:
		return EventNoBid
	case StatusTimeout:
		return EventTimeout
	case StatusError, StatusInvalidResponse:
		return EventError
	}
	return 0
}

// billingEvent reports a committed impression.
func (a *Auction) billingEvent(ctx context.Context, b *Billing, cost int64) {
	if a.sink == nil {
		return
	}
	evs := []Event{{
		Version: EventSchemaVersion, Type: EventBilling, Time: time.Now().UnixMilli(),
		AuctionID: b.AuctionID, ImpID: b.ImpID, Bidder: b.Bidder, Seat: b.Seat, BidID: b.BidID,
		DealID: b.DealID, Account: b.Hold.Account, Currency: b.Currency,
		ClearMicros: b.ClearMicros, CostMicros: cost,
	}}
	if err := a.sink.Write(ctx, evs); err != nil {
		a.stats.eventWrites.Add(1)
	}
}
