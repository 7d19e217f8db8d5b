package gavelhttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var loopback = gavelhttp.WithAllowedAddresses(netip.MustParsePrefix("127.0.0.1/32"))

func TestNotifierDropsWhenQueueFull(t *testing.T) {
	arrived, release := make(chan struct{}, 8), make(chan struct{})
	srv, hits := countingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		<-release
	})
	n, rec := newNotifier(t, loopback, gavelhttp.WithNotifierWorkers(1), gavelhttp.WithPerHostLimit(1), gavelhttp.WithNotifierQueue(1))
	require.True(t, n.Win("dsp", srv.URL+"/1"))
	<-arrived // the only worker is busy
	require.True(t, n.Win("dsp", srv.URL+"/2"))
	for i := range 3 {
		assert.False(t, n.Loss("dsp", fmt.Sprintf("%s/drop%d", srv.URL, i)))
	}
	close(release)
	require.NoError(t, n.Close(context.Background()))
	st := n.Stats()
	assert.Equal(t, gavelhttp.NotifierStats{Queued: 2, Sent: 2, Dropped: 3}, st)
	assert.Len(t, rec.dropped, 3)
	assert.Equal(t, int64(2), hits.Load())
	assert.False(t, n.Win("dsp", srv.URL+"/late"), "closed")
	assert.Equal(t, int64(4), n.Stats().Dropped)
}

func TestNotifierCloseDrains(t *testing.T) {
	srv, hits := countingServer(t, nil)
	n, _ := newNotifier(t, loopback, gavelhttp.WithNotifierWorkers(4), gavelhttp.WithPerHostLimit(2))
	for i := range 50 {
		require.True(t, n.Win("dsp", fmt.Sprintf("%s/%d", srv.URL, i)))
	}
	require.NoError(t, n.Close(context.Background()))
	assert.Equal(t, int64(50), hits.Load())
	assert.Equal(t, int64(50), n.Stats().Sent)
	require.NoError(t, n.Close(context.Background()), "again")
}

func TestNotifierCloseGivesUpWithCtx(t *testing.T) {
	arrived, release := make(chan struct{}, 8), make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	n, _ := newNotifier(t, loopback, gavelhttp.WithNotifierWorkers(1), gavelhttp.WithPerHostLimit(1), gavelhttp.WithNoticeTimeout(time.Minute))
	require.True(t, n.Win("dsp", srv.URL+"/stuck"))
	<-arrived
	require.True(t, n.Win("dsp", srv.URL+"/waiting"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, n.Close(ctx), context.Canceled)
	st := n.Stats()
	assert.Equal(t, int64(1), st.Failed, "the one in flight is abandoned")
	assert.Equal(t, int64(1), st.Dropped, "the queued one is dropped")
}

func TestNotifierRetriesBillingOnly(t *testing.T) {
	var calls atomic.Int64
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%3 != 0 { // fails twice, then succeeds
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	n, rec := newNotifier(t, loopback, gavelhttp.WithRetryBackoff(time.Millisecond), gavelhttp.WithNotifierWorkers(1), gavelhttp.WithPerHostLimit(1))
	require.True(t, n.Send(gavelhttp.KindBilling, "dsp", srv.URL+"/bill"))
	require.True(t, n.Win("dsp", srv.URL+"/win")) // calls 4: fails, not retried
	require.NoError(t, n.Close(context.Background()))
	got := rec.all()
	require.Len(t, got, 2)
	assert.Equal(t, 3, got[0].Attempts)
	require.NoError(t, got[0].Err)
	assert.Equal(t, 1, got[1].Attempts)
	assert.Equal(t, http.StatusServiceUnavailable, got[1].Status)
	assert.Equal(t, gavelhttp.NotifierStats{Queued: 2, Sent: 1, Failed: 1, Retries: 2}, n.Stats())
}

func TestNewNotifierReportsAllProblems(t *testing.T) {
	_, err := gavelhttp.NewNotifier(gavelhttp.WithNotifierWorkers(0), gavelhttp.WithNotifierQueue(-1),
		gavelhttp.WithNoticeTimeout(0), gavelhttp.WithBillingRetries(-1), gavelhttp.WithRetryBackoff(0),
		gavelhttp.WithNotifierHooks(42), gavelhttp.WithBidderHosts("dsp"))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, want := range []string{"workers 0", "queue -1", "per-host limit", "notice timeout 0s", "billing retries -1",
		"retry backoff 0s", "hook int", "bidder hosts"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestNotifierPerHostLimit(t *testing.T) {
	var inFlight, most atomic.Int64
	arrived, release := make(chan struct{}, 16), make(chan struct{})
	srv, _ := countingServer(t, func(http.ResponseWriter, *http.Request) {
		now := inFlight.Add(1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		arrived <- struct{}{}
		<-release
		inFlight.Add(-1)
	})
	n, _ := newNotifier(t, loopback, gavelhttp.WithNotifierWorkers(8), gavelhttp.WithPerHostLimit(2))
	for i := range 6 {
		require.True(t, n.Win("dsp", fmt.Sprintf("%s/%d", srv.URL, i)))
	}
	<-arrived
	<-arrived
	close(release)
	require.NoError(t, n.Close(context.Background()))
	assert.Equal(t, int64(2), most.Load())
	assert.Equal(t, int64(6), n.Stats().Sent)
}

// NotifyResult fires the winner's nurl and the losers' lurls, macros
// expanded.
func TestNotifyResult(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv, _ := countingServer(t, func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.URL.RequestURI())
	})
	win, lose := auctiontest.Bid("w", "1", 3.00), auctiontest.Bid("l", "1", 2.00)
	win.NURL = srv.URL + "/win?p=${AUCTION_PRICE}"
	lose.LURL = srv.URL + "/loss?r=${AUCTION_LOSS}&m=${AUCTION_MIN_TO_WIN}"
	a, err := gavel.New(gavel.WithBidders(auctiontest.Fixed("alpha", win), auctiontest.Fixed("beta", lose)))
	require.NoError(t, err)
	res, err := a.Run(context.Background(), auctiontest.Request("a-1", auctiontest.BannerImp("1", 1.00)))
	require.NoError(t, err)
	n, _ := newNotifier(t, loopback)
	assert.Equal(t, 2, n.NotifyResult(res, res.BidResponse()))
	require.NoError(t, n.Close(context.Background()))
	assert.ElementsMatch(t, []string{"/win?p=2.01", "/loss?r=102&m=2.01"}, got)
}
