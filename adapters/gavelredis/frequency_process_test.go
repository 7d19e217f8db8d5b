package gavelredis

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/campaign"
)

// The environment of a frequency helper process: TestFrequencyProcesses
// runs the test binary again with these set, and
// TestFrequencyHelperProcess then plays one bidding process.
const (
	freqHelperEnv       = "GAVEL_FREQ_HELPER"
	freqHelperPrefixEnv = "GAVEL_FREQ_PREFIX"
)

// The scenario of the multi-process test: each process runs the bidder's
// loop for a few hot users, one auction per fake minute, over 4 hours.
const (
	freqProcesses = 3
	freqUsers     = 4
	freqCap       = 5 // per user per hour
	freqAuctions  = 240
)

var freqProcStart = time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)

var freqProcKeys = []campaign.CapKey{{ID: "c1", Period: campaign.PeriodHour}}

// TestFrequencyProcesses runs three OS processes (this test binary, again)
// that each run the bidder's loop (Counts, decide, Record) against one
// Redis: the counts are exactly the impressions the processes recorded,
// and no user exceeds the cap by more than the processes less one in any
// hour, the bound that FrequencyStore documents.
func TestFrequencyProcesses(t *testing.T) {
	if os.Getenv(freqHelperEnv) != "" {
		t.Skip("in a helper process")
	}
	client, prefix := profileClient(t)
	type proc struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		stderr strings.Builder
		ready  chan struct{}
		result chan int64
		read   chan struct{} // closed when its output is read to the end
	}
	procs := make([]*proc, freqProcesses)
	var wg sync.WaitGroup
	for i := range procs {
		p := &proc{cmd: exec.Command(os.Args[0], "-test.run=^TestFrequencyHelperProcess$", "-test.count=1"),
			ready: make(chan struct{}, 1), result: make(chan int64, 1), read: make(chan struct{})}
		p.cmd.Env = append(os.Environ(), freqHelperEnv+"="+strconv.Itoa(i), "GAVEL_REDIS_ADDR="+redisAddr(),
			freqHelperPrefixEnv+"="+strings.TrimSuffix(prefix, ":"))
		p.cmd.Stderr = &p.stderr
		stdout, err := p.cmd.StdoutPipe()
		require.NoError(t, err)
		p.stdin, err = p.cmd.StdinPipe()
		require.NoError(t, err)
		require.NoError(t, p.cmd.Start())
		wg.Go(func() {
			defer close(p.read)
			readHelper(stdout, p.ready, p.result)
		})
		procs[i] = p
	}
	defer func() {
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		}
		wg.Wait()
	}()
	for _, p := range procs { // start them together, once each is set up
		select {
		case <-p.ready:
		case <-time.After(30 * time.Second):
			t.Fatalf("a helper is not ready after 30s: %s", p.stderr.String())
		}
	}
	for _, p := range procs {
		_, err := io.WriteString(p.stdin, "GO\n")
		require.NoError(t, err)
	}
	recorded := int64(0)
	for _, p := range procs {
		select { // all its output read before Wait closes the pipe
		case <-p.read:
		case <-time.After(60 * time.Second):
			t.Fatal("a helper has not finished after 60s")
		}
		err := p.cmd.Wait()
		require.NoError(t, err, "helper: %s", p.stderr.String())
		select {
		case n := <-p.result:
			recorded += n
		default:
			t.Fatalf("a helper printed no result: %s", p.stderr.String())
		}
	}
	checkFrequencyProcesses(t, newTestFrequencyStore(t, client, prefix), recorded)
}

// readHelper reads a helper's output: READY, then RESULT <records>.
func readHelper(r io.Reader, ready chan<- struct{}, result chan<- int64) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "READY":
			ready <- struct{}{}
		case strings.HasPrefix(line, "RESULT "):
			if n, err := strconv.ParseInt(strings.TrimPrefix(line, "RESULT "), 10, 64); err == nil {
				result <- n
			}
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// checkFrequencyProcesses reads every user's count in every hour: the
// counts add up to what the processes recorded, each reaches the cap, and
// none exceeds it by more than the processes less one.
func checkFrequencyProcesses(t *testing.T, s *FrequencyStore, recorded int64) {
	total, worst := int64(0), int64(0)
	var seen []string
	for h := range freqAuctions / 60 {
		for u := range freqUsers {
			got, err := s.Counts(t.Context(), fmt.Sprintf("u%d", u), freqProcKeys, freqProcStart.Add(time.Duration(h)*time.Hour))
			require.NoError(t, err)
			n := got[0]
			assert.GreaterOrEqual(t, n, int64(freqCap), "u%d hour %d reaches the cap", u, h)
			assert.LessOrEqual(t, n, int64(freqCap+freqProcesses-1), "u%d hour %d", u, h)
			total += n
			worst = max(worst, n-freqCap)
			seen = append(seen, strconv.FormatInt(n, 10))
		}
	}
	assert.Equal(t, recorded, total, "the counts are the impressions recorded")
	t.Logf("%d processes, cap %d per user and hour: counts %s; worst excess %d (bound %d)",
		freqProcesses, freqCap, strings.Join(seen, " "), worst, freqProcesses-1)
}

// TestFrequencyHelperProcess is one process of TestFrequencyProcesses; it
// runs only in the processes that test starts.
func TestFrequencyHelperProcess(t *testing.T) {
	if os.Getenv(freqHelperEnv) == "" {
		t.Skip("run by TestFrequencyProcesses")
	}
	c := profileNewClient(t, redisAddr())
	s, err := NewFrequencyStore(c, WithKeyPrefix(os.Getenv(freqHelperPrefixEnv)))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fmt.Println("READY")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "GO\n", line)
	records := int64(0)
	for i := range freqAuctions {
		now := freqProcStart.Add(time.Duration(i) * time.Minute)
		user := fmt.Sprintf("u%d", i%freqUsers)
		got, err := s.Counts(ctx, user, freqProcKeys, now)
		require.NoError(t, err)
		if got[0] >= freqCap {
			continue
		}
		require.NoError(t, s.Record(ctx, user, freqProcKeys, now))
		records++
	}
	fmt.Println("RESULT", records)
}
