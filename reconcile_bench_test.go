package gavel_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
)

// BenchmarkSpendSummerReadJSONLines reads a JSON lines stream as an
// exchange writes it, one billing event in ten (the rest auction, bid,
// win and loss events), with 1,000 accounts on daily budgets: the cost
// per line. It checks that every billing event counted.
func BenchmarkSpendSummerReadJSONLines(b *testing.B) {
	const lines, accounts = 100_000, 1_000
	var budgets []gavel.Budget
	for i := range accounts {
		budgets = append(budgets, gavel.Budget{Account: fmt.Sprintf("dsp-%04d", i), Amount: 1e12, Period: gavel.DailyPeriod(nil, 0)})
	}
	var buf bytes.Buffer
	sink := gavel.NewJSONLinesSink(&buf)
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).UnixMilli()
	billed := 0
	for i := range lines {
		e := gavel.Event{Version: gavel.EventSchemaVersion, Type: gavel.EventBid, Time: start + int64(i), AuctionID: fmt.Sprintf("auction-%07d", i/10),
			Bidder: fmt.Sprintf("dsp-%04d", i%accounts), Status: "bid", LatencyUS: 12345, Bids: 1}
		if i%10 == 9 {
			e = gavel.Event{Version: gavel.EventSchemaVersion, Type: gavel.EventBilling, Time: start + int64(i), AuctionID: e.AuctionID,
				ImpID: "1", Bidder: e.Bidder, Seat: e.Bidder, BidID: "bid-1", Account: e.Bidder, Currency: "USD",
				ClearMicros: 2_010_000, CostMicros: 2_010}
			billed++
		}
		if err := sink.Write(context.Background(), []gavel.Event{e}); err != nil {
			b.Fatal(err)
		}
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)) / lines)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += lines {
		s, err := gavel.NewSpendSummer(budgets...)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.ReadJSONLines(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		if st := s.Stats(); st.Billed != billed || st.Other != lines-billed {
			b.Fatalf("stats %+v, want %d billed", st, billed)
		}
	}
}
