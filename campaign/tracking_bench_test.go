package campaign_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// BenchmarkTracker measures making a click URL, and serving a click (verify,
// dedupe, one event to a sink that keeps nothing, the redirect with its
// conversion token) without a socket.
func BenchmarkTracker(b *testing.B) {
	var events int
	sink := gavel.EventSinkFunc(func(_ context.Context, evs []gavel.Event) error { events += len(evs); return nil })
	tr, err := campaign.NewTracker("https://ads.example/track", []gavelhttp.Key{key1}, sink)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("op=click_url", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if tr.ClickURL(testClick(i&1023)) == "" {
				b.Fatal("no url")
			}
		}
	})
	b.Run("op=click", func(b *testing.B) {
		urls := make([]string, 1024)
		for i := range urls {
			urls[i] = tr.ClickURL(testClick(i))
		}
		h := tr.ClickHandler()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, urls[i&1023], nil))
			if w.Code != http.StatusFound {
				b.Fatalf("status %d", w.Code)
			}
		}
		if events == 0 {
			b.Fatal("no click recorded")
		}
	})
}
