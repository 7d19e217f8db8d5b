package campaign_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/gavelrtb/gavel/gavelhttp"
)

var (
	key1 = gavelhttp.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, gavelhttp.MinKeyBytes)}
	key2 = gavelhttp.Key{ID: "k2", Secret: bytes.Repeat([]byte{2}, gavelhttp.MinKeyBytes)}
)

// lockedBuffer is an io.Writer safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// events decodes the JSON lines written so far.
func (b *lockedBuffer) events(t *testing.T) []gavel.Event {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var events []gavel.Event
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var e gavel.Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), "line %q", sc.Text())
		events = append(events, e)
	}
	require.NoError(t, sc.Err())
	return events
}

// trackRig is a Tracker served over real HTTP, writing JSON lines, on a
// clock that the test moves.
type trackRig struct {
	tr     *campaign.Tracker
	srv    *httptest.Server
	client *http.Client // does not follow redirects
	out    *lockedBuffer
	now    atomic.Int64 // Unix ns
}

func newTrackRig(t *testing.T, keys []gavelhttp.Key, opts ...campaign.TrackerOption) *trackRig {
	t.Helper()
	r := &trackRig{out: &lockedBuffer{}}
	r.now.Store(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	mux := http.NewServeMux()
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	opts = append([]campaign.TrackerOption{campaign.WithTrackerClock(r.clock)}, opts...)
	tr, err := campaign.NewTracker(r.srv.URL+"/track", keys, gavel.NewJSONLinesSink(r.out), opts...)
	require.NoError(t, err)
	r.tr = tr
	mux.Handle("/track/click", tr.ClickHandler())
	mux.Handle("/track/conversion", tr.ConversionHandler())
	c := *r.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r.client = &c
	return r
}

func (r *trackRig) clock() time.Time        { return time.Unix(0, r.now.Load()) }
func (r *trackRig) advance(d time.Duration) { r.now.Add(int64(d)) }

// do sends a request and returns its status and Location.
func (r *trackRig) do(t *testing.T, method, u string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	resp, err := r.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// click follows a click URL, wants a redirect and returns the conversion
// token it carries.
func (r *trackRig) click(t *testing.T, clickURL string) string {
	t.Helper()
	status, loc := r.do(t, http.MethodGet, clickURL)
	require.Equal(t, http.StatusFound, status)
	u, err := url.Parse(loc)
	require.NoError(t, err)
	tok := u.Query().Get(campaign.DefaultConversionParam)
	require.NotEmpty(t, tok, "landing %q", loc)
	return tok
}

func (r *trackRig) convert(t *testing.T, tok, order string) int {
	t.Helper()
	q := url.Values{campaign.DefaultConversionParam: {tok}}
	if order != "" {
		q.Set("order_id", order)
	}
	status, _ := r.do(t, http.MethodPost, r.srv.URL+"/track/conversion?"+q.Encode())
	return status
}

// flip changes one base64url character into another.
func flip(c string) string {
	if c == "A" {
		return "B"
	}
	return "A"
}

func testClick(n int) campaign.ClickInfo {
	return campaign.ClickInfo{
		AuctionID: "a-" + string(rune('a'+n%26)) + strings.Repeat("x", n/26), ImpID: "1", BidID: "c7.cr2.00ff00ff00ff00ff.9",
		CampaignID: "c7", CreativeID: "cr2", Account: "acme", PriceMicros: 2_500_000, Currency: "USD",
		Landing: "https://shop.example/p?id=7&x=a%20b#top",
	}
}

func TestClickRedirectsAndRecords(t *testing.T) {
	r := newTrackRig(t, []gavelhttp.Key{key1})
	c := testClick(0)
	u := r.tr.ClickURL(c)
	require.True(t, strings.HasPrefix(u, r.srv.URL+"/track/click?t="), u)

	status, loc := r.do(t, http.MethodGet, u)
	require.Equal(t, http.StatusFound, status)
	tok := strings.TrimSuffix(strings.TrimPrefix(loc, "https://shop.example/p?id=7&x=a%20b&gavel_click="), "#top")
	assert.Equal(t, "https://shop.example/p?id=7&x=a%20b&gavel_click="+tok+"#top", loc, "landing kept as it was, token added")

	events := r.out.events(t)
	require.Len(t, events, 1)
	e := events[0]
	assert.Len(t, e.ClickID, 32)
	assert.Equal(t, gavel.Event{
		Version: gavel.EventSchemaVersion, Type: gavel.EventClick, Time: r.clock().UnixMilli(),
		AuctionID: c.AuctionID, ImpID: "1", BidID: c.BidID, Account: "acme", Currency: "USD", PriceMicros: 2_500_000,
		Campaign: "c7", Creative: "cr2", ClickID: e.ClickID,
	}, e)
	assert.Equal(t, campaign.TrackerStats{Clicks: 1}, r.tr.Stats())

	// HEAD (a link preview) lands too, and records nothing.
	status, _ = r.do(t, http.MethodHead, r.tr.ClickURL(testClick(1)))
	assert.Equal(t, http.StatusFound, status)
	assert.Len(t, r.out.events(t), 1)
}

func TestClickReplayCountedOnce(t *testing.T) {
	r := newTrackRig(t, []gavelhttp.Key{key1}, campaign.WithClickDedupe(30*time.Second))
	u := r.tr.ClickURL(testClick(0))
	for range 5 {
		r.click(t, u)
		r.advance(time.Second)
	}
	assert.Len(t, r.out.events(t), 1)
	assert.Equal(t, campaign.TrackerStats{Clicks: 1, DuplicateClicks: 4}, r.tr.Stats())

	r.advance(30 * time.Second) // past the window: a new click
	r.click(t, u)
	events := r.out.events(t)
	require.Len(t, events, 2)
	assert.Equal(t, events[0].ClickID, events[1].ClickID, "one click URL, one click id")
}

func TestClickRefused(t *testing.T) {
	r := newTrackRig(t, []gavelhttp.Key{key1}, campaign.WithClickTTL(time.Hour))
	other := newTrackRig(t, []gavelhttp.Key{key2})
	good := r.tr.ClickURL(testClick(0))
	tok := strings.TrimPrefix(good, r.srv.URL+"/track/click?t=")
	payload, mac, _ := strings.Cut(tok, ".")
	flipAt := func(s string, i int) string { return s[:i] + flip(s[i:i+1]) + s[i+1:] }
	conv := r.click(t, good)
	billing, err := gavelhttp.NewKeys(key1)
	require.NoError(t, err)
	notice := billing.Sign(&gavelhttp.Notice{Billing: gavel.Billing{AuctionID: "a"}, Expires: r.clock().Add(time.Hour)})
	clickAt := func(tok string) string { return r.srv.URL + "/track/click?t=" + url.QueryEscape(tok) }

	tests := []struct {
		name   string
		url    string
		status int
		stat   func(campaign.TrackerStats) int64
	}{
		{"no token", r.srv.URL + "/track/click", 400, func(s campaign.TrackerStats) int64 { return s.RefusedMalformed }},
		{"garbage", clickAt("not-a-token"), 400, func(s campaign.TrackerStats) int64 { return s.RefusedMalformed }},
		{"truncated mac", clickAt(payload + "." + mac[:len(mac)/2]), 400, func(s campaign.TrackerStats) int64 { return s.RefusedMalformed }},
		{"truncated payload", clickAt(payload[:len(payload)/2] + "." + mac), 403, func(s campaign.TrackerStats) int64 { return s.RefusedSignature }},
		{"tampered payload", clickAt(flipAt(payload, len(payload)-5) + "." + mac), 403, func(s campaign.TrackerStats) int64 { return s.RefusedSignature }},
		{"tampered mac", clickAt(payload + "." + flipAt(mac, 3)), 403, func(s campaign.TrackerStats) int64 { return s.RefusedSignature }},
		{"unknown key", clickAt(strings.TrimPrefix(other.tr.ClickURL(testClick(0)), other.srv.URL+"/track/click?t=")), 403,
			func(s campaign.TrackerStats) int64 { return s.RefusedUnknownKey }},
		{"conversion token", clickAt(conv), 400, func(s campaign.TrackerStats) int64 { return s.RefusedWrongKind }},
		{"billing token", clickAt(notice), 400, func(s campaign.TrackerStats) int64 { return s.RefusedWrongKind }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.stat(r.tr.Stats())
			status, loc := r.do(t, http.MethodGet, tt.url)
			assert.Equal(t, tt.status, status)
			assert.Empty(t, loc)
			assert.Equal(t, before+1, tt.stat(r.tr.Stats()))
		})
	}
	t.Run("method", func(t *testing.T) {
		status, _ := r.do(t, http.MethodPost, good)
		assert.Equal(t, http.StatusMethodNotAllowed, status)
	})
	t.Run("expired", func(t *testing.T) {
		fresh := r.tr.ClickURL(testClick(1))
		r.advance(time.Hour)
		status, _ := r.do(t, http.MethodGet, fresh)
		assert.Equal(t, http.StatusGone, status)
		assert.Equal(t, int64(1), r.tr.Stats().RefusedExpired)
	})
	assert.Len(t, r.out.events(t), 1, "only the good click was recorded")
	assert.Equal(t, int64(1), r.tr.Stats().Clicks)
}

func TestConversionAttributed(t *testing.T) {
	r := newTrackRig(t, []gavelhttp.Key{key1}, campaign.WithAttributionWindow(24*time.Hour))
	c := testClick(3)
	clickURL := r.tr.ClickURL(c)
	tok := r.click(t, clickURL)
	r.advance(time.Second)
	again := r.click(t, clickURL) // a replay: another token for the same click
	r.advance(time.Hour)

	assert.Equal(t, http.StatusNoContent, r.convert(t, tok, "o1"))
	assert.Equal(t, http.StatusNoContent, r.convert(t, tok, "o1"), "a replay answers the same")
	assert.Equal(t, http.StatusNoContent, r.convert(t, tok, "o2"))
	assert.Equal(t, http.StatusNoContent, r.convert(t, tok, ""))
	assert.Equal(t, http.StatusNoContent, r.convert(t, tok, ""))
	assert.NotEqual(t, tok, again)
	assert.Equal(t, http.StatusNoContent, r.convert(t, again, "o1"), "o1 of this click is already counted")

	events := r.out.events(t)
	require.Len(t, events, 4, "one click, conversions o1, o2 and the one without an order id")
	click := events[0]
	for i, order := range []string{"o1", "o2", ""} {
		assert.Equal(t, gavel.Event{
			Version: gavel.EventSchemaVersion, Type: gavel.EventConversion, Time: click.Time + (time.Hour + time.Second).Milliseconds(),
			AuctionID: c.AuctionID, ImpID: c.ImpID, BidID: c.BidID, Account: c.Account, Currency: c.Currency,
			PriceMicros: c.PriceMicros, Campaign: c.CampaignID, Creative: c.CreativeID, ClickID: click.ClickID, OrderID: order,
		}, events[i+1])
	}
	assert.Equal(t, campaign.TrackerStats{Clicks: 1, DuplicateClicks: 1, Conversions: 3, DuplicateConversions: 3}, r.tr.Stats())

	t.Run("t parameter", func(t *testing.T) {
		status, _ := r.do(t, http.MethodGet, r.srv.URL+"/track/conversion?order_id=o3&t="+tok)
		assert.Equal(t, http.StatusNoContent, status)
		assert.Equal(t, int64(4), r.tr.Stats().Conversions)
	})
	t.Run("refused", func(t *testing.T) {
		before := len(r.out.events(t))
		clickTok := strings.TrimPrefix(clickURL, r.srv.URL+"/track/click?t=")
		assert.Equal(t, http.StatusBadRequest, r.convert(t, clickTok, "o9"), "a click token is no proof of a click")
		assert.Equal(t, http.StatusBadRequest, r.convert(t, "", "o9"))
		assert.Equal(t, http.StatusBadRequest, r.convert(t, tok, strings.Repeat("o", campaign.MaxOrderIDBytes+1)))
		assert.Equal(t, http.StatusForbidden, r.convert(t, tok[:20]+flip(tok[20:21])+tok[21:], "o9"))
		status, _ := r.do(t, http.MethodPut, r.srv.URL+"/track/conversion?t="+tok)
		assert.Equal(t, http.StatusMethodNotAllowed, status)
		r.advance(24 * time.Hour) // the first click's window is over
		assert.Equal(t, http.StatusGone, r.convert(t, tok, "o9"))
		assert.Len(t, r.out.events(t), before)
		s := r.tr.Stats()
		assert.Equal(t, [5]int64{1, 2, 1, 1, 1}, [5]int64{s.RefusedWrongKind, s.RefusedMalformed, s.RefusedSignature, s.RefusedMethod, s.RefusedExpired})
	})
}

func TestTrackerKeyRotation(t *testing.T) {
	old := newTrackRig(t, []gavelhttp.Key{key1})
	rotated := newTrackRig(t, []gavelhttp.Key{key1, key2})
	retired := newTrackRig(t, []gavelhttp.Key{key2})
	tok := strings.TrimPrefix(old.tr.ClickURL(testClick(0)), old.srv.URL+"/track/click?t=")

	conv := rotated.click(t, rotated.srv.URL+"/track/click?t="+tok)
	status, _ := retired.do(t, http.MethodGet, retired.srv.URL+"/track/click?t="+tok)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, http.StatusNoContent, retired.convert(t, conv, ""), "the conversion token is signed with the newest key")
	assert.Len(t, rotated.out.events(t), 1)
	assert.Len(t, retired.out.events(t), 1)
}

func TestTrackerSinkFailureDegrades(t *testing.T) {
	var calls atomic.Int64
	sink := gavel.EventSinkFunc(func(ctx context.Context, _ []gavel.Event) error {
		calls.Add(1)
		_, ok := ctx.Deadline()
		assert.True(t, ok, "the write is bounded")
		return errors.New("sink down")
	})
	tr, err := campaign.NewTracker("http://127.0.0.1/track", []gavelhttp.Key{key1}, sink)
	require.NoError(t, err)
	w := httptest.NewRecorder()
	tr.ClickHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, tr.ClickURL(testClick(0)), nil))
	require.Equal(t, http.StatusFound, w.Code, "the click lands all the same")
	loc, err := url.Parse(w.Header().Get("Location"))
	require.NoError(t, err)
	w = httptest.NewRecorder()
	tr.ConversionHandler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/track/conversion?"+loc.RawQuery, nil))
	assert.Equal(t, http.StatusNoContent, w.Code, "no 5xx: the postback is not asked to retry")
	assert.Equal(t, int64(2), calls.Load())
	assert.Equal(t, campaign.TrackerStats{Clicks: 1, Conversions: 1, SinkFailures: 2}, tr.Stats())
}

func TestTrackerConcurrentClicksAndConversions(t *testing.T) {
	r := newTrackRig(t, []gavelhttp.Key{key1})
	const urls, workers = 8, 16
	clickURLs := make([]string, urls)
	for i := range clickURLs {
		clickURLs[i] = r.tr.ClickURL(testClick(i))
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range urls {
				tok := r.click(t, clickURLs[(i+w)%urls])
				assert.Equal(t, http.StatusNoContent, r.convert(t, tok, "order"))
			}
		})
	}
	wg.Wait()
	clicks, convs := map[string]int{}, map[string]int{}
	for _, e := range r.out.events(t) {
		switch e.Type {
		case gavel.EventClick:
			clicks[e.ClickID]++
		case gavel.EventConversion:
			convs[e.ClickID]++
		}
	}
	require.Len(t, clicks, urls)
	for id, n := range clicks {
		assert.Equal(t, 1, n, "click %s counted once", id)
		assert.Equal(t, 1, convs[id], "the order of click %s counted once", id)
	}
	assert.Len(t, convs, urls)
	s := r.tr.Stats()
	assert.Equal(t, int64(urls*workers-urls), s.DuplicateClicks)
	assert.Equal(t, int64(urls*workers-urls), s.DuplicateConversions)
}

func TestNewTrackerReportsAllProblems(t *testing.T) {
	_, err := campaign.NewTracker("ftp://x/y?q", []gavelhttp.Key{{ID: "", Secret: []byte("short")}}, nil,
		campaign.WithClickTTL(0), campaign.WithAttributionWindow(-1), campaign.WithClickDedupe(0),
		campaign.WithDedupeMemory(0), campaign.WithTrackerSinkTimeout(0), campaign.WithConversionParam("t"),
		campaign.WithTrackerClock(nil))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, want := range []string{"nil clock", "empty id", "secret of 5 bytes", "nil sink", `base url "ftp://x/y?q"`,
		"click ttl 0s", "dedupe memory 0", `conversion param "t"`} {
		assert.ErrorContains(t, err, want)
	}
	assert.Equal(t, 1, strings.Count(err.Error(), "invalid option"), "wrapped once: %v", err)

	_, err = campaign.NewTracker("https://ads.example/track", nil, gavel.EventSinkFunc(nil))
	assert.ErrorContains(t, err, "no signing key")
}

func TestClickURLBadLanding(t *testing.T) {
	tr, err := campaign.NewTracker("https://ads.example/track/", []gavelhttp.Key{key1}, gavel.NewJSONLinesSink(&lockedBuffer{}))
	require.NoError(t, err)
	for _, landing := range []string{"", "javascript:alert(1)", "//evil.example/", "/relative", "ftp://files.example/x", "https://"} {
		assert.Empty(t, tr.ClickURL(campaign.ClickInfo{Landing: landing}), landing)
		assert.ErrorIs(t, campaign.CheckLanding(landing), campaign.ErrBadLanding, landing)
	}
	assert.True(t, strings.HasPrefix(tr.ClickURL(campaign.ClickInfo{Landing: "HTTP://shop.example"}), "https://ads.example/track/click?t="))
}

type countingHook struct{ clicks, convs atomic.Int64 }

func (h *countingHook) Clicked(e gavel.Event) {
	if e.Type == gavel.EventClick {
		h.clicks.Add(1)
	}
}

func (h *countingHook) Converted(e gavel.Event) {
	if e.Type == gavel.EventConversion && e.OrderID == "o1" {
		h.convs.Add(1)
	}
}

func TestTrackerHooks(t *testing.T) {
	h := &countingHook{}
	r := newTrackRig(t, []gavelhttp.Key{key1}, campaign.WithTrackerHooks(h))
	u := r.tr.ClickURL(testClick(0))
	tok := r.click(t, u)
	r.click(t, u)
	r.convert(t, tok, "o1")
	r.convert(t, tok, "o1")
	assert.Equal(t, int64(1), h.clicks.Load(), "replays are not told")
	assert.Equal(t, int64(1), h.convs.Load())

	_, err := campaign.NewTracker("https://ads.example", []gavelhttp.Key{key1}, gavel.EventSinkFunc(nil), campaign.WithTrackerHooks(42))
	assert.ErrorContains(t, err, "hook int implements neither ClickHook nor ConversionHook")
}

// TestTrackerThroughAsyncSink records through the sink an Auction writes
// to: the events arrive once the AsyncSink is closed.
func TestTrackerThroughAsyncSink(t *testing.T) {
	out := &lockedBuffer{}
	async, err := gavel.NewAsyncSink(gavel.NewJSONLinesSink(out))
	require.NoError(t, err)
	tr, err := campaign.NewTracker("https://ads.example/track", []gavelhttp.Key{key1}, async)
	require.NoError(t, err)
	for i := range 3 {
		w := httptest.NewRecorder()
		tr.ClickHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, tr.ClickURL(testClick(i)), nil))
		require.Equal(t, http.StatusFound, w.Code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, async.Close(ctx))
	events := out.events(t)
	require.Len(t, events, 3)
	for i, e := range events {
		assert.Equal(t, gavel.EventClick, e.Type)
		assert.Equal(t, testClick(i).AuctionID, e.AuctionID)
	}
}

func TestConversionFormPostback(t *testing.T) {
	r := newTrackRig(t, []gavelhttp.Key{key1})
	tok := r.click(t, r.tr.ClickURL(testClick(0)))
	post := func(body string) int {
		resp, err := r.client.Post(r.srv.URL+"/track/conversion", "application/x-www-form-urlencoded", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusNoContent, post(url.Values{"gavel_click": {tok}, "order_id": {"o1"}}.Encode()))
	assert.Equal(t, http.StatusNoContent, post(url.Values{"t": {tok}, "order_id": {"o1"}}.Encode()), "counted once")
	assert.Equal(t, http.StatusBadRequest, post("gavel_click="+strings.Repeat("x", 100<<10)), "body over 64 KiB")
	assert.Equal(t, http.StatusBadRequest, post("%zz"), "not a form")
	s := r.tr.Stats()
	assert.Equal(t, [3]int64{1, 1, 2}, [3]int64{s.Conversions, s.DuplicateConversions, s.RefusedMalformed})
	events := r.out.events(t)
	require.Len(t, events, 2)
	assert.Equal(t, "o1", events[1].OrderID)
}

func TestTrackerDedupeMemoryBound(t *testing.T) {
	r := newTrackRig(t, []gavelhttp.Key{key1}, campaign.WithDedupeMemory(16))
	first := r.tr.ClickURL(testClick(0))
	r.click(t, first)
	for i := 1; i <= 200; i++ {
		r.click(t, r.tr.ClickURL(testClick(i)))
	}
	r.click(t, first) // forgotten early: counted again, as documented
	assert.Equal(t, int64(202), r.tr.Stats().Clicks)
}
