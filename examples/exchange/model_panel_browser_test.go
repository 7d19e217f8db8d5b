package main

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gavelrtb/gavel/dashboard"
	"github.com/gavelrtb/gavel/predict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestModelPanelInBrowser opens a dashboard fed by a predict.Monitor in a
// headless Chromium and reads the model panel's numbers: the exchange
// wires no Monitor yet, so the panel is shown by a dashboard of its own,
// as an embedder would mount it. A model predicts 4% where 2% happen:
// calibration 2, one calibration drift. Without Chromium it skips, or
// fails when GAVEL_REQUIRE_BROWSER=1.
func TestModelPanelInBrowser(t *testing.T) {
	chrome := chromium(t)
	d, err := dashboard.New(dashboard.WithTitle("model panel"))
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", d))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer d.Close() // before the server: its streams end

	mon, err := predict.NewMonitor("ctr", predict.WithMonitorHooks(d),
		predict.WithMonitorStatsInterval(time.Millisecond), predict.WithMonitorCheckEvery(100),
		predict.WithDriftMinPositives(5), predict.WithCalibrationBand(0.8, 1.25),
		// Room for every observation in each slot's AUC sample: a slot's
		// reservoir of 167 (its share of the default) is seeded by the
		// slot's index, which the clock picks, and for 2 of the 60 it drew
		// none of the 20 positives, so the AUC was "–" (CI failed so once).
		predict.WithMonitorSample(predict.DefaultMonitorSlots*2000))
	require.NoError(t, err)
	for i := range 1000 {
		mon.Observe(0.04, i%50 == 0, 1)
	}
	time.Sleep(2 * time.Millisecond)
	mon.Observe(0.04, false, 1) // past the stats interval: reports 1001 observations

	ctx := browser(t, chrome)
	console := watchConsole(ctx)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/dashboard/")))
	pollJS[bool](t, ctx, `document.querySelectorAll("#models tbody tr:not(:has(td.empty))").length > 0`, 15*time.Second)

	cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#models tbody tr:first-child td")].map((td) => td.textContent)`))
	require.NoError(t, err)
	t.Logf("models row: %q", cells)
	require.Len(t, cells, 12)
	s := mon.Snapshot()
	assert.Equal(t, "ctr", cells[0])
	assert.Equal(t, "1001", cells[2], "observations")
	assert.Equal(t, "20", cells[3], "positives")
	assert.Equal(t, "2.0%", cells[4], "base rate")
	assert.Equal(t, "4.0%", cells[5], "mean prediction")
	assert.Equal(t, fmtJS(s.LogLoss, 4), cells[6], "log loss")
	assert.Equal(t, fmtJS(s.NormalizedEntropy, 4), cells[7], "NE")
	assert.Equal(t, fmtJS(s.Calibration, 3), cells[8], "calibration")
	assert.Equal(t, "0.5000", cells[9], "AUC of one prediction for all")
	assert.Equal(t, "1 / 0", cells[10], "drifts")
	assert.Contains(t, cells[11], "calibration 2.00")

	buckets, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#model-buckets tbody tr:first-child td")].map((td) => td.textContent)`))
	require.NoError(t, err)
	t.Logf("bucket row: %q", buckets)
	require.Len(t, buckets, 6)
	assert.Equal(t, []string{"ctr", "[0.03162, 0.1)", "1001", "4.0%", "2.0%", fmtJS(s.Buckets[6].Calibration, 3)}, buckets)

	pollJS[bool](t, ctx, `!!document.querySelector("#c-model-ne canvas") && !!document.querySelector("#c-model-calibration canvas")`, 10*time.Second)
	require.Empty(t, console.errors(), "console errors")
}

// fmtJS formats x as the page's toFixed(digits) does.
func fmtJS(x float64, digits int) string {
	return strconv.FormatFloat(x, 'f', digits, 64)
}
