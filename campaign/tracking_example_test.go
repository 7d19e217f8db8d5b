package campaign_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// A click on an ad lands on the advertiser's page with a conversion token,
// which the advertiser posts back once the user buys.
func ExampleTracker() {
	sink := gavel.EventSinkFunc(func(_ context.Context, events []gavel.Event) error {
		for _, e := range events {
			fmt.Println("event:", e.Type, e.AuctionID, e.Campaign, e.Creative, e.PriceMicros, "order="+e.OrderID)
		}
		return nil
	})
	key := gavelhttp.Key{ID: "2026-01", Secret: bytes.Repeat([]byte("s"), gavelhttp.MinKeyBytes)} // from a secret store
	tr, err := campaign.NewTracker("https://ads.example/track", []gavelhttp.Key{key}, sink,
		campaign.WithTrackerClock(func() time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) }))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/track/click", tr.ClickHandler())
	mux.Handle("/track/conversion", tr.ConversionHandler())

	// The campaign bidder puts this URL in its markup.
	click := tr.ClickURL(campaign.ClickInfo{
		AuctionID: "a1", ImpID: "1", CampaignID: "spring-sale", CreativeID: "banner-300x250",
		Account: "acme", PriceMicros: 2_500_000, Currency: "USD", Landing: "https://shop.example/sale?utm_source=gavel",
	})
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, click, nil))
	landing, _ := url.Parse(w.Header().Get("Location"))
	fmt.Println(w.Code, landing.Host+landing.Path, landing.Query().Get("utm_source"))

	// The advertiser's server posts the conversion back with the token it received.
	postback := "https://ads.example/track/conversion?order_id=o-17&gavel_click=" + landing.Query().Get("gavel_click")
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, postback, nil))
	fmt.Println(w.Code)
	// Output:
	// event: click a1 spring-sale banner-300x250 2500000 order=
	// 302 shop.example/sale gavel
	// event: conversion a1 spring-sale banner-300x250 2500000 order=o-17
	// 204
}
