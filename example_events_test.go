package gavel_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// An AsyncSink in front of a JSONLinesSink: Write returns at once, the
// sink's goroutine writes the lines, and Close delivers what is queued.
func ExampleAsyncSink() {
	sink, err := gavel.NewAsyncSink(gavel.NewJSONLinesSink(os.Stdout), gavel.WithLinger(10*time.Millisecond))
	if err != nil {
		panic(err)
	}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	_ = sink.Write(context.Background(), []gavel.Event{
		{Version: gavel.EventSchemaVersion, Type: gavel.EventWin, Time: ts, AuctionID: "a1", ImpID: "1",
			Bidder: "dsp", Seat: "dsp", BidID: "b1", Currency: "USD",
			PriceMicros: 3_000_000, ClearMicros: 2_010_000, CostMicros: 2010},
		{Version: gavel.EventSchemaVersion, Type: gavel.EventAuction, Time: ts, AuctionID: "a1", Currency: "USD",
			LatencyUS: 41250, Bids: 1, Imps: 1, Winners: 1},
	})
	if err := sink.Close(context.Background()); err != nil {
		panic(err)
	}
	st := sink.Stats()
	fmt.Printf("accepted %d, delivered %d, dropped %d, failed %d\n", st.Accepted, st.Delivered, st.Dropped, st.Failed)
	// Output:
	// {"v":1,"type":"win","ts":1767225600000,"auction_id":"a1","imp_id":"1","bidder":"dsp","seat":"dsp","bid_id":"b1","cur":"USD","price_micros":3000000,"clear_micros":2010000,"cost_micros":2010}
	// {"v":1,"type":"auction","ts":1767225600000,"auction_id":"a1","cur":"USD","latency_us":41250,"bids":1,"imps":1,"winners":1}
	// accepted 2, delivered 2, dropped 0, failed 0
}

// WithEventSink reports every auction as events. This sink prints them; it
// is not a NonBlockingSink, so New puts an AsyncSink in front of it and Run
// never waits for it. Close delivers what is still queued.
func ExampleWithEventSink() {
	printer := gavel.EventSinkFunc(func(_ context.Context, events []gavel.Event) error {
		for _, e := range events {
			switch e.Type {
			case gavel.EventAuction:
				fmt.Printf("%s %s: %d bids, %d winner\n", e.Type, e.AuctionID, e.Bids, e.Winners)
			case gavel.EventWin, gavel.EventLoss:
				fmt.Printf("%s %s: bid %s, pays %s, loss reason %d\n", e.Type, e.BidID,
					gavel.FormatMicros(e.PriceMicros), gavel.FormatMicros(e.ClearMicros), e.LossReason)
			case gavel.EventError:
				fmt.Printf("%s %s: %s\n", e.Type, e.Bidder, e.Error)
			default: // the other bidder events: bid, no_bid, timeout
				fmt.Printf("%s %s: bids %d\n", e.Type, e.Bidder, e.Bids)
			}
		}
		return nil
	})
	a, err := gavel.New(
		gavel.WithBidders(
			auctiontest.Fixed("alpha", auctiontest.Bid("a1", "1", 2.50)),
			auctiontest.Fixed("beta", auctiontest.Bid("b1", "1", 3.10)),
			auctiontest.Error("broken", errors.New("connection refused")),
		),
		gavel.WithEventSink(printer),
	)
	if err != nil {
		panic(err)
	}
	req := auctiontest.Request("auction-1", auctiontest.BannerImp("1", 1.00))
	if _, err := a.Run(context.Background(), req); err != nil {
		panic(err)
	}
	if err := a.Close(context.Background()); err != nil {
		panic(err)
	}
	// Output:
	// auction auction-1: 2 bids, 1 winner
	// bid alpha: bids 1
	// bid beta: bids 1
	// error broken: connection refused
	// loss a1: bid 2.5, pays 0, loss reason 102
	// win b1: bid 3.1, pays 2.51, loss reason 0
}
