package gavelhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gavelrtb/gavel/gavelhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// results records what the notifier's hooks are told.
type results struct {
	mu      sync.Mutex
	done    []gavelhttp.NoticeResult
	dropped []string
}

func (r *results) OnNoticeDone(res gavelhttp.NoticeResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, res)
}

func (r *results) OnNoticeDropped(_ gavelhttp.Kind, _, url string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped = append(r.dropped, url)
}

func (r *results) all() []gavelhttp.NoticeResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gavelhttp.NoticeResult(nil), r.done...)
}

// countingServer is a server on 127.0.0.1 that counts its requests and
// answers with h (204 when nil).
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func newNotifier(t *testing.T, opts ...gavelhttp.NotifierOption) (*gavelhttp.Notifier, *results) {
	t.Helper()
	rec := &results{}
	n, err := gavelhttp.NewNotifier(append(opts, gavelhttp.WithNotifierHooks(rec))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close(context.Background()) })
	return n, rec
}

// Notices aimed at loopback, link-local (the metadata address), private
// networks, through a name or a redirect, or at a host not listed for the
// bidder: none is fetched, each is counted as refused. Only 127.0.0.1
// ever receives traffic, and only where it is allowed.
func TestSSRFGuard(t *testing.T) {
	target, targetHits := countingServer(t, nil)
	redirector, redirectHits := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	toPrivate, toPrivateHits := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://10.0.0.1/", http.StatusTemporaryRedirect)
	})
	port := target.URL[strings.LastIndex(target.URL, ":")+1:]

	tests := []struct {
		name, bidder, url string
		opts              []gavelhttp.NotifierOption
		queued            bool // refused at the dial, not at Send
		want              error
	}{
		{name: "loopback", url: target.URL + "/win", queued: false, want: gavelhttp.ErrForbiddenAddress},
		{name: "loopback by name", url: "http://localhost:" + port + "/win", queued: true, want: gavelhttp.ErrForbiddenAddress},
		{name: "metadata", url: "http://169.254.169.254/latest/meta-data/", want: gavelhttp.ErrForbiddenAddress},
		{name: "private", url: "http://10.0.0.1/win", want: gavelhttp.ErrForbiddenAddress},
		{name: "private allowed elsewhere", url: "http://10.0.0.1/win", want: gavelhttp.ErrForbiddenAddress,
			opts: []gavelhttp.NotifierOption{gavelhttp.WithAllowedAddresses(netip.MustParsePrefix("127.0.0.1/32"))}},
		{name: "unique local", url: "http://[fd00::1]/win", want: gavelhttp.ErrForbiddenAddress},
		{name: "link-local v6", url: "http://[fe80::1]/win", want: gavelhttp.ErrForbiddenAddress},
		{name: "unspecified", url: "http://0.0.0.0:" + port + "/win", want: gavelhttp.ErrForbiddenAddress},
		{name: "multicast", url: "http://224.0.0.1/win", want: gavelhttp.ErrForbiddenAddress},
		{name: "mapped loopback", url: "http://[::ffff:127.0.0.1]:" + port + "/win", want: gavelhttp.ErrForbiddenAddress},
		{name: "redirect to metadata", url: redirector.URL + "/win", queued: true, want: gavelhttp.ErrRedirect,
			opts: []gavelhttp.NotifierOption{gavelhttp.WithAllowedAddresses(netip.MustParsePrefix("127.0.0.1/32"))}},
		{name: "redirect to private", url: toPrivate.URL + "/bill", queued: true, want: gavelhttp.ErrRedirect,
			opts: []gavelhttp.NotifierOption{gavelhttp.WithAllowedAddresses(netip.MustParsePrefix("127.0.0.1/32"))}},
		{name: "host not listed", bidder: "dsp", url: target.URL + "/win", want: gavelhttp.ErrHostNotAllowed,
			opts: []gavelhttp.NotifierOption{gavelhttp.WithAllowPrivateNetworks(true), gavelhttp.WithBidderHosts("dsp", "dsp.example")}},
		{name: "not http", url: "file:///etc/passwd", want: gavelhttp.ErrBadNoticeURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, rec := newNotifier(t, tt.opts...)
			assert.Equal(t, tt.queued, n.Send(gavelhttp.KindBilling, tt.bidder, tt.url))
			require.NoError(t, n.Close(context.Background()))
			got := rec.all()
			require.Len(t, got, 1)
			assert.ErrorIs(t, got[0].Err, tt.want)
			st := n.Stats()
			assert.Equal(t, int64(1), st.Refused, "counted")
			assert.Equal(t, int64(1), st.Failed)
			assert.Zero(t, st.Sent)
			assert.Zero(t, st.Retries, "a refusal is not retried")
		})
	}
	assert.Zero(t, targetHits.Load(), "nothing reached the loopback target")
	assert.Equal(t, int64(2), redirectHits.Load()+toPrivateHits.Load(), "the allowed redirectors were asked once each, their redirects not followed")
}

// With loopback allowed for the test, and the host listed for the bidder,
// a notice goes through.
func TestSSRFAllowed(t *testing.T) {
	srv, hits := countingServer(t, nil)
	for name, opt := range map[string]gavelhttp.NotifierOption{
		"private networks": gavelhttp.WithAllowPrivateNetworks(true),
		"prefix":           gavelhttp.WithAllowedAddresses(netip.MustParsePrefix("127.0.0.1/32")),
	} {
		t.Run(name, func(t *testing.T) {
			n, _ := newNotifier(t, opt, gavelhttp.WithBidderHosts("dsp", "127.0.0.1"))
			require.True(t, n.Win("dsp", srv.URL+"/win"))
			require.NoError(t, n.Close(context.Background()))
			assert.Equal(t, int64(1), n.Stats().Sent)
		})
	}
	assert.Equal(t, int64(2), hits.Load())
}
