package gavel_test

import (
	"context"
	"fmt"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// A dynamic ad pod (OpenRTB 2.6 §7.6): one imp of 60 seconds for at most
// 3 ads. Several bids win it, the set of greatest value that fits, listed
// in play order in ImpResult.Pod, each at its own price.
func ExampleImpResult_dynamicPod() {
	ad := func(id string, price float64, dur int64, advertiser string, slot int8) openrtb2.Bid {
		return openrtb2.Bid{ID: id, ImpID: "break", Price: price, Dur: dur, MType: openrtb2.MarkupVideo,
			ADomain: []string{advertiser}, SlotInPod: adcom1.SlotPositionInPod(slot), AdM: `<VAST version="4.0"></VAST>`}
	}
	a, err := gavel.New(gavel.WithBidders(
		auctiontest.Fixed("dsp-a", ad("a1", 20, 30, "cars.example", 0), ad("a2", 12, 15, "soda.example", -1)),
		auctiontest.Fixed("dsp-b", ad("b1", 18, 30, "cars.example", 0), ad("b2", 9, 15, "bank.example", 1)),
	))
	if err != nil {
		fmt.Println(err)
		return
	}
	req := auctiontest.Request("pod-1", openrtb2.Imp{ID: "break", BidFloor: 5, Video: &openrtb2.Video{
		MIMEs: []string{"video/mp4"}, PodDur: 60, MaxSeq: 3, SlotInPod: 2, // first and last guaranteed
	}})
	req.AT = 1
	res, err := a.Run(context.Background(), req)
	if err != nil {
		fmt.Println(err)
		return
	}
	pod := res.Imps[0].Pod
	fmt.Println(len(pod.Winners), "ads,", pod.Seconds, "s")
	for _, w := range pod.Winners {
		b := &res.Bids[w]
		fmt.Println(b.Bid.ID, b.Bid.Dur, gavel.FormatMicros(b.ClearMicros))
	}
	for _, b := range res.Bids {
		if !b.Won {
			fmt.Println(b.Bid.ID, "lost", int(b.Loss)) // b1: the same advertiser as a1
		}
	}
	// Output:
	// 3 ads, 60 s
	// b2 15 9
	// a1 30 20
	// a2 15 12
	// b1 lost 511
}
