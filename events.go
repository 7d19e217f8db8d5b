package gavel

import (
	"context"
	"fmt"
)

// EventType says what an Event reports. In JSON it is a lowercase string
// ("auction", "bid", ...); see the constants. The zero value is not a valid
// type: it has no JSON form.
type EventType uint8

// The event types, with their JSON names.
const (
	EventAuction    EventType = iota + 1 // "auction": one per Run
	EventBid                             // "bid": a bidder answered with bids
	EventNoBid                           // "no_bid": a bidder answered with no bid
	EventTimeout                         // "timeout": a bidder missed its deadline
	EventError                           // "error": a bidder failed or sent an invalid response
	EventWin                             // "win": a bid won an imp
	EventLoss                            // "loss": a bid lost, with its loss reason
	EventBilling                         // "billing": an impression was billed (hold committed)
	EventClick                           // "click": a user clicked an ad (campaign.Tracker)
	EventConversion                      // "conversion": an advertiser reported a conversion of a click
)

var eventTypeNames = [...]string{"", "auction", "bid", "no_bid", "timeout", "error", "win", "loss", "billing", "click", "conversion"}

// String returns the type's JSON name, or "unknown" for a value that is not
// one of the constants.
func (t EventType) String() string {
	if t.Valid() {
		return eventTypeNames[t]
	}
	return "unknown"
}

// Valid reports whether t is one of the EventType constants: the types an
// event can be written with.
func (t EventType) Valid() bool { return t != 0 && int(t) < len(eventTypeNames) }

// MarshalText implements encoding.TextMarshaler: the type's JSON name. It
// fails for a value that is not one of the constants.
func (t EventType) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("gavel: unknown event type %d", uint8(t))
	}
	return []byte(eventTypeNames[t]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. It accepts exactly the
// names that MarshalText produces and fails for any other text, leaving t
// unchanged.
func (t *EventType) UnmarshalText(text []byte) error {
	for i := 1; i < len(eventTypeNames); i++ {
		if string(text) == eventTypeNames[i] {
			*t = EventType(i)
			return nil
		}
	}
	return fmt.Errorf("gavel: unknown event type %q", text)
}

// EventSchemaVersion is the version of the event schema that this package
// writes in Event.Version. It changes only when a field changes meaning, type
// or name; adding a field or an event type keeps it.
const EventSchemaVersion = 1

// Event is one record of the event stream: what happened in an auction, to
// one of its bidders or bids, or to a billed, clicked or converted
// impression. Events are flat and meant to be serialized one by one (JSON
// lines, Kafka records); the JSON field names below are a stable, public
// contract.
//
// In JSON, a field tagged omitempty is left out when it is zero, so an
// absent number reads as 0 and an absent string as "": decoding gives back
// exactly the Event that was encoded. Money is in integer micros (one
// millionth) of the currency in cur; prices are CPM, so one impression at
// price P costs P/1000.
//
// The fields, by JSON name:
//
//	v             Version. EventSchemaVersion of the writer. Always present.
//	type          Type, as a lowercase string: auction, bid, no_bid, timeout,
//	              error, win, loss, billing, click, conversion. Always
//	              present.
//	ts            Time the event happened, Unix milliseconds (UTC). Always
//	              present. auction: when the auction started; bid, no_bid,
//	              timeout, error: when the bidder answered or its deadline
//	              passed; win, loss: when the imp was cleared; billing: when
//	              the impression was billed; click: when the click arrived;
//	              conversion: when the postback arrived.
//	auction_id    AuctionID, the bid request's id. Always present.
//	imp_id        ImpID, the imp's id (win, loss, billing, click,
//	              conversion).
//	bidder        Bidder, the bidder's name (every type but auction, click
//	              and conversion).
//	seat          Seat, seatbid.seat, or the bidder's name when the seat is
//	              empty (win, loss, billing).
//	bid_id        BidID, the bid's id (win, loss, billing; click and
//	              conversion when the click URL was given it).
//	deal_id       DealID, the deal the bid is for; absent for the open market
//	              (win, loss, billing).
//	account       Account, the budget account charged for the impression
//	              (win, billing, click, conversion).
//	cur           Currency, ISO-4217 code of every money field of the event
//	              (auction, win, loss, billing, click, conversion).
//	price_micros  PriceMicros, the bid price in the auction currency, micros
//	              of CPM (win, loss, click, conversion).
//	clear_micros  ClearMicros, the clearing price the winner pays, micros of
//	              CPM (win, billing).
//	cost_micros   CostMicros, the money for one impression, micros of the
//	              currency: on win the amount reserved, on billing the amount
//	              billed.
//	loss_reason   LossReason, the OpenRTB 3 loss reason, or one of gavel's
//	              own (500 and up) (loss).
//	nbr           NBR, the no-bid reason of an auction that nothing won
//	              (auction).
//	status        Status, the bidder's status as BidderStatus.String names
//	              it: bid, no_bid, timeout, error, invalid_response (bid,
//	              no_bid, timeout, error).
//	latency_us    LatencyUS, microseconds: the bidder's latency (bid, no_bid,
//	              timeout, error) or the auction's duration (auction).
//	bids          Bids: on auction the bids received from all bidders, on
//	              bid the bids of that bidder.
//	imps          Imps, the number of imps in the request (auction).
//	winners       Winners, the number of imps won (auction).
//	error         Error, what went wrong, as text (error; auction when Run
//	              failed).
//	campaign      Campaign, the id of the campaign whose ad it was (click,
//	              conversion).
//	creative      Creative, the id of the campaign's creative, the bid's
//	              crid (click, conversion).
//	click_id      ClickID, 32 hex digits naming the click URL of one ad:
//	              the same on its clicks (a click counted again after the
//	              replay window) and on every conversion attributed to them
//	              (click, conversion).
//	order_id      OrderID, the advertiser's id of the conversion, when it
//	              gave one (conversion).
//
// A consumer must ignore fields it does not know. A consumer that decodes
// with this package gets an error for an event type it does not know, and
// should skip that record.
type Event struct {
	Version     int       `json:"v"`
	Type        EventType `json:"type"`
	Time        int64     `json:"ts"`
	AuctionID   string    `json:"auction_id"`
	ImpID       string    `json:"imp_id,omitempty"`
	Bidder      string    `json:"bidder,omitempty"`
	Seat        string    `json:"seat,omitempty"`
	BidID       string    `json:"bid_id,omitempty"`
	DealID      string    `json:"deal_id,omitempty"`
	Account     string    `json:"account,omitempty"`
	Currency    string    `json:"cur,omitempty"`
	PriceMicros int64     `json:"price_micros,omitempty"`
	ClearMicros int64     `json:"clear_micros,omitempty"`
	CostMicros  int64     `json:"cost_micros,omitempty"`
	LossReason  int       `json:"loss_reason,omitempty"`
	NBR         int       `json:"nbr,omitempty"`
	Status      string    `json:"status,omitempty"`
	LatencyUS   int64     `json:"latency_us,omitempty"`
	Bids        int       `json:"bids,omitempty"`
	Imps        int       `json:"imps,omitempty"`
	Winners     int       `json:"winners,omitempty"`
	Error       string    `json:"error,omitempty"`
	Campaign    string    `json:"campaign,omitempty"`
	Creative    string    `json:"creative,omitempty"`
	ClickID     string    `json:"click_id,omitempty"`
	OrderID     string    `json:"order_id,omitempty"`
}

// An EventSink receives batches of events.
//
// Write delivers events, in order, and returns nil once they are delivered,
// or an error if it could not deliver them all; the caller may then write
// the same batch again, so a sink that can fail half way should make a
// repeated batch harmless or say that it may duplicate. Write must not
// modify the events or keep them, or the slice, after it returns; copy what
// it needs. It should return promptly, with ctx.Err() or an error wrapping
// it, once ctx is done. Unless the sink documents otherwise, Write may be
// called from many goroutines at once.
//
// An auction must never wait for a sink that talks to the outside world:
// put such a sink behind an AsyncSink.
type EventSink interface {
	Write(ctx context.Context, events []Event) error
}

// EventSinkFunc adapts a function to an EventSink.
type EventSinkFunc func(ctx context.Context, events []Event) error

// Write calls f(ctx, events).
func (f EventSinkFunc) Write(ctx context.Context, events []Event) error { return f(ctx, events) }
