package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/require"
)

// TestDashboardInBrowser opens the exchange's dashboard in a headless
// Chromium while traffic flows: the page loads with no console error, its
// numbers and charts move, and it reconnects and moves again after the
// exchange restarts on the same address. With GAVEL_SCREENSHOT=path it
// saves a full-page PNG of the dashboard there. Without Chromium it skips,
// or fails when GAVEL_REQUIRE_BROWSER=1.
func TestDashboardInBrowser(t *testing.T) {
	chrome := chromium(t)
	began := time.Now()
	x := startOn(t, "127.0.0.1:0")
	addr := strings.TrimPrefix(x.base, "http://")
	stopTraffic := traffic(x.base)

	ctx := browser(t, chrome)
	console := watchConsole(ctx)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(x.base+pathDashboard)))

	// Live, with numbers and charts that move.
	first := waitMoving(t, ctx, "")
	t.Logf("live and moving after %v", time.Since(began).Round(time.Millisecond))
	require.Empty(t, console.errors(), "console errors while loading and running")
	if path := os.Getenv("GAVEL_SCREENSHOT"); path != "" {
		screenshot(t, ctx, path)
	}

	// The exchange stops: the page notices.
	stopTraffic()
	x.stop(t)
	pollJS[bool](t, ctx, `window.gavelDashboard.state() !== "live"`, 10*time.Second)
	t.Logf("the page saw the exchange go after %v", time.Since(began).Round(time.Millisecond))

	// A new exchange on the same address: the page reconnects, starts over
	// on the new stream and moves again.
	x = startOn(t, addr)
	stopTraffic = traffic(x.base)
	defer stopTraffic()
	second := waitMoving(t, ctx, first)
	t.Logf("live and moving on the new exchange after %v", time.Since(began).Round(time.Millisecond))
	require.NotEqual(t, first, second)
	require.Empty(t, console.errors(), "console errors after the restart")
}

// chromium returns the path of the browser, or skips the test without one
// unless GAVEL_REQUIRE_BROWSER=1.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GAVEL_REQUIRE_BROWSER") == "1" {
		t.Fatal("no chromium on PATH and GAVEL_REQUIRE_BROWSER=1 (apt-get install -y chromium)")
	}
	t.Skip("no chromium on PATH; set GAVEL_REQUIRE_BROWSER=1 to fail instead")
	return ""
}

// browser starts a headless Chromium with a tab for the test, closed at
// its end.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// console collects the page's console errors: calls of console.error,
// uncaught exceptions, and browser log entries of level error. Network
// errors while the exchange is down are expected and left out.
type console struct {
	mu   sync.Mutex
	errs []string
}

func watchConsole(ctx context.Context) *console {
	c := &console{}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && !m.IsException() {
				continue
			}
			if m.Source == "network" && strings.Contains(m.Text, "ERR_CONNECTION_REFUSED") {
				continue // the exchange is restarting
			}
			c.mu.Lock()
			c.errs = append(c.errs, m.String())
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *console) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

// view is what the test reads off the page.
type view struct {
	State  string `json:"state"`
	Stream string `json:"stream"`
	Frames int    `json:"frames"`
	Rate   string `json:"rate"`
	Text   string `json:"text"`  // the tiles' and the bidders table's numbers
	Chart  string `json:"chart"` // the auctions chart's pixels, as a data URL
	Rows   int    `json:"rows"`  // rows of the bidders table
	// The campaigns table: its rows with numbers, and its text.
	CampaignRows int    `json:"campaignRows"`
	Campaigns    string `json:"campaigns"`
}

const readView = `(() => {
	const d = window.gavelDashboard;
	const canvas = document.querySelector("#c-auctions canvas");
	return {state: d.state(), stream: d.stream(), frames: d.frames(),
		rate: document.getElementById("t-rate").textContent,
		text: document.querySelector(".tiles").innerText + document.getElementById("bidders").innerText,
		chart: canvas ? canvas.toDataURL() : "",
		rows: document.querySelectorAll("#bidders tbody tr").length,
		campaignRows: document.querySelectorAll("#campaigns tbody tr:not(:has(td.empty))").length,
		campaigns: document.getElementById("campaigns").innerText};
})()`

// waitMoving waits for the page to be live on a stream other than
// notStream, with auctions counted and a campaign billed, then requires
// its numbers, its chart and its campaigns table to change within a few
// seconds. It returns the stream.
func waitMoving(t *testing.T, ctx context.Context, notStream string) string {
	t.Helper()
	pollJS[bool](t, ctx, fmt.Sprintf(`(() => { const d = window.gavelDashboard;
		return d && d.state() === "live" && d.stream() !== %q && d.frames() >= 2 &&
			parseFloat(document.getElementById("t-rate").textContent) > 0 &&
			document.querySelectorAll("#campaigns tbody tr:not(:has(td.empty))").length > 0; })()`, notStream), 15*time.Second)
	before := evalView(t, ctx)
	require.Equal(t, 4, before.Rows, "a row for each demo bidder and the house bidder")
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(500 * time.Millisecond)
		after := evalView(t, ctx)
		if after.Frames > before.Frames && after.Chart != before.Chart && after.Text != before.Text && after.Rate != "–" &&
			after.Campaigns != before.Campaigns {
			require.Equal(t, before.Stream, after.Stream)
			require.Positive(t, after.CampaignRows, "rows of the campaigns table")
			return after.Stream
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not move in 10s: before %+v, after %+v", short(before), short(after))
		}
	}
}

func short(v view) view {
	v.Chart = strconv.Itoa(len(v.Chart)) + " bytes"
	v.Text = strconv.Itoa(len(v.Text)) + " bytes"
	v.Campaigns = strconv.Itoa(len(v.Campaigns)) + " bytes"
	return v
}

func evalView(t *testing.T, ctx context.Context) view {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[view](readView))
	require.NoError(t, err)
	return v
}

// pollJS waits for expr to be truthy on the page.
func pollJS[T any](t *testing.T, ctx context.Context, expr string, timeout time.Duration) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond)))
	require.NoError(t, err, "waiting for %s", expr)
}

// screenshot lets the charts fill for a while, then saves the whole page
// as a PNG at path.
func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	pollJS[bool](t, ctx, `window.gavelDashboard.frames() >= 45`, 60*time.Second)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// startOn runs an exchange on addr, as start does on 127.0.0.1:0.
func startOn(t *testing.T, addr string) *started {
	t.Helper()
	s := &started{events: filepath.Join(t.TempDir(), "events.jsonl"), done: make(chan error, 1), out: &bytes.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	up := make(chan string, 1)
	cfg := config{addr: addr, events: s.events, shutdownTimeout: 5 * time.Second,
		started: func(base string) { up <- base }}
	go func() { s.done <- run(ctx, cfg, s.out) }()
	select {
	case s.base = <-up:
	case err := <-s.done:
		cancel()
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// traffic posts auctions to the exchange, a few dozen a second from a
// few dozen users (light: other packages' tests run beside this one),
// calls the winners' burls so that money is spent, and clicks some house
// ads and converts some clicks, until the returned func is called; the
// func returns once it stopped. Failures are ignored: the exchange may be
// going away.
func traffic(base string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	client := &http.Client{Timeout: 2 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }} // landing pages are elsewhere
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				auction(ctx, client, base, i, fmt.Sprintf("dash-%d-%d", w, i), fmt.Sprintf("user-%d", 1+(w*50+i)%100))
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	return sync.OnceFunc(func() {
		cancel()
		wg.Wait()
		client.CloseIdleConnections()
	})
}

// auction runs one auction on the exchange and bills its winner. Some
// requests are invalid (no imp) and some leave the bidders little time,
// so that the dashboard shows reasons and timeouts too; some come from
// phones (puzzle-installs) or offer a deal (autos-deal). One house ad in
// seven is clicked, and every other click converts.
func auction(ctx context.Context, client *http.Client, base string, n int, id, user string) {
	r := request(id, user)
	switch {
	case n%20 == 0:
		r.Imp = nil
	case n%9 == 0:
		r.TMax = 20
	case n%3 == 1:
		r.Device = &openrtb2.Device{DeviceType: adcom1.DevicePhone, OS: "Android", Geo: &openrtb2.Geo{Country: "IND"}}
		r.Imp[0].Banner.Format = []openrtb2.Format{{W: 320, H: 50}}
	case n%5 == 2:
		r.Imp[0].PMP = &openrtb2.PMP{Deals: []openrtb2.Deal{{ID: "deal-1", BidFloor: 1.5, BidFloorCur: "USD"}}}
	}
	body, _ := json.Marshal(r)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+pathAuction, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var br openrtb2.BidResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &br) != nil {
		return
	}
	for _, sb := range br.SeatBid {
		for _, bid := range sb.Bid {
			settle(ctx, client, base, n, id, &bid)
		}
	}
}

// settle bills a winning bid of auction n and, for a house ad, clicks it
// when n%7 == 1 and converts the click when n%14 == 1.
func settle(ctx context.Context, client *http.Client, base string, n int, id string, bid *openrtb2.Bid) {
	if bid.BURL != "" {
		fetch(ctx, client, http.MethodGet, bid.BURL)
	}
	m := hrefRE.FindStringSubmatch(bid.AdM)
	if m == nil || n%7 != 1 {
		return
	}
	landing := fetch(ctx, client, http.MethodGet, html.UnescapeString(m[1]))
	if u, err := url.Parse(landing); err == nil && n%14 == 1 {
		fetch(ctx, client, http.MethodPost, base+pathTrackConversion+"?order_id="+id+"&gavel_click="+url.QueryEscape(u.Query().Get("gavel_click")))
	}
}

// fetch makes a request with no body and returns the Location of the
// answer; a redirect is not followed (client must not follow them).
func fetch(ctx context.Context, client *http.Client, method, u string) string {
	r, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return ""
	}
	resp, err := client.Do(r)
	if err != nil {
		return ""
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Header.Get("Location")
}
