package gavel_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

func TestEventTypeText(t *testing.T) {
	tests := []struct {
		typ  gavel.EventType
		name string
	}{
		{gavel.EventAuction, "auction"},
		{gavel.EventBid, "bid"},
		{gavel.EventNoBid, "no_bid"},
		{gavel.EventTimeout, "timeout"},
		{gavel.EventError, "error"},
		{gavel.EventWin, "win"},
		{gavel.EventLoss, "loss"},
		{gavel.EventBilling, "billing"},
		{gavel.EventClick, "click"},
		{gavel.EventConversion, "conversion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.name, tt.typ.String())
			data, err := json.Marshal(tt.typ)
			require.NoError(t, err)
			assert.Equal(t, `"`+tt.name+`"`, string(data))
			var back gavel.EventType
			require.NoError(t, json.Unmarshal(data, &back))
			assert.Equal(t, tt.typ, back)
		})
	}
}

func TestEventTypeInvalid(t *testing.T) {
	for _, typ := range []gavel.EventType{0, gavel.EventConversion + 1, 255} {
		assert.Equal(t, "unknown", typ.String())
		_, err := json.Marshal(typ)
		assert.ErrorContains(t, err, "gavel: unknown event type", "type %d", typ)
	}
	for _, text := range []string{`""`, `"unknown"`, `"Auction"`, `"win "`, `"no-bid"`, `"bogus"`, `1`} {
		typ := gavel.EventWin
		err := json.Unmarshal([]byte(text), &typ)
		assert.Error(t, err, text)
		assert.Equal(t, gavel.EventWin, typ, "%s: a failed decode leaves the type unchanged", text)
	}
}

// TestEventJSONGolden pins the JSON of one event of each type: the field
// names are a public contract that consumers (Kafka, reporting) rely on.
func TestEventJSONGolden(t *testing.T) {
	const ts = 1767225600123 // 2026-01-01T00:00:00.123Z
	tests := []struct {
		name  string
		event gavel.Event
		json  string
	}{
		{
			"auction",
			gavel.Event{Version: 1, Type: gavel.EventAuction, Time: ts, AuctionID: "a1", Currency: "USD",
				LatencyUS: 41250, Bids: 5, Imps: 2, Winners: 1},
			`{"v":1,"type":"auction","ts":1767225600123,"auction_id":"a1","cur":"USD","latency_us":41250,"bids":5,"imps":2,"winners":1}`,
		},
		{
			"auction without winner",
			gavel.Event{Version: 1, Type: gavel.EventAuction, Time: ts, AuctionID: "a2", Currency: "EUR",
				NBR: 500, LatencyUS: 12000, Imps: 1},
			`{"v":1,"type":"auction","ts":1767225600123,"auction_id":"a2","cur":"EUR","nbr":500,"latency_us":12000,"imps":1}`,
		},
		{
			"bid",
			gavel.Event{Version: 1, Type: gavel.EventBid, Time: ts, AuctionID: "a1", Bidder: "dsp-a",
				Status: "bid", LatencyUS: 8000, Bids: 2},
			`{"v":1,"type":"bid","ts":1767225600123,"auction_id":"a1","bidder":"dsp-a","status":"bid","latency_us":8000,"bids":2}`,
		},
		{
			"no_bid",
			gavel.Event{Version: 1, Type: gavel.EventNoBid, Time: ts, AuctionID: "a1", Bidder: "dsp-b",
				Status: "no_bid", LatencyUS: 3000},
			`{"v":1,"type":"no_bid","ts":1767225600123,"auction_id":"a1","bidder":"dsp-b","status":"no_bid","latency_us":3000}`,
		},
		{
			"timeout",
			gavel.Event{Version: 1, Type: gavel.EventTimeout, Time: ts, AuctionID: "a1", Bidder: "dsp-c",
				Status: "timeout", LatencyUS: 95000},
			`{"v":1,"type":"timeout","ts":1767225600123,"auction_id":"a1","bidder":"dsp-c","status":"timeout","latency_us":95000}`,
		},
		{
			"error",
			gavel.Event{Version: 1, Type: gavel.EventError, Time: ts, AuctionID: "a1", Bidder: "dsp-d",
				Status: "invalid_response", LatencyUS: 5000, Error: `gavel: invalid bid response: id "x"`},
			`{"v":1,"type":"error","ts":1767225600123,"auction_id":"a1","bidder":"dsp-d","status":"invalid_response","latency_us":5000,"error":"gavel: invalid bid response: id \"x\""}`,
		},
		{
			"win",
			gavel.Event{Version: 1, Type: gavel.EventWin, Time: ts, AuctionID: "a1", ImpID: "1", Bidder: "dsp-a",
				Seat: "seat-7", BidID: "b1", DealID: "deal-9", Account: "acme", Currency: "USD",
				PriceMicros: 3_000_000, ClearMicros: 2_010_000, CostMicros: 2010},
			`{"v":1,"type":"win","ts":1767225600123,"auction_id":"a1","imp_id":"1","bidder":"dsp-a","seat":"seat-7","bid_id":"b1","deal_id":"deal-9","account":"acme","cur":"USD","price_micros":3000000,"clear_micros":2010000,"cost_micros":2010}`,
		},
		{
			"loss",
			gavel.Event{Version: 1, Type: gavel.EventLoss, Time: ts, AuctionID: "a1", ImpID: "1", Bidder: "dsp-e",
				Seat: "dsp-e", BidID: "e1", Currency: "USD", PriceMicros: 2_000_000, LossReason: 102},
			`{"v":1,"type":"loss","ts":1767225600123,"auction_id":"a1","imp_id":"1","bidder":"dsp-e","seat":"dsp-e","bid_id":"e1","cur":"USD","price_micros":2000000,"loss_reason":102}`,
		},
		{
			"billing",
			gavel.Event{Version: 1, Type: gavel.EventBilling, Time: ts, AuctionID: "a1", ImpID: "1", Bidder: "dsp-a",
				Seat: "seat-7", BidID: "b1", Account: "acme", Currency: "USD", ClearMicros: 2_010_000, CostMicros: 2010},
			`{"v":1,"type":"billing","ts":1767225600123,"auction_id":"a1","imp_id":"1","bidder":"dsp-a","seat":"seat-7","bid_id":"b1","account":"acme","cur":"USD","clear_micros":2010000,"cost_micros":2010}`,
		},
		{
			"click",
			gavel.Event{Version: 1, Type: gavel.EventClick, Time: ts, AuctionID: "a1", ImpID: "1", BidID: "c7.cr2.00ff00ff00ff00ff.9",
				Account: "acme", Currency: "USD", PriceMicros: 3_000_000, Campaign: "c7", Creative: "cr2",
				ClickID: "0123456789abcdef0123456789abcdef"},
			`{"v":1,"type":"click","ts":1767225600123,"auction_id":"a1","imp_id":"1","bid_id":"c7.cr2.00ff00ff00ff00ff.9","account":"acme","cur":"USD","price_micros":3000000,"campaign":"c7","creative":"cr2","click_id":"0123456789abcdef0123456789abcdef"}`,
		},
		{
			"conversion",
			gavel.Event{Version: 1, Type: gavel.EventConversion, Time: ts, AuctionID: "a1", ImpID: "1",
				Account: "acme", Currency: "USD", PriceMicros: 3_000_000, Campaign: "c7", Creative: "cr2",
				ClickID: "0123456789abcdef0123456789abcdef", OrderID: "order-42"},
			`{"v":1,"type":"conversion","ts":1767225600123,"auction_id":"a1","imp_id":"1","account":"acme","cur":"USD","price_micros":3000000,"campaign":"c7","creative":"cr2","click_id":"0123456789abcdef0123456789abcdef","order_id":"order-42"}`,
		},
		{
			"every field",
			gavel.Event{Version: 1, Type: gavel.EventWin, Time: -1, AuctionID: "a", ImpID: "i", Bidder: "b", Seat: "s",
				BidID: "bid", DealID: "d", Account: "acc", Currency: "c", PriceMicros: 1, ClearMicros: 2, CostMicros: 3,
				LossReason: 4, NBR: 5, Status: "st", LatencyUS: 6, Bids: 7, Imps: 8, Winners: 9, Error: "e",
				Campaign: "cp", Creative: "cr", ClickID: "ck", OrderID: "o"},
			`{"v":1,"type":"win","ts":-1,"auction_id":"a","imp_id":"i","bidder":"b","seat":"s","bid_id":"bid","deal_id":"d","account":"acc","cur":"c","price_micros":1,"clear_micros":2,"cost_micros":3,"loss_reason":4,"nbr":5,"status":"st","latency_us":6,"bids":7,"imps":8,"winners":9,"error":"e","campaign":"cp","creative":"cr","click_id":"ck","order_id":"o"}`,
		},
		{
			"required fields only",
			gavel.Event{Type: gavel.EventAuction},
			`{"v":0,"type":"auction","ts":0,"auction_id":""}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.event)
			require.NoError(t, err)
			assert.Equal(t, tt.json, string(data))
			var back gavel.Event
			require.NoError(t, json.Unmarshal(data, &back))
			assert.Equal(t, tt.event, back)
		})
	}
}

func TestEventSchemaVersion(t *testing.T) {
	assert.Equal(t, 1, gavel.EventSchemaVersion, "bump only for a change that breaks consumers; see Event")
}

func TestEventDecodeUnknownType(t *testing.T) {
	var e gavel.Event
	err := json.Unmarshal([]byte(`{"v":1,"type":"impression","ts":1,"auction_id":"a"}`), &e)
	assert.ErrorContains(t, err, `gavel: unknown event type "impression"`)
}

func TestEventDecodeIgnoresUnknownFields(t *testing.T) {
	var e gavel.Event
	require.NoError(t, json.Unmarshal([]byte(`{"v":2,"type":"win","ts":1,"auction_id":"a","new_field":[1,2]}`), &e))
	assert.Equal(t, gavel.Event{Version: 2, Type: gavel.EventWin, Time: 1, AuctionID: "a"}, e)
}
