package gavel

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// TestDecodeBidResponseIsAPlainDecode checks that decoding into the
// preset one-seat, one-bid memory gives what a decoding into a new
// BidResponse gives, whatever the number of seats and bids, but for an
// empty list of seats or of the first seat's bids, which is nil.
func TestDecodeBidResponseIsAPlainDecode(t *testing.T) {
	docs := []string{
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1.5,"ext":{"x":1}}]}],"cur":"USD"}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1},{"id":"2","impid":"i","price":2},{"id":"3","impid":"j","price":3}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1}]},{"seat":"b","bid":[{"id":"2","impid":"i","price":2}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a"},{"seat":"b","bid":[{"id":"2","impid":"i","price":2}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":null},{"seat":"b","bid":[{"id":"2","impid":"i","price":2}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[]},{"seat":"b","bid":[{"id":"2","impid":"i","price":2}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1}]}],"seatbid":[{"seat":"b","bid":[{"id":"2","impid":"i","price":2},{"id":"3","impid":"i","price":3}]}]}`,
		`{"id":"r","seatbid":[],"nbr":2}`,
		`{"id":"r","nbr":2}`,
		`{"id":"r","seatbid":null}`,
		`{}`,
	}
	for _, doc := range docs {
		var want openrtb2.BidResponse
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if len(want.SeatBid) == 0 {
			want.SeatBid = nil
		} else if len(want.SeatBid[0].Bid) == 0 {
			want.SeatBid[0].Bid = nil
		}
		got, err := decodeBidResponse(nil, []byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", doc, *got, want)
		}
	}
	if _, err := decodeBidResponse(nil, []byte(`{"seatbid":[{"bid":[{"price":"x"}]}]}`)); err == nil {
		t.Error("an invalid bid decoded without an error")
	}
}

// TestDecodeBidResponseOneSeatOneBidGrowsNoSlice checks that a response
// with one seat and one bid takes no more allocations than its strings
// and the one block of the response.
func TestDecodeBidResponseOneSeatOneBidGrowsNoSlice(t *testing.T) {
	data := []byte(`{"seatbid":[{"bid":[{"price":1.5}]}]}`)
	var resp *openrtb2.BidResponse
	allocs := testing.AllocsPerRun(20, func() {
		resp, _ = decodeBidResponse(nil, data)
	})
	if resp == nil || len(resp.SeatBid) != 1 || len(resp.SeatBid[0].Bid) != 1 || resp.SeatBid[0].Bid[0].Price != 1.5 {
		t.Fatalf("decoded %+v", resp)
	}
	if cap(resp.SeatBid) != 1 || cap(resp.SeatBid[0].Bid) != 1 {
		t.Errorf("capacities %d and %d, want 1 and 1: a slice grew", cap(resp.SeatBid), cap(resp.SeatBid[0].Bid))
	}
	t.Logf("%.0f allocations", allocs)
}
