package gavelredis

import (
	"context"
	"errors"
	"fmt"
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

// The traffic of the fault tests: 8 workers run auctions (tmax 100ms, one
// imp) on a real gavel.Auction with an in-process bidder that answers in
// 5ms (so that the workers, which fail fast while Redis is away, do not
// spin the two cores by themselves), and commit each winner's hold on the ledger, as an exchange does
// when the impression is billed. A commit that fails is kept and tried
// again once the fault is over: Commit is idempotent, so the money moves
// once whether the first call reached Redis or not, and what is
// acknowledged (a commit that returned nil) is what was billed.

const (
	faultWorkers = 8
	faultTMax    = 100 // ms
	faultPrice   = 2.5 // CPM; alone, the bid clears a little above the floor (0.50)
)

// faultTraffic is a run of the traffic and what it measured.
type faultTraffic struct {
	l       *Ledger
	tl      *timedLedger // l, timing its reservations
	a       *gavel.Auction
	account string

	mu       sync.Mutex
	late     []time.Duration // how late each Run returned past its deadline (0 when on time)
	spans    []span          // each Run's deadline and return
	retry    []gavel.Hold    // holds whose commit failed, to try again
	auctions int
	won      int
	losses   map[int]int // loss reason of the bid -> auctions

	acked atomic.Int64 // micros committed and acknowledged
	stall stallProbe
}

func newFaultTraffic(t testing.TB, l *Ledger, account string) *faultTraffic {
	t.Helper()
	tl := &timedLedger{Ledger: l}
	a, err := gavel.New(gavel.WithBidders(delayedDSP{name: account, delay: 5 * time.Millisecond}), gavel.WithLedger(tl))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close(context.Background()) })
	return &faultTraffic{l: l, tl: tl, a: a, account: account, losses: map[int]int{}}
}

// run runs the traffic until stop is closed.
func (f *faultTraffic) run(t testing.TB, stop <-chan struct{}) {
	t.Helper()
	ctx := context.Background()
	done := make(chan struct{})
	go f.stall.run(done)
	defer close(done)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range faultWorkers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req := auctiontest.Request(fmt.Sprintf("a%d", next.Add(1)), auctiontest.BannerImp("1", 0.5))
				req.TMax = faultTMax
				res, err := f.a.Run(ctx, req)
				end := time.Now()
				if !assert.NoError(t, err) {
					return
				}
				f.settle(ctx, res, end)
			}
		})
	}
	wg.Wait()
}

// settle counts the auction's outcome and commits its winner.
func (f *faultTraffic) settle(ctx context.Context, res *gavel.Result, end time.Time) {
	h := res.Imps[0].Hold
	f.mu.Lock()
	f.auctions++
	f.late = append(f.late, max(end.Sub(res.Deadline), 0))
	f.spans = append(f.spans, span{res.Deadline, end})
	if len(res.Bids) > 0 {
		f.losses[int(res.Bids[0].Loss)]++
	}
	f.mu.Unlock()
	if h.ID == 0 {
		return
	}
	err := f.l.Commit(ctx, h, h.Amount)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.won++
	if err != nil {
		f.retry = append(f.retry, h)
		return
	}
	f.acked.Add(h.Amount)
}

// delayedDSP is a bidder that answers after delay with one bid per imp at
// faultPrice, or gives up when its ctx ends first.
type delayedDSP struct {
	name  string
	delay time.Duration
}

func (d delayedDSP) Name() string { return d.name }

func (d delayedDSP) Bid(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	t := time.NewTimer(d.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	bids := make([]openrtb2.Bid, len(req.Imp))
	for i := range req.Imp {
		bids[i] = auctiontest.Bid(fmt.Sprintf("b%d", i), req.Imp[i].ID, faultPrice)
	}
	return auctiontest.Response(req.ID, d.name, bids...), nil
}

// retryCommits tries the failed commits again; a hold that Redis lost
// with its state (ErrLedgerLost) or that expired (ErrHoldNotFound) was
// never billed.
func (f *faultTraffic) retryCommits(t testing.TB) (lost int) {
	t.Helper()
	f.mu.Lock()
	holds := f.retry
	f.retry = nil
	f.mu.Unlock()
	for _, h := range holds {
		var err error
		for range 5 { // a loaded machine may time a call out: it is idempotent
			if err = f.l.Commit(context.Background(), h, h.Amount); !errors.Is(err, context.DeadlineExceeded) {
				break
			}
		}
		switch {
		case err == nil:
			f.acked.Add(h.Amount)
		case errIsLost(err), errors.Is(err, gavel.ErrHoldNotFound), errors.Is(err, gavel.ErrUnknownAccount):
			lost++
		default:
			t.Errorf("commit retried: %v", err)
		}
	}
	return lost
}

func (f *faultTraffic) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	late := tail(append([]time.Duration(nil), f.late...))
	ux := f.stall.unexplained(f.spans)
	f.tl.mu.Lock()
	lx := f.stall.unexplained(f.tl.spans)
	f.tl.mu.Unlock()
	return fmt.Sprintf("%d auctions, %d won, losses by reason %v; Run past its deadline: max %v, p99 %v; longest stall %v; beyond the stalls: Run max %v, p99 %v, ledger max %v, p99 %v",
		f.auctions, f.won, f.losses, late.max, late.p99, f.stall.max(), ux.max, ux.p99, lx.max, lx.p99)
}

// checkTime asserts that the ledger made no Run late (see checkLateness).
func (f *faultTraffic) checkTime(t testing.TB) {
	t.Helper()
	f.mu.Lock()
	spans := append([]span(nil), f.spans...)
	f.mu.Unlock()
	f.tl.mu.Lock()
	ledger := append([]span(nil), f.tl.spans...)
	f.tl.mu.Unlock()
	checkLateness(t, f.stall.unexplained(ledger), f.stall.unexplained(spans), f)
}

// checkLateness asserts how late the ledger's reservations (ledger) and
// Run (run) returned past their deadline, beyond the time the stall probe
// saw the test process stalled then. A loaded machine (2 cores shared by
// several test runs, the race detector, 8 workers) holds every goroutine
// up at times, ledger or not, and the calls then in flight return late at
// once: that is not the ledger's doing. The probe sees most such stalls,
// not all: a goroutine woken at its deadline may also wait behind others
// in the Go scheduler's run queue while the probe runs, and Run, once the
// ledger answered, still clears and builds its result on a busy CPU. So:
// the ledger returns within its deadline + 2ms at the 99th percentile,
// beyond the stalls; and neither the ledger nor Run waits for Redis (a
// reply from a Redis that is down or partitioned, a reconnect, the ledger
// timeout), which would take longer than tmax. The raw numbers are logged.
// Under the race detector, which slows every goroutine several times over,
// the 2ms is 5ms (a full CI run at load 6-7 saw a p99 of 2.07ms); the
// measurement without it (GAVEL_MEASURE=1, no -race) is the 2ms claim.
func checkLateness(t testing.TB, ledger, run struct{ max, p99 time.Duration }, details any) {
	t.Helper()
	bound := 2 * time.Millisecond
	if pacerRaceEnabled {
		bound = 5 * time.Millisecond
	}
	assert.LessOrEqual(t, ledger.p99, bound, "ledger p99 past its deadline beyond the stalls: %v", details)
	assert.Less(t, ledger.max, faultTMax*time.Millisecond, "ledger max past its deadline beyond the stalls: %v", details)
	assert.Less(t, run.max, faultTMax*time.Millisecond, "Run max past its deadline beyond the stalls: %v", details)
}

// stallProbe measures when and how long the test process is held up (the
// machine's other load, the Go scheduler with every P busy, the race
// detector): a goroutine sleeps 1ms again and again, and records the
// spans in which it overslept by more than stallMin.
type stallProbe struct {
	longest atomic.Int64
	mu      sync.Mutex
	stalls  []span
}

// span is a span of time: a stall, or a call from its deadline to its end.
type span struct{ from, to time.Time }

const stallMin = 500 * time.Microsecond

func (s *stallProbe) run(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		default:
		}
		start := time.Now()
		time.Sleep(time.Millisecond)
		end := time.Now()
		over := end.Sub(start) - time.Millisecond
		if over > time.Duration(s.longest.Load()) {
			s.longest.Store(int64(over))
		}
		if over > stallMin {
			s.mu.Lock()
			s.stalls = append(s.stalls, span{start.Add(time.Millisecond), end})
			s.mu.Unlock()
		}
	}
}

func (s *stallProbe) max() time.Duration { return time.Duration(s.longest.Load()) }

// unexplained returns how late each call in late (its deadline to its
// return) was beyond the time the probe saw the process stalled in that
// span: lateness the machine does not explain. It returns the max and the
// p99.
func (s *stallProbe) unexplained(late []span) struct{ max, p99 time.Duration } {
	s.mu.Lock()
	stalls := append([]span(nil), s.stalls...)
	s.mu.Unlock()
	ds := make([]time.Duration, 0, len(late))
	for _, c := range late {
		d := c.to.Sub(c.from)
		if d <= 0 {
			ds = append(ds, 0)
			continue
		}
		for _, st := range stalls {
			from, to := maxTime(st.from, c.from), minTime(st.to, c.to)
			if to.After(from) {
				d -= to.Sub(from)
			}
		}
		ds = append(ds, max(d, 0))
	}
	return tail(ds)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// redisCommitted reads account's committed and reserved money straight
// from Redis.
func redisCommitted(t testing.TB, l *Ledger, account string) (committed, reserved int64) {
	t.Helper()
	b := ledgerBalanceOf(t, l, account)
	return b.Committed, b.Reserved
}

// after closes a channel after d.
func after(d time.Duration) <-chan struct{} {
	c := make(chan struct{})
	time.AfterFunc(d, func() { close(c) })
	return c
}

// goFault runs f, the faults of a test, in a goroutine, and returns a
// channel closed when it is done, for the test to wait for.
func goFault(f func()) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	return done
}
