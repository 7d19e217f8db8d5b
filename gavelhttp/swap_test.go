package gavelhttp_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// running counts the auctions running on one Auction, through its hooks.
type running struct{ n, started atomic.Int64 }

func (r *running) OnAuctionStart(context.Context, *openrtb2.BidRequest) {
	r.n.Add(1)
	r.started.Add(1)
}

func (r *running) OnAuctionEnd(context.Context, *openrtb2.BidRequest, *gavel.Result, error) {
	r.n.Add(-1)
}

// newCounted returns an Auction whose bidder answers after latency, and
// the counter of its running auctions.
func newCounted(t *testing.T, latency time.Duration) (*gavel.Auction, *running) {
	t.Helper()
	r := &running{}
	a, err := gavel.New(gavel.WithBidders(auctiontest.Fixed("dsp", auctiontest.Bid("b1", "1", 2.5)).WithLatency(latency)),
		gavel.WithHooks(r))
	require.NoError(t, err)
	return a, r
}

// Reload under load loses no request: while clients keep posting
// auctions, the handler is swapped to a new Auction again and again, each
// old one closed as soon as Swap returns it. Every request gets 200 (or
// 204, when the bidder is late on a loaded machine), none 503 (a closed
// Auction) or 500, and each old Auction comes back only once no auction
// runs on it.
func TestSwapUnderLoadLosesNoRequest(t *testing.T) {
	first, firstRunning := newCounted(t, time.Millisecond)
	h, err := gavelhttp.NewAuctionHandler(first)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	body := bidRequest(t)

	const clients, perClient, swaps = 12, 40, 15
	var codes sync.Map // status -> *atomic.Int64
	count := func(code int) {
		v, _ := codes.LoadOrStore(code, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range perClient {
				resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(body))
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				count(resp.StatusCode)
			}
		})
	}

	counters := map[*gavel.Auction]*running{first: firstRunning}
	var total int64
	for range swaps {
		next, r := newCounted(t, time.Millisecond)
		counters[next] = r
		old, err := h.Swap(context.Background(), next)
		require.NoError(t, err)
		require.Zero(t, counters[old].n.Load(), "Swap returned an Auction with auctions still running on it")
		require.NoError(t, old.Close(context.Background()))
		total += counters[old].started.Load()
		time.Sleep(2 * time.Millisecond) // let some requests run on next
	}
	wg.Wait()
	last, err := h.Swap(context.Background(), first) // first is closed: only to get the last one back
	require.NoError(t, err)
	total += counters[last].started.Load()
	require.NoError(t, last.Close(context.Background()))

	codes.Range(func(k, v any) bool {
		assert.Contains(t, []int{http.StatusOK, http.StatusNoContent}, k, "%d answers %v", v.(*atomic.Int64).Load(), k)
		return true
	})
	assert.Equal(t, int64(clients*perClient), total, "every request ran on exactly one Auction")
	st := h.Stats()
	assert.Equal(t, int64(clients*perClient), st.Won+st.NoBid, "the handler's stats carry on across swaps")
	assert.Zero(t, st.Errors+st.Shed+st.Canceled)
	assert.Zero(t, st.InFlight)
}

// Swap waits for the auctions running on the old Auction, and meanwhile
// new requests run on the new one; a ctx that ends first gets its error,
// the swap made all the same.
func TestSwapWaitsForRunningAuctions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow, slowRunning := newCounted(t, 50*time.Millisecond)
		defer slow.Close(context.Background())
		h, err := gavelhttp.NewAuctionHandler(slow)
		require.NoError(t, err)
		body := bidRequest(t)
		post := func() int {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
			return w.Code
		}
		var first atomic.Int64
		go func() { first.Store(int64(post())) }()
		synctest.Wait()
		require.Equal(t, int64(1), slowRunning.n.Load(), "one auction runs on the old Auction")

		fast, fastRunning := newCounted(t, 0)
		defer fast.Close(context.Background())
		var swapped atomic.Pointer[gavel.Auction]
		go func() {
			old, err := h.Swap(context.Background(), fast)
			assert.NoError(t, err)
			swapped.Store(old)
		}()
		synctest.Wait()
		assert.Nil(t, swapped.Load(), "Swap waits for the running auction")
		assert.Same(t, fast, h.Auction())
		assert.Equal(t, http.StatusOK, post(), "a new request runs on the new Auction meanwhile")
		assert.Equal(t, int64(1), fastRunning.started.Load())

		time.Sleep(time.Second) // the old auction's bidder answers
		synctest.Wait()
		assert.Equal(t, int64(http.StatusOK), first.Load())
		assert.Same(t, slow, swapped.Load(), "Swap returns the old Auction once its auction has returned")

		// A ctx that ends first.
		old, err := h.Swap(context.Background(), slow)
		require.NoError(t, err)
		require.Same(t, fast, old)
		go post()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		old, err = h.Swap(ctx, fast)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Same(t, slow, old, "the swap is made all the same")
		assert.Same(t, fast, h.Auction())
		time.Sleep(time.Second)
		synctest.Wait()
	})
}

func TestSwapRefusesNilAndSame(t *testing.T) {
	a, err := gavel.New()
	require.NoError(t, err)
	h, err := gavelhttp.NewAuctionHandler(a)
	require.NoError(t, err)
	_, err = h.Swap(context.Background(), nil)
	assert.ErrorIs(t, err, gavel.ErrInvalidOption)
	_, err = h.Swap(context.Background(), a)
	assert.ErrorIs(t, err, gavel.ErrInvalidOption)
	assert.Same(t, a, h.Auction())
}

// A token from the old Auction's winner bills through the new one when
// both share the ledger: the money moves once and the billing event is the
// new Auction's.
func TestNoticesSwapBillsOldHoldsThroughNext(t *testing.T) {
	r := newBillingRig(t)
	burls := r.win(t, "auction-1")

	events := &auctiontest.EventRecorder{}
	next, err := gavel.New(gavel.WithLedger(r.ledger), gavel.WithEventSink(events))
	require.NoError(t, err)
	assert.Same(t, r.auction, r.notices.Swap(next))
	require.NoError(t, r.auction.Close(context.Background()))

	require.Equal(t, http.StatusNoContent, get(t, burls[0]))
	require.Equal(t, http.StatusNoContent, get(t, burls[0]), "a retry")
	b := r.balance(t)
	assert.Equal(t, int64(1010), b.Committed, "billed once, through the new Auction")
	require.NoError(t, next.Close(context.Background())) // delivers the queued events
	var billed int
	for _, e := range events.Events() {
		if e.Type == gavel.EventBilling {
			billed++
		}
	}
	assert.Equal(t, 1, billed, "the new Auction emitted the billing event")
	assert.Panics(t, func() { r.notices.Swap(nil) })
}

// Billing notices racing with swaps each bill once, whichever Auction
// they go through.
func TestNoticesSwapUnderConcurrentBilling(t *testing.T) {
	r := newBillingRig(t)
	var burls []string
	for i := range 10 {
		burls = append(burls, r.win(t, "auction-"+strconv.Itoa(i))...)
	}
	other, err := gavel.New(gavel.WithLedger(r.ledger))
	require.NoError(t, err)
	defer other.Close(context.Background())

	var wg sync.WaitGroup
	for _, u := range burls {
		wg.Go(func() { assert.Equal(t, http.StatusNoContent, get(t, u)) })
	}
	auctions := []*gavel.Auction{other, r.auction}
	for i := range 50 {
		r.notices.Swap(auctions[i%2])
	}
	wg.Wait()
	b := r.balance(t)
	assert.Equal(t, int64(10*(1010+2010)), b.Committed, "every impression billed once")
	assert.Zero(t, b.Reserved)
}
