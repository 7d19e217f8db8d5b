package gavelredis

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// The environment of a helper process: TestLedgerProcesses runs the test
// binary again with these set, and TestLedgerHelperProcess then plays one
// exchange process.
const (
	helperEnv       = "GAVEL_LEDGER_HELPER" // the helper's number
	helperPrefixEnv = "GAVEL_LEDGER_PREFIX"
	helperModeEnv   = "GAVEL_LEDGER_MODE"
	helperCrashEnv  = "GAVEL_LEDGER_CRASH" // bill this much, then die without Close
)

// The scenario of the multi-process test.
const (
	procAccount = "dsp"
	procBudget  = 5_000_000 // micros: 5.00
	procSlice   = 100_000   // micros: the lease slice, 0.10
	procCost    = 2_010     // micros per impression: dsp bids 5.00, clears at the rival's 2.00 + 0.01
	procImps    = 3
)

// ledgerProcResult is what a helper process prints, on a line of its own after
// "RESULT ".
type ledgerProcResult struct {
	ID         int
	Auctions   int64
	Wins       int64 // impressions won and billed
	Billed     int64 // micros committed
	Refused    int64 // impressions the ledger refused (LossBudget)
	Errors     int64 // commits that failed
	Crashed    bool
	Unreported int64 // committed from the lease, not yet reported to Redis, at the end
	Elapsed    time.Duration
	Stats      LedgerStats
}

// TestLedgerProcesses runs three OS processes (this test binary, again)
// that run auctions against one account in Redis, with more demand than
// budget, each committing what it wins: in strict mode the account is
// never overspent and at least 99% of it is spent; in lease mode, where
// one of the processes dies without Close, the overspend stays within the
// bound of Ledger's documentation.
func TestLedgerProcesses(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		t.Skip("in a helper process")
	}
	for _, mode := range ledgerModes {
		t.Run(fmt.Sprint("mode=", mode), func(t *testing.T) { testLedgerProcesses(t, mode) })
	}
}

func testLedgerProcesses(t *testing.T, mode Mode) {
	const processes = 3
	ctx := context.Background()
	client := ledgerClient(t)
	prefix := ledgerPrefix(t, client)
	reader := newTestLedgerAt(t, client, prefix)
	require.NoError(t, reader.SetBudget(ctx, gavel.Budget{Account: procAccount, Amount: procBudget}))

	type proc struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		stdout bytes.Buffer
		stderr bytes.Buffer
	}
	procs := make([]*proc, processes)
	ready := make(chan struct{}, processes)
	for i := range procs {
		p := &proc{cmd: exec.Command(os.Args[0], "-test.run=^TestLedgerHelperProcess$", "-test.count=1")}
		crash := 0
		if mode == ModeLease && i == processes-1 {
			crash = procBudget / 20
		}
		p.cmd.Env = append(os.Environ(),
			helperEnv+"="+strconv.Itoa(i), "GAVEL_REDIS_ADDR="+redisAddr(),
			helperPrefixEnv+"="+prefix, helperModeEnv+"="+mode.String(), helperCrashEnv+"="+strconv.Itoa(crash))
		p.cmd.Stdout = &ledgerReadyWriter{buf: &p.stdout, ready: ready}
		p.cmd.Stderr = &p.stderr
		var err error
		p.stdin, err = p.cmd.StdinPipe()
		require.NoError(t, err)
		require.NoError(t, p.cmd.Start())
		procs[i] = p
	}
	defer func() {
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		}
	}()
	// Start them together, once each is set up.
	for range procs {
		select {
		case <-ready:
		case <-time.After(20 * time.Second):
			t.Fatal("the processes are not ready after 20s")
		}
	}
	start := time.Now()
	for _, p := range procs {
		_, err := io.WriteString(p.stdin, "GO\n")
		require.NoError(t, err)
	}

	// The budget is spent when what is left cannot buy an impression and
	// the leases and holds left are crumbs (a dead process's lease returns
	// at its expiry).
	var b gavel.Balance
	for deadline := time.Now().Add(40 * time.Second); ; {
		var err error
		b, err = reader.Balance(ctx, procAccount)
		require.NoError(t, err)
		if b.Remaining() < procCost && b.Reserved < processes*procCost {
			break
		}
		require.True(t, time.Now().Before(deadline), "the budget is not spent after 40s: %+v", b)
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range procs {
		_ = p.stdin.Close() // stop
	}

	var results []ledgerProcResult
	var billed, crashed int64
	for i, p := range procs {
		err := p.cmd.Wait()
		var exit *exec.ExitError
		if !(errors.As(err, &exit) && exit.ExitCode() == 3) { // 3: died on purpose
			require.NoError(t, err, "process %d:\n%s\n%s", i, p.stdout.String(), p.stderr.String())
		}
		r, ok := parseLedgerProcResult(p.stdout.String())
		require.True(t, ok, "process %d printed no result:\n%s\n%s", i, p.stdout.String(), p.stderr.String())
		results = append(results, r)
		billed += r.Billed
		if r.Crashed {
			crashed++
		}
		t.Logf("process %d: %d auctions, %d impressions won and billed for %d micros, %d refused, %d errors, crashed=%v (unreported %d), %v; ledger %+v",
			r.ID, r.Auctions, r.Wins, r.Billed, r.Refused, r.Errors, r.Crashed, r.Unreported, r.Elapsed.Round(time.Millisecond), r.Stats)
	}
	// A hold whose reply was lost, if its release came first, returns at
	// its expiry.
	var final gavel.Balance
	require.Eventually(t, func() bool {
		final = ledgerBalanceOf(t, reader, procAccount)
		return final.Reserved == 0
	}, 10*time.Second, 20*time.Millisecond, "every hold and lease ends")
	t.Logf("mode=%v: budget %d, billed by the processes %d (%.2f%%), committed in redis %d, left %d, in %v",
		mode, procBudget, billed, 100*float64(billed)/procBudget, final.Committed, final.Remaining(), time.Since(start).Round(time.Millisecond))

	assert.LessOrEqual(t, final.Committed, int64(procBudget), "redis never counts more than the budget without a lost lease")
	assert.GreaterOrEqual(t, billed, int64(procBudget*99/100), "at least 99% of the budget is spent")
	for _, r := range results {
		assert.Zero(t, r.Errors)
		assert.Positive(t, r.Wins, "process %d won nothing", r.ID)
		assert.Zero(t, r.Stats.LeasesLost)
	}
	switch mode {
	case ModeStrict:
		assert.Equal(t, final.Committed, billed, "every commit is in redis")
		assert.LessOrEqual(t, billed, int64(procBudget), "strict mode never overspends")
	case ModeLease:
		require.Equal(t, int64(1), crashed)
		// The dead process's lease returned at its expiry with what it had
		// billed but not yet reported: that much is spent twice. The bound
		// is one slice per lease lost, at most processes × slice.
		overspend := billed - procBudget
		t.Logf("lease mode: overspend %d micros (bound: %d per lease lost, %d for %d processes); unreported by the dead process: %d",
			max(overspend, 0), procSlice, processes*procSlice, processes, billed-final.Committed)
		assert.LessOrEqual(t, overspend, int64(procSlice), "one lease lost: at most one slice")
		assert.LessOrEqual(t, overspend, int64(processes*procSlice))
		assert.LessOrEqual(t, billed-final.Committed, int64(procSlice), "unreported at the crash: within the dead lease")
	}
}

// ledgerReadyWriter collects a helper's output and signals when it says READY.
type ledgerReadyWriter struct {
	buf   *bytes.Buffer
	ready chan<- struct{}
	said  bool
}

func (w *ledgerReadyWriter) Write(p []byte) (int, error) {
	n, err := w.buf.Write(p)
	if !w.said && bytes.Contains(w.buf.Bytes(), []byte("READY\n")) {
		w.said = true
		w.ready <- struct{}{}
	}
	return n, err
}

func parseLedgerProcResult(out string) (ledgerProcResult, bool) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			var r ledgerProcResult
			return r, json.Unmarshal([]byte(line), &r) == nil
		}
	}
	return ledgerProcResult{}, false
}

// TestLedgerHelperProcess is one exchange process of TestLedgerProcesses: it
// says READY, waits for GO on its stdin, runs auctions with 8 goroutines
// until its stdin closes, commits every impression it wins, and prints
// what it did.
func TestLedgerHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("a helper process of TestLedgerProcesses")
	}
	id, _ := strconv.Atoi(os.Getenv(helperEnv))
	crashAt, _ := strconv.ParseInt(os.Getenv(helperCrashEnv), 10, 64)
	mode := ModeStrict
	if os.Getenv(helperModeEnv) == ModeLease.String() {
		mode = ModeLease
	}
	client := ledgerClient(t)
	l, err := NewLedger(client, WithKeyPrefix(os.Getenv(helperPrefixEnv)), WithLedgerMode(mode),
		WithLeaseSlice(procSlice), WithLeaseTTL(time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close(context.Background()) })

	var dsp, rival []openrtb2.Bid
	var imps []openrtb2.Imp
	for i := range procImps {
		imp := strconv.Itoa(i + 1)
		imps = append(imps, auctiontest.BannerImp(imp, 0.50))
		dsp = append(dsp, auctiontest.Bid("d"+imp, imp, 5.00))
		rival = append(rival, auctiontest.Bid("r"+imp, imp, 2.00))
	}
	a, err := gavel.New(
		gavel.WithBidders(auctiontest.Fixed("dsp", dsp...), auctiontest.Fixed("rival", rival...)),
		gavel.WithLedger(l),
		gavel.WithAccounts(func(bidder, _ string) string {
			if bidder == "dsp" {
				return procAccount
			}
			return "" // the rival is not budget-controlled
		}),
		gavel.WithClearingTime(20*time.Millisecond),
		gavel.WithHoldTTL(5*time.Second), // a hold whose reply was lost is back soon
	)
	require.NoError(t, err)

	// Tell the parent we are ready, wait for its GO, and stop when it
	// closes our stdin.
	fmt.Println("READY")
	in := bufio.NewReader(os.Stdin)
	if line, err := in.ReadString('\n'); err != nil || line != "GO\n" {
		t.Fatalf("waiting for GO: %q, %v", line, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, in)
		stop()
	}()
	var (
		res     = ledgerProcResult{ID: id}
		counts  [5]atomic.Int64 // auctions, wins, billed, refused, errors
		billing sync.RWMutex    // auctions hold it shared; the crash exclusively
		start   = time.Now()
		wg      sync.WaitGroup
	)
	report := func() {
		res.Auctions, res.Wins, res.Billed = counts[0].Load(), counts[1].Load(), counts[2].Load()
		res.Refused, res.Errors = counts[3].Load(), counts[4].Load()
		res.Elapsed, res.Stats = time.Since(start), l.Stats()
		if v, ok := l.accounts.Load(procAccount); ok && v.(*account).lease != nil {
			res.Unreported = l.unreported(v.(*account).lease)
		}
		out, _ := json.Marshal(res)
		fmt.Printf("RESULT %s\n", out)
	}
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				// An auction and its commits hold billing shared, so that
				// the process dies between auctions, with nothing in
				// flight that would kick a refresh of the lease.
				billing.RLock()
				refused := ledgerAuction(ctx, a, fmt.Sprintf("p%d-g%d-%d", id, g, n), imps, &counts)
				billing.RUnlock()
				if crashAt > 0 && counts[2].Load() >= crashAt {
					billing.Lock()
					res.Crashed = true
					report()
					os.Exit(3) // dies with its lease and what it did not report
				}
				if refused {
					time.Sleep(time.Millisecond) // out of budget: do not spin
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, l.Close(context.Background()))
	report()
}

// ledgerAuction runs one auction and commits every impression it wins, counting
// into counts (auctions, wins, billed, refused, errors). It reports whether
// the ledger refused an impression.
func ledgerAuction(ctx context.Context, a *gavel.Auction, id string, imps []openrtb2.Imp, counts *[5]atomic.Int64) bool {
	req := auctiontest.Request(id, imps...)
	req.TMax = 300
	r, err := a.Run(ctx, req)
	if err != nil {
		return false // canceled: we are stopping
	}
	counts[0].Add(1)
	refused := false
	for i := range r.Bids {
		bid := &r.Bids[i]
		switch {
		case bid.Loss == gavel.LossBudget:
			refused = true
			counts[3].Add(1)
		case bid.Won && r.Imps[bid.Imp].Hold.Amount > 0:
			bill, err := r.Billing(i)
			if err == nil {
				err = a.Commit(context.Background(), bill, bid.CostMicros())
			}
			if err != nil {
				counts[4].Add(1)
				continue
			}
			counts[1].Add(1)
			counts[2].Add(bid.CostMicros())
		}
	}
	return refused
}
