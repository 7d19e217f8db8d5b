package gavel_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gavelrtb/gavel"
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
