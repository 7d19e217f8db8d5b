package gavelredis

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// Two exchange processes share one Redis ledger and the signing keys; 50
// concurrent calls of one billing URL, spread over both, bill the
// impression once and fire the DSP's burl once: the process whose Commit
// won fires it, the other finds the hold ended and answers 204 too.
func TestNoticesBillOnceAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	var burls atomic.Int64
	dsp := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { burls.Add(1) }))
	defer dsp.Close()
	keys, err := gavelhttp.NewKeys(gavelhttp.Key{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)})
	require.NoError(t, err)

	c := ledgerClient(t)
	prefix := ledgerPrefix(t, c)
	type process struct {
		ledger   *Ledger
		auction  *gavel.Auction
		notifier *gavelhttp.Notifier
		notices  *gavelhttp.Notices
	}
	bid := auctiontest.Bid("b1", "1", 3.10)
	bid.BURL = dsp.URL + "/bill?ts=${AUCTION_IMP_TS}"
	procs := make([]*process, 2)
	for i := range procs {
		p := &process{ledger: newTestLedgerAt(t, ledgerClientAt(t, redisAddr()), prefix)}
		p.auction, err = gavel.New(gavel.WithBidders(auctiontest.Fixed("dsp", bid)), gavel.WithLedger(p.ledger))
		require.NoError(t, err)
		p.notifier, err = gavelhttp.NewNotifier(gavelhttp.WithAllowedAddresses(netip.MustParsePrefix("127.0.0.1/32")))
		require.NoError(t, err)
		p.notices, err = gavelhttp.NewNotices(p.auction, keys, "https://exchange.example/notice/billing", p.notifier)
		require.NoError(t, err)
		procs[i] = p
	}
	require.NoError(t, procs[0].ledger.SetBudget(ctx, gavel.Budget{Account: "dsp", Amount: 1_000_000}))

	res, err := procs[0].auction.Run(ctx, auctiontest.Request("auction-1", auctiontest.BannerImp("1", 2.00)))
	require.NoError(t, err)
	resp := res.BidResponse()
	require.NoError(t, procs[0].notices.Rewrite(res, resp))
	billingURL := resp.SeatBid[0].Bid[0].BURL

	codes := make([]int, 50)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			procs[i%2].notices.BillingHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, billingURL, nil))
			codes[i] = rec.Code
		})
	}
	wg.Wait()
	for _, code := range codes {
		assert.Equal(t, http.StatusNoContent, code)
	}
	for _, p := range procs {
		require.NoError(t, p.notifier.Close(ctx))
	}
	b := ledgerBalanceOf(t, procs[1].ledger, "dsp")
	assert.Equal(t, int64(2010), b.Committed, "billed once")
	assert.Zero(t, b.Reserved)
	assert.Equal(t, int64(1), burls.Load(), "the burl fired once")
}
