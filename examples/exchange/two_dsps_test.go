package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/gavelhttp"
)

// TestTwoDSPs runs the exchange on two-dsps.json, the README's example
// config, against two demo DSPs (examples/dsp, built once and run as
// processes, each on a free port that replaces its port in the file):
// auctions are won by each DSP where its campaigns bid most, and the
// billing notices of the won impressions reach the DSPs.
func TestTwoDSPs(t *testing.T) {
	_, err := gavelhttp.LoadConfig("two-dsps.json")
	require.NoError(t, err, "the example config loads as it is")
	bin := buildDSP(t)
	a := startDSP(t, bin, "../dsp/testdata/campaigns.json", "1")
	b := startDSP(t, bin, "../dsp/testdata/campaigns-b.json", "2")

	raw, err := os.ReadFile("two-dsps.json")
	require.NoError(t, err)
	var conf map[string]any
	require.NoError(t, json.Unmarshal(raw, &conf))
	for _, bidder := range conf["bidders"].([]any) {
		bidder := bidder.(map[string]any)
		ep := bidder["endpoint"].(string)
		ep = strings.Replace(ep, "127.0.0.1:9001", a, 1)
		bidder["endpoint"] = strings.Replace(ep, "127.0.0.1:9002", b, 1)
	}
	conf["events"].(map[string]any)["file"] = filepath.Join(t.TempDir(), "events.jsonl")
	conf["server"].(map[string]any)["addr"] = "127.0.0.1:0"
	s, _ := launchConfig(t, conf)
	c := testClient(t)

	wins := map[string]int{}
	// Ten auctions, and more (40 at most) until each DSP has won one: on a
	// loaded machine a DSP may miss its 100ms.
	for i := 0; i < 40 && (i < 10 || wins["dsp-a"] == 0 || wins["dsp-b"] == 0); i++ {
		// user-1's profile holds the segment of dsp-b's sports campaign;
		// a car owner is what dsp-a's cars campaign wants.
		req := request(fmt.Sprintf("two-%d", i), "user-1")
		if i%2 == 1 {
			req.User = &openrtb2.User{ID: "visitor", Data: []openrtb2.Data{{ID: "site", Segment: []openrtb2.Segment{{ID: "car-owner"}}}}}
		}
		code, resp := postAuction(t, c, s.base, req)
		if code == http.StatusNoContent { // both DSPs drew a no-bid
			continue
		}
		require.Equal(t, http.StatusOK, code)
		seat, bid := seatOf(t, resp)
		wins[seat]++
		r, err := c.Get(bid.BURL)
		require.NoError(t, err)
		_ = r.Body.Close()
		require.Equal(t, http.StatusNoContent, r.StatusCode)
	}
	assert.Positive(t, wins["dsp-a"], "wins: %v", wins)
	assert.Positive(t, wins["dsp-b"], "wins: %v", wins)
	require.Eventually(t, func() bool {
		return dspBillings(t, a) == int64(wins["dsp-a"]) && dspBillings(t, b) == int64(wins["dsp-b"])
	}, 10*time.Second, 20*time.Millisecond, "billing notices at the DSPs, wins %v", wins)
}

// buildDSP builds examples/dsp into the test's directory.
func buildDSP(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dsp")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../dsp").CombinedOutput()
	require.NoError(t, err, "go build ../dsp: %s", out)
	return bin
}

// startDSP runs the demo DSP bin on a free port of 127.0.0.1 with the
// campaigns file and seed, waits until it answers, and returns its
// address. It is stopped (SIGTERM) when the test ends.
func startDSP(t *testing.T, bin, campaigns, seed string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	cmd := exec.Command(bin, "-addr", addr, "-campaigns", campaigns, "-seed", seed)
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections() // of the readiness and stats calls
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	require.Eventually(t, func() bool {
		r, err := http.Get("http://" + addr + "/stats")
		if err != nil {
			return false
		}
		_ = r.Body.Close()
		return r.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "dsp on %s", addr)
	return addr
}

// dspBillings reads the billing notices a demo DSP counted.
func dspBillings(t *testing.T, addr string) int64 {
	t.Helper()
	r, err := http.Get("http://" + addr + "/stats")
	require.NoError(t, err)
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	var stats struct {
		Billings int64 `json:"billings"`
	}
	require.NoError(t, json.Unmarshal(b, &stats), string(b))
	return stats.Billings
}
