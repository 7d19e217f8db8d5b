package main

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBinarySignals builds the exchange and runs it as a process with
// -config: SIGHUP reloads the file (a new bidder wins afterwards), and
// SIGTERM shuts it down with exit code 0.
func TestBinarySignals(t *testing.T) {
	a, b := newTestDSP(t, "a", 2, false), newTestDSP(t, "b", 3, false)
	dir := t.TempDir()
	events, path := filepath.Join(dir, "events.jsonl"), filepath.Join(dir, "exchange.json")
	writeConfig(t, path, testConfig(events, a))
	bin := filepath.Join(dir, "exchange")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	cmd := exec.CommandContext(ctx, bin, "-config", path, "-addr", "127.0.0.1:0")
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the test fails before SIGTERM; the ctx's end reaps it
	var base string
	require.Eventually(t, func() bool {
		first, _, ok := strings.Cut(stdout.String(), "\n")
		base, _ = strings.CutPrefix(first, "gavel exchange on ")
		return ok
	}, 10*time.Second, 10*time.Millisecond, "the banner")
	require.True(t, strings.HasPrefix(base, "http://127.0.0.1:"), base)
	c := testClient(t)
	assertWins(t, c, base, "a")

	writeConfig(t, path, testConfig(events, a, b))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "msg=reloaded") },
		10*time.Second, 10*time.Millisecond, "the reload's log line")
	assert.Contains(t, stderr.String(), "bidders_added=[b]")
	assertWins(t, c, base, "b")

	c.CloseIdleConnections()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("exit code %d after SIGTERM; stderr: %s", exit.ExitCode(), stderr)
	}
	require.NoError(t, err)
	assert.Contains(t, stdout.String(), "shutting down")
}
