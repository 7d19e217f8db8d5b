package gavel

import (
	"context"
	"time"
)

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
			e.ClearMicros, e.CostMicros, e.Account = b.ClearMicros, b.CostMicros(), res.holdOf(i).Account
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
