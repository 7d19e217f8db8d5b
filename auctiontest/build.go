package auctiontest

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// Request returns a bid request with the given id and imps, tmax 100 ms
// and currency USD.
func Request(id string, imps ...openrtb2.Imp) *openrtb2.BidRequest {
	return &openrtb2.BidRequest{ID: id, Imp: imps, TMax: 100, Cur: []string{"USD"}}
}

// BannerImp returns a banner imp with the given id and floor (CPM, USD)
// accepting the given sizes as formats, each a {w, h} pair.
func BannerImp(id string, floor float64, sizes ...[2]int64) openrtb2.Imp {
	imp := openrtb2.Imp{ID: id, BidFloor: floor, BidFloorCur: "USD", Banner: &openrtb2.Banner{}}
	for _, s := range sizes {
		imp.Banner.Format = append(imp.Banner.Format, openrtb2.Format{W: s[0], H: s[1]})
	}
	return imp
}

// VideoImp returns a video imp with the given id and floor (CPM, USD).
func VideoImp(id string, floor float64) openrtb2.Imp {
	return openrtb2.Imp{ID: id, BidFloor: floor, BidFloorCur: "USD",
		Video: &openrtb2.Video{MIMEs: []string{"video/mp4"}}}
}

// Bid returns a bid with the given id for impID at price (CPM) with a
// small piece of markup.
func Bid(id, impID string, price float64) openrtb2.Bid {
	return openrtb2.Bid{ID: id, ImpID: impID, Price: price, AdM: "<div>ad " + id + "</div>", CrID: "cr-" + id}
}

// LoadRequest reads a JSON bid request from a file.
func LoadRequest(path string) (*openrtb2.BidRequest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var req openrtb2.BidRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, fmt.Errorf("auctiontest: %s: %w", path, err)
	}
	return &req, nil
}
