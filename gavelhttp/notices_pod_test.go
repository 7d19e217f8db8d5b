package gavelhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every winner of a dynamic pod gets its own billing URL, for its own
// hold: billing one bills that ad alone.
func TestRewriteDynamicPod(t *testing.T) {
	ctx := context.Background()
	ad := func(id string, price float64, dur int64, advertiser string, slot int8) openrtb2.Bid {
		return openrtb2.Bid{ID: id, ImpID: "break", Price: price, Dur: dur, MType: openrtb2.MarkupVideo,
			ADomain: []string{advertiser}, SlotInPod: adcom1.SlotPositionInPod(slot), AdM: `<VAST version="4.0"></VAST>`}
	}
	ledger, err := gavel.NewMemoryLedger()
	require.NoError(t, err)
	for _, acct := range []string{"dsp-a", "dsp-b"} {
		require.NoError(t, ledger.SetBudget(ctx, gavel.Budget{Account: acct, Amount: 1_000_000}))
	}
	a, err := gavel.New(gavel.WithLedger(ledger), gavel.WithBidders(
		auctiontest.Fixed("dsp-a", ad("a1", 20, 30, "cars.example", 0), ad("a2", 12, 15, "soda.example", -1)),
		auctiontest.Fixed("dsp-b", ad("b1", 18, 30, "cars.example", 0), ad("b2", 9, 15, "bank.example", 1)),
	))
	require.NoError(t, err)
	req := auctiontest.Request("pod-1", openrtb2.Imp{ID: "break", BidFloor: 5, Video: &openrtb2.Video{
		MIMEs: []string{"video/mp4"}, PodDur: 60, MaxSeq: 3, SlotInPod: 2}})
	req.AT = 1
	res, err := a.Run(ctx, req)
	require.NoError(t, err)
	require.Len(t, res.Imps[0].Pod.Winners, 3)

	notifier, err := gavelhttp.NewNotifier()
	require.NoError(t, err)
	defer func() { require.NoError(t, notifier.Close(ctx)) }()
	notices, err := gavelhttp.NewNotices(a, testKeys(t), "https://exchange.example/notice/billing", notifier)
	require.NoError(t, err)
	resp := res.BidResponse()
	require.NoError(t, notices.Rewrite(res, resp))

	burls := map[string]string{}
	for _, sb := range resp.SeatBid {
		for _, b := range sb.Bid {
			burls[b.ID] = b.BURL
		}
	}
	require.Len(t, burls, 3)
	committed := func(acct string) int64 {
		b, err := ledger.Balance(ctx, acct)
		require.NoError(t, err)
		return b.Committed
	}
	for _, step := range []struct {
		bid  string
		a, b int64 // committed on dsp-a, dsp-b after billing bid
	}{{"a1", 20_000, 0}, {"b2", 20_000, 9_000}, {"a1", 20_000, 9_000}, {"a2", 32_000, 9_000}} {
		rec := httptest.NewRecorder()
		notices.BillingHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, burls[step.bid], nil))
		require.Equal(t, http.StatusNoContent, rec.Code, step.bid)
		assert.Equal(t, step.a, committed("dsp-a"), step.bid)
		assert.Equal(t, step.b, committed("dsp-b"), step.bid)
	}

	resp.SeatBid[0].Bid[0].ID = "not-a-winner"
	require.ErrorIs(t, notices.Rewrite(res, resp), gavelhttp.ErrNotWinnerBid)
}
