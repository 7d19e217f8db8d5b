package gavel_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// A MemoryProfileStore holds what the exchange knows about its users. With
// WithProfileStore, Run looks the user up (by user.id unless
// WithProfileKeys says otherwise) and the bidders see the request's user
// with the profile merged in; the caller's request is left as it was.
func ExampleWithProfileStore() {
	ctx := context.Background()
	profiles, err := gavel.NewMemoryProfileStore(gavel.WithProfileTTL(24 * time.Hour))
	if err != nil {
		panic(err)
	}
	profiles.Put("user-42", &gavel.Profile{
		Segments: []openrtb2.Data{{ID: "crm", Segment: []openrtb2.Segment{{ID: "sports-fans"}}}},
		Keywords: []string{"football"},
	})
	p, err := profiles.Profile(ctx, "user-42")
	fmt.Println("user-42:", p.Keywords, err)
	_, err = profiles.Profile(ctx, "user-7")
	fmt.Println("user-7:", errors.Is(err, gavel.ErrNoProfile))

	// A bidder that bids only for sports fans.
	sports := gavel.BidderFunc("sports", func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		if req.User == nil {
			return nil, nil
		}
		for _, d := range req.User.Data {
			for _, s := range d.Segment {
				if s.ID == "sports-fans" {
					return auctiontest.Response(req.ID, "sports", auctiontest.Bid("s1", req.Imp[0].ID, 4.00)), nil
				}
			}
		}
		return nil, nil
	})
	a, err := gavel.New(gavel.WithBidders(sports), gavel.WithProfileStore(profiles))
	if err != nil {
		panic(err)
	}
	for _, uid := range []string{"user-42", "user-7"} {
		req := auctiontest.Request("auction-"+uid, auctiontest.BannerImp("1", 1.00))
		req.User = &openrtb2.User{ID: uid}
		res, err := a.Run(ctx, req)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: %s, user.data in the request: %d\n", uid, res.Bidders[0].Status, len(req.User.Data))
	}
	st := a.Stats()
	fmt.Println("profile hits:", st.ProfileHits, "misses:", st.ProfileMisses)
	// Output:
	// user-42: [football] <nil>
	// user-7: true
	// user-42: bid, user.data in the request: 0
	// user-7: no_bid, user.data in the request: 0
	// profile hits: 1 misses: 1
}
