package gavelhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// billingRig is an exchange with a MemoryLedger and Notices mounted on a
// server on 127.0.0.1, and a DSP server that receives the burls.
type billingRig struct {
	ledger   *gavel.MemoryLedger
	auction  *gavel.Auction
	notifier *gavelhttp.Notifier
	notices  *gavelhttp.Notices
	exchange *httptest.Server
	dsp      *httptest.Server

	mu    sync.Mutex
	burls []url.Values // the queries of the burls the DSP received
	now   time.Time
}

func newBillingRig(t *testing.T, opts ...gavelhttp.NoticesOption) *billingRig {
	t.Helper()
	ctx := context.Background()
	r := &billingRig{now: time.Now()}
	r.dsp = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.burls = append(r.burls, req.URL.Query())
		r.mu.Unlock()
	}))
	t.Cleanup(r.dsp.Close)
	var err error
	r.ledger, err = gavel.NewMemoryLedger()
	require.NoError(t, err)
	require.NoError(t, r.ledger.SetBudget(ctx, gavel.Budget{Account: "dsp", Amount: 1_000_000}))
	burl := r.dsp.URL + "/bill?price=${AUCTION_PRICE}&ts=${AUCTION_IMP_TS}&imp=${AUCTION_IMP_ID}"
	b1, b2 := auctiontest.Bid("b1", "1", 3.10), auctiontest.Bid("b2", "2", 4.00)
	b1.BURL, b2.BURL = burl, burl
	r.auction, err = gavel.New(gavel.WithBidders(auctiontest.Fixed("dsp", b1, b2)), gavel.WithLedger(r.ledger))
	require.NoError(t, err)

	r.notifier, err = gavelhttp.NewNotifier(gavelhttp.WithAllowPrivateNetworks(true)) // the DSP is on 127.0.0.1
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.notifier.Close(context.Background()) })
	var h http.Handler
	r.exchange = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { h.ServeHTTP(w, req) }))
	t.Cleanup(r.exchange.Close)
	r.notices, err = gavelhttp.NewNotices(r.auction, testKeys(t), r.exchange.URL+"/notice/billing", r.notifier,
		append(opts, gavelhttp.WithNoticesClock(r.clock))...)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/notice/billing", r.notices.BillingHandler())
	mux.Handle("/notice/loss", r.notices.LossHandler())
	h = mux
	return r
}

func (r *billingRig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *billingRig) advance(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = r.now.Add(d)
}

// win runs an auction on two imps and returns the rewritten burls, imp by
// imp.
func (r *billingRig) win(t *testing.T, id string) []string {
	t.Helper()
	res, err := r.auction.Run(context.Background(), auctiontest.Request(id, auctiontest.BannerImp("1", 1.00), auctiontest.BannerImp("2", 2.00)))
	require.NoError(t, err)
	resp := res.BidResponse()
	require.NoError(t, r.notices.Rewrite(res, resp))
	require.Len(t, resp.SeatBid, 1)
	var burls []string
	for _, b := range resp.SeatBid[0].Bid {
		require.True(t, strings.HasPrefix(b.BURL, r.exchange.URL+"/notice/billing?t="), b.BURL)
		burls = append(burls, b.BURL)
	}
	require.Len(t, burls, 2)
	return burls
}

func (r *billingRig) balance(t *testing.T) gavel.Balance {
	t.Helper()
	b, err := r.ledger.Balance(context.Background(), "dsp")
	require.NoError(t, err)
	return b
}

func get(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// 50 concurrent calls of one billing URL bill it once and fire the DSP's
// burl once, with ${AUCTION_IMP_TS} filled; retries afterwards answer 204
// too and change nothing.
func TestBillingCommitsOnceUnderConcurrentRetries(t *testing.T) {
	r := newBillingRig(t)
	burls := r.win(t, "auction-1")
	require.Equal(t, int64(2010+1010), r.balance(t).Reserved, "both imps held: 1.01 and 2.01 CPM")

	var wg sync.WaitGroup
	codes := make([]int, 50)
	for i := range codes {
		wg.Go(func() { codes[i] = get(t, burls[0]) })
	}
	wg.Wait()
	for _, c := range codes {
		require.Equal(t, http.StatusNoContent, c)
	}
	assert.Equal(t, http.StatusNoContent, get(t, burls[0]), "a later retry")
	b := r.balance(t)
	assert.Equal(t, int64(1010), b.Committed, "billed once")
	assert.Equal(t, int64(2010), b.Reserved, "the other imp is still held")

	require.Equal(t, http.StatusNoContent, get(t, burls[1]), "the other imp bills on its own")
	require.NoError(t, r.notifier.Close(context.Background()))
	assert.Equal(t, int64(3020), r.balance(t).Committed)
	require.Len(t, r.burls, 2, "each burl fired once")
	ts := strconv.FormatInt(r.now.UnixMilli(), 10)
	for _, q := range r.burls {
		assert.Equal(t, ts, q.Get("ts"), "IMP_TS is the billing time")
	}
	assert.ElementsMatch(t, []string{"1", "2"}, []string{r.burls[0].Get("imp"), r.burls[1].Get("imp")})
	assert.ElementsMatch(t, []string{"2.01", "1.01"}, []string{r.burls[0].Get("price"), r.burls[1].Get("price")})
}

// A tampered, malformed, unknown-key or expired token gets its 4xx and
// moves no money; a method other than GET or POST gets 405.
func TestBillingRefusals(t *testing.T) {
	r := newBillingRig(t)
	burls := r.win(t, "auction-1")
	before := r.balance(t)
	u, err := url.Parse(burls[0])
	require.NoError(t, err)
	tok := u.Query().Get("t")
	with := func(t string) string { return r.exchange.URL + "/notice/billing?t=" + url.QueryEscape(t) }
	flipped := []byte(tok)
	flipped[len(tok)/3] ^= 1
	other := testKeys(t, gavelhttp.Key{ID: "other", Secret: secret('z')})
	v, err := testKeys(t).Verify(tok, r.now)
	require.NoError(t, err)

	assert.Equal(t, http.StatusBadRequest, get(t, r.exchange.URL+"/notice/billing"))
	assert.Equal(t, http.StatusBadRequest, get(t, with("not-a-token")))
	assert.Contains(t, []int{http.StatusBadRequest, http.StatusForbidden}, get(t, with(string(flipped))))
	assert.Equal(t, http.StatusForbidden, get(t, with(other.Sign(v))), "unknown key")
	req, err := http.NewRequest(http.MethodDelete, burls[0], nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, before, r.balance(t), "no money moved")

	r.advance(gavel.DefaultHoldTTL + time.Second)
	assert.Equal(t, http.StatusGone, get(t, burls[0]), "expired")
	assert.Equal(t, before.Committed, r.balance(t).Committed, "no money moved")
	require.NoError(t, r.notifier.Close(context.Background()))
	assert.Empty(t, r.burls)
}

// A hold ended elsewhere (another process billed it, sharing the ledger)
// is answered 204 and fires nothing.
func TestBillingHoldEndedElsewhere(t *testing.T) {
	r := newBillingRig(t)
	burls := r.win(t, "auction-1")
	other, err := gavelhttp.NewNotices(r.auction, testKeys(t), r.exchange.URL+"/notice/billing", r.notifier)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	other.BillingHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, burls[0], nil))
	require.Equal(t, http.StatusNoContent, rec.Code)
	assert.Equal(t, http.StatusNoContent, get(t, burls[0]))
	assert.Equal(t, int64(1010), r.balance(t).Committed)
	require.NoError(t, r.notifier.Close(context.Background()))
	assert.Len(t, r.burls, 1, "fired by the process that billed")
}

func TestNewNoticesReportsAllProblems(t *testing.T) {
	_, err := gavelhttp.NewNotices(nil, nil, "/relative", nil, gavelhttp.WithTokenTTL(0), gavelhttp.WithNoticesClock(nil))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, want := range []string{"nil auction", "no keys", "nil notifier", "not absolute", "token ttl 0s", "nil clock"} {
		assert.Contains(t, err.Error(), want)
	}
}

// A loss notice releases the hold once; billing it afterwards, or a loss
// notice for a billed impression, is a conflict that moves no money.
func TestLossNotice(t *testing.T) {
	r := newBillingRig(t)
	burls := r.win(t, "auction-1")
	loss := func(burl string) string { return strings.Replace(burl, "/notice/billing", "/notice/loss", 1) }
	for range 3 {
		require.Equal(t, http.StatusNoContent, get(t, loss(burls[0])))
	}
	b := r.balance(t)
	assert.Equal(t, int64(2010), b.Reserved, "imp 1 released once")
	assert.Zero(t, b.Committed)
	assert.Equal(t, http.StatusConflict, get(t, burls[0]), "billing a released impression")

	require.Equal(t, http.StatusNoContent, get(t, burls[1]))
	assert.Equal(t, http.StatusConflict, get(t, loss(burls[1])), "releasing a billed impression")
	b = r.balance(t)
	assert.Equal(t, int64(2010), b.Committed)
	assert.Zero(t, b.Reserved)
	require.NoError(t, r.notifier.Close(context.Background()))
	assert.Len(t, r.burls, 1, "only the billed impression's burl")
}

// Past WithBilledMemory the oldest billed impression is forgotten; a retry
// of it finds its hold ended in the ledger: 204, nothing billed or fired
// again.
func TestBilledMemoryBound(t *testing.T) {
	r := newBillingRig(t, gavelhttp.WithBilledMemory(1))
	burls := r.win(t, "auction-1")
	for _, u := range []string{burls[0], burls[1], burls[0], burls[1], burls[0]} {
		require.Equal(t, http.StatusNoContent, get(t, u))
	}
	assert.Equal(t, int64(3020), r.balance(t).Committed)
	require.NoError(t, r.notifier.Close(context.Background()))
	assert.Len(t, r.burls, 2)
}
