package gavel

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// TestDecodeBidResponseIsAPlainDecode checks that decoding into the
// preset one-seat, one-bid memory gives what a decoding into a new
// BidResponse gives, whatever the number of seats, bids, advertiser
// domains and categories, but for an empty list of seats, of the first
// seat's bids or of the first bid's adomain or cat, which is nil.
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
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1,"adomain":["a.example"],"cat":["IAB1"]}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1,"adomain":[],"cat":[]}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1,"adomain":null,"cat":null}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","impid":"i","price":1,"adomain":["a.example","b.example"],"cat":["IAB1","IAB2-3","IAB9"]}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","price":1,"adomain":["a.example"]},{"id":"2","price":2,"cat":["IAB2"]},{"id":"3","price":3,"adomain":["c.example"],"cat":["IAB3"]}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","price":1,"adomain":["a.example"],"cat":["IAB1"]}]},{"seat":"b","bid":[{"id":"2","price":2,"adomain":["b.example"]}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[]},{"seat":"b","bid":[{"id":"2","price":2,"adomain":["b.example"]}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","price":1,"adomain":["a.example"],"adomain":["z.example"],"cat":["IAB1"],"cat":[]}]}]}`,
		`{"id":"r","seatbid":[{"seat":"a","bid":[{"id":"1","price":1,"adomain":["a.example"],"cat":["IAB1"]}]}],"seatbid":[{"seat":"b","bid":[{"id":"2","price":2},{"id":"3","price":3,"cat":["IAB3"]}]}]}`,
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
		} else {
			unsetLists(&want.SeatBid[0].Bid[0])
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
	data := []byte(`{"seatbid":[{"bid":[{"price":1.5,"adomain":["a.example"],"cat":["IAB1"]}]}]}`)
	var resp *openrtb2.BidResponse
	allocs := testing.AllocsPerRun(20, func() {
		resp, _ = decodeBidResponse(nil, data)
	})
	if resp == nil || len(resp.SeatBid) != 1 || len(resp.SeatBid[0].Bid) != 1 || resp.SeatBid[0].Bid[0].Price != 1.5 {
		t.Fatalf("decoded %+v", resp)
	}
	bid := &resp.SeatBid[0].Bid[0]
	if len(bid.ADomain) != 1 || bid.ADomain[0] != "a.example" || len(bid.Cat) != 1 || bid.Cat[0] != "IAB1" {
		t.Fatalf("decoded %+v", bid)
	}
	if cap(resp.SeatBid) != 1 || cap(resp.SeatBid[0].Bid) != 1 || cap(bid.ADomain) != 1 || cap(bid.Cat) != 1 {
		t.Errorf("capacities %d, %d, %d and %d, want 1: a slice grew", cap(resp.SeatBid), cap(resp.SeatBid[0].Bid), cap(bid.ADomain), cap(bid.Cat))
	}
	t.Logf("%.0f allocations", allocs)
}
