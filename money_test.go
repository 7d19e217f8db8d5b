package gavel_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// spoofer answers every request with a high bid for the seat "honest",
// which is another bidder's name: the trial's bidder "evil".
func spoofer(name string) gavel.Bidder {
	return gavel.BidderFunc(name, func(_ context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
		return auctiontest.Response(req.ID, "honest", auctiontest.Bid("e1", "1", 9.00)), nil
	})
}

// No bidder can charge another account: a bid for a seat its bidder may
// not use loses with LossSeatNotAllowed, is counted and never reaches the
// ledger, in process and over HTTP alike.
func TestSpoofedSeatCannotSpendAnotherAccount(t *testing.T) {
	evilServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req openrtb2.BidRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(auctiontest.Response(req.ID, "honest", auctiontest.Bid("e1", "1", 9.00)))
	}))
	defer evilServer.Close()
	overHTTP, err := gavel.NewHTTPBidder("evil", evilServer.URL)
	require.NoError(t, err)
	defer overHTTP.CloseIdleConnections()

	for _, tt := range []struct {
		name string
		evil gavel.Bidder
	}{
		{"in process", spoofer("evil")},
		{"over http", overHTTP},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			ledger := must(gavel.NewMemoryLedger())
			require.NoError(t, ledger.SetBudget(ctx, gavel.Budget{Account: "honest", Amount: 1_000_000}))
			require.NoError(t, ledger.SetBudget(ctx, gavel.Budget{Account: "evil", Amount: 1_000_000}))
			a := mustAuction(t, gavel.WithLedger(ledger), gavel.WithBidders(
				tt.evil,
				auctiontest.Fixed("honest", auctiontest.Bid("h1", "1", 2.00)),
			))
			const auctions = 5
			for i := range auctions {
				req := auctiontest.Request("r"+string(rune('0'+i)), auctiontest.BannerImp("1", 0.5))
				req.AT, req.TMax = 1, 1000
				res, err := a.Run(ctx, req)
				require.NoError(t, err)
				w := res.Winner("1")
				require.NotNil(t, w)
				assert.Equal(t, "honest", w.Bidder, "the spoofed bid never wins")
				for _, b := range res.Bids {
					if b.Bidder == "evil" {
						assert.Equal(t, gavel.LossSeatNotAllowed, b.Loss)
					}
				}
			}
			assert.Equal(t, int64(auctions), a.Stats().SeatRefusals)
			honest, err := ledger.Balance(ctx, "honest")
			require.NoError(t, err)
			assert.Equal(t, int64(auctions*2000), honest.Reserved, "honest pays for its own wins only, not a micro more")
			evil, err := ledger.Balance(ctx, "evil")
			require.NoError(t, err)
			assert.Zero(t, evil.Reserved+evil.Committed)
		})
	}
}

// A seat the operator allows a bidder is charged to the bidder by default,
// and to the seat itself with SeatAccount.
func TestAllowedSeatsAndTheirAccounts(t *testing.T) {
	bid := func(seat string) gavel.Bidder {
		return gavel.BidderFunc("dsp", func(_ context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
			return auctiontest.Response(req.ID, seat, auctiontest.Bid("b1", "1", 3.00)), nil
		})
	}
	for _, tt := range []struct {
		name    string
		opts    []gavel.Option
		account string
	}{
		{"the bidder's account by default", nil, "dsp"},
		{"the seat's with SeatAccount", []gavel.Option{gavel.WithAccounts(gavel.SeatAccount)}, "seat-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ledger := must(gavel.NewMemoryLedger())
			for _, acct := range []string{"dsp", "seat-1"} {
				require.NoError(t, ledger.SetBudget(t.Context(), gavel.Budget{Account: acct, Amount: 1_000_000}))
			}
			opts := append([]gavel.Option{gavel.WithLedger(ledger), gavel.WithBidders(bid("seat-1")),
				gavel.WithBidderSeats("dsp", "seat-1", "seat-2")}, tt.opts...)
			req := auctiontest.Request("r1", auctiontest.BannerImp("1", 0))
			req.AT = 1
			res := runAuction(t, req, opts...)
			w := res.Winner("1")
			require.NotNil(t, w)
			assert.Equal(t, "seat-1", w.Seat)
			assert.Equal(t, tt.account, res.Imps[0].Hold.Account)
		})
	}

	_, err := gavel.New(gavel.WithBidders(bid("x")), gavel.WithBidderSeats("nobody", "s"), gavel.WithBidderSeats("dsp", ""))
	requireOptionErrors(t, err, "empty seat", "seats for unknown bidder")
}

// logRecorder is a slog.Handler that keeps the messages logged.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	l.mu.Lock()
	l.msgs = append(l.msgs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// An account the ledger has no budget for is its own outcome: its own loss
// reason and counter, a log line at most once a minute per account, and a
// policy between refusing it (the default) and letting it through. It is
// never a ledger failure.
func TestUnknownAccountIsItsOwnOutcome(t *testing.T) {
	for _, tt := range []struct {
		name   string
		policy []gavel.Option
		won    bool
	}{
		{"refused by default", nil, false},
		{"let through", []gavel.Option{gavel.WithUnknownAccounts(gavel.AllowUnknownAccounts)}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ledger := must(gavel.NewMemoryLedger()) // no budget for "newco"
				logs := &logRecorder{}
				hook := &reserveRecorder{}
				a := mustAuction(t, append([]gavel.Option{
					gavel.WithLedger(ledger), gavel.WithLogger(slog.New(logs)), gavel.WithHooks(hook),
					gavel.WithBidders(auctiontest.Fixed("newco", auctiontest.Bid("n1", "1", 2.00))),
				}, tt.policy...)...)
				for i, wait := range []time.Duration{0, time.Second, time.Minute} {
					time.Sleep(wait)
					res, _ := timedRun(t, context.Background(), a, bannerRequest("r"+string(rune('0'+i)), 100))
					if tt.won {
						w := res.Winner("1")
						require.NotNil(t, w)
						assert.Equal(t, gavel.Hold{}, res.Imps[0].Hold, "unbudgeted: no hold")
					} else {
						assert.Nil(t, res.Winner("1"))
						assert.Equal(t, gavel.LossUnknownAccount, res.Bids[0].Loss)
					}
				}
				st := a.Stats()
				assert.Equal(t, int64(3), st.UnknownAccounts)
				assert.Zero(t, st.LedgerErrors, "not a ledger failure")
				assert.Zero(t, st.BudgetRefusals)
				require.Len(t, hook.errs, 3)
				assert.ErrorIs(t, hook.errs[0], gavel.ErrUnknownAccount)
				require.Len(t, logs.msgs, 2, "logged at once, then not again within the minute: %q", logs.msgs)
				assert.Contains(t, logs.msgs[0], "account=newco")
			})
		})
	}
	_, err := gavel.New(gavel.WithUnknownAccounts(9))
	requireOptionErrors(t, err, "unknown account policy")
}

// brokenLedger fails every reservation as a store that is down does.
type brokenLedger struct{ gavel.Ledger }

func (brokenLedger) Reserve(context.Context, string, int64, time.Duration) (gavel.Hold, error) {
	return gavel.Hold{}, errors.New("dial tcp 10.0.0.7:6379: connection refused")
}

// A ledger that fails is "ledger unavailable", distinct from an exhausted
// budget and from running out of time.
func TestLedgerFailureIsItsOwnOutcome(t *testing.T) {
	req := bannerRequest("r1", 100)
	res := runAuction(t, req, gavel.WithLedger(brokenLedger{}),
		gavel.WithBidders(auctiontest.Fixed("dsp", auctiontest.Bid("d1", "1", 2.00))))
	assert.Nil(t, res.Winner("1"), "fails closed")
	assert.Equal(t, gavel.LossLedgerUnavailable, res.Bids[0].Loss)
}

// countingLedger counts the calls that reach a MemoryLedger, one by one or
// in batches; without batch it hides the BatchLedger capability.
type countingLedger struct {
	*gavel.MemoryLedger
	mu      sync.Mutex
	batches [][]gavel.Reservation
	singles int
	delay   time.Duration // each call takes this long
}

func (l *countingLedger) NonBlocking() {} // hides nothing: calls are direct, for exact counts

func (l *countingLedger) Reserve(ctx context.Context, account string, amount int64, ttl time.Duration) (gavel.Hold, error) {
	l.mu.Lock()
	l.singles++
	l.mu.Unlock()
	time.Sleep(l.delay)
	return l.MemoryLedger.Reserve(ctx, account, amount, ttl)
}

func (l *countingLedger) ReserveBatch(ctx context.Context, rs []gavel.Reservation, holds []gavel.Hold, errs []error) {
	l.mu.Lock()
	l.batches = append(l.batches, append([]gavel.Reservation(nil), rs...))
	l.mu.Unlock()
	time.Sleep(l.delay)
	l.MemoryLedger.ReserveBatch(ctx, rs, holds, errs)
}

// A remote ledger costs one round trip per auction: the winners of every
// imp are reserved in one call, and the imps whose winner was refused try
// their next bid in a second one.
func TestWinnersOfAllImpsAreReservedInOneCall(t *testing.T) {
	ledger := &countingLedger{MemoryLedger: must(gavel.NewMemoryLedger())}
	require.NoError(t, ledger.SetBudget(t.Context(), gavel.Budget{Account: "big", Amount: 1_000_000}))
	require.NoError(t, ledger.SetBudget(t.Context(), gavel.Budget{Account: "small", Amount: 2_500})) // one win at 2.00 CPM, not two
	imps := []openrtb2.Imp{auctiontest.BannerImp("1", 0), auctiontest.BannerImp("2", 0), auctiontest.BannerImp("3", 0)}
	req := auctiontest.Request("r1", imps...)
	req.AT = 1
	res := runAuction(t, req, gavel.WithLedger(ledger), gavel.WithBidders(
		auctiontest.Fixed("small", auctiontest.Bid("s1", "1", 2.00), auctiontest.Bid("s2", "2", 2.00), auctiontest.Bid("s3", "3", 0.50)),
		auctiontest.Fixed("big", auctiontest.Bid("b1", "1", 1.00), auctiontest.Bid("b2", "2", 1.00), auctiontest.Bid("b3", "3", 1.00)),
	))
	require.Len(t, ledger.batches, 2, "one batch for the winners, one for the imp whose winner was refused")
	assert.Zero(t, ledger.singles)
	assert.Equal(t, []gavel.Reservation{
		{Account: "small", Amount: 2000, TTL: gavel.DefaultHoldTTL},
		{Account: "small", Amount: 2000, TTL: gavel.DefaultHoldTTL},
		{Account: "big", Amount: 1000, TTL: gavel.DefaultHoldTTL},
	}, ledger.batches[0])
	assert.Equal(t, []gavel.Reservation{{Account: "big", Amount: 1000, TTL: gavel.DefaultHoldTTL}}, ledger.batches[1])
	assert.Equal(t, "small", res.Winner("1").Bidder)
	assert.Equal(t, "big", res.Winner("2").Bidder, "small's second win was refused: the next bid took it")
	assert.Equal(t, "big", res.Winner("3").Bidder)
	for _, b := range res.Bids {
		if b.Bid.ID == "s2" {
			assert.Equal(t, gavel.LossBudget, b.Loss)
		}
	}
}

// singleLedger is a Ledger with no optional capability: Run reserves on it
// one imp at a time, each call taking delay.
type singleLedger struct {
	gavel.Ledger
	delay time.Duration
	mu    sync.Mutex
	calls int
}

func (l *singleLedger) Reserve(ctx context.Context, account string, amount int64, ttl time.Duration) (gavel.Hold, error) {
	l.mu.Lock()
	l.calls++
	l.mu.Unlock()
	select {
	case <-time.After(l.delay):
	case <-ctx.Done():
		return gavel.Hold{}, ctx.Err()
	}
	return l.Ledger.Reserve(ctx, account, amount, ttl)
}

// Once the deadline has passed, Run tries no further reservation: with a
// ledger that answers one imp at a time and slowly, and a bidder that
// answers at the end of the fan-out, the first imp's winner is reserved,
// the second's runs into the deadline, and the third's is not tried; both
// lose with LossNoTimeToReserve.
func TestNoReservationAfterTheDeadline(t *testing.T) {
	mem := must(gavel.NewMemoryLedger())
	require.NoError(t, mem.SetBudget(t.Context(), gavel.Budget{Account: "dsp", Amount: 1_000_000}))
	ledger := &singleLedger{Ledger: mem, delay: 8 * time.Millisecond}
	req := auctiontest.Request("r1", auctiontest.BannerImp("1", 0), auctiontest.BannerImp("2", 0), auctiontest.BannerImp("3", 0))
	req.TMax = 100 // deadline 95ms, fan-out end 85ms
	dsp := auctiontest.Fixed("dsp", auctiontest.Bid("a", "1", 2), auctiontest.Bid("b", "2", 2), auctiontest.Bid("c", "3", 2)).
		WithLatency(84 * time.Millisecond)
	hook := &reserveRecorder{}
	res := runAuction(t, req, gavel.WithLedger(ledger), gavel.WithClearingTime(10*time.Millisecond), gavel.WithBidders(dsp), gavel.WithHooks(hook))
	assert.Equal(t, 2, ledger.calls, "the third reservation is not tried: the deadline had passed")
	assert.NotNil(t, res.Winner("1"), "reserved from 84ms to 92ms")
	assert.Nil(t, res.Winner("2"))
	assert.Nil(t, res.Winner("3"))
	assert.Equal(t, gavel.LossNoTimeToReserve, res.Bids[1].Loss, "its reservation ran into the deadline")
	assert.Equal(t, gavel.LossNoTimeToReserve, res.Bids[2].Loss, "not tried")
	require.Len(t, hook.errs, 3)
	assert.ErrorIs(t, hook.errs[1], context.DeadlineExceeded)
	assert.ErrorIs(t, hook.errs[2], gavel.ErrNoTime)
	assert.Equal(t, "gavel: no time left to reserve", hook.errs[2].Error(), "never suggests a store is down")
}

// Before the fan-out, a bidder whose account cannot afford the request's
// lowest floor is not called, and says so in its status.
func TestExhaustedAccountIsNotCalled(t *testing.T) {
	ledger := must(gavel.NewMemoryLedger())
	require.NoError(t, ledger.SetBudget(t.Context(), gavel.Budget{Account: "broke", Amount: 999}))    // 1.00 CPM costs 1000
	require.NoError(t, ledger.SetBudget(t.Context(), gavel.Budget{Account: "solvent", Amount: 1000})) // exactly one impression
	broke := auctiontest.Fixed("broke", auctiontest.Bid("x1", "1", 5.00))
	solvent := auctiontest.Fixed("solvent", auctiontest.Bid("s1", "1", 1.00))
	req := bannerRequest("r1", 100) // floor 1.00
	req.AT = 1
	var res *gavel.Result
	var st gavel.Stats
	synctest.Test(t, func(t *testing.T) {
		a := mustAuction(t, gavel.WithLedger(ledger), gavel.WithBidders(broke, solvent))
		res, _ = timedRun(t, context.Background(), a, req)
		st = a.Stats()
	})
	assert.Zero(t, broke.Calls(), "an auction never waits on a bidder that cannot win")
	assert.Equal(t, int64(1), solvent.Calls())
	assert.Equal(t, map[string]gavel.BidderStatus{"broke": gavel.StatusBudgetExhausted, "solvent": gavel.StatusBid}, statusesOf(res))
	assert.Equal(t, int64(1), st.BudgetSkips)
	assert.Equal(t, "solvent", res.Winner("1").Bidder)
}

// With a ledger that is not NonBlocking, the time kept for clearing follows
// the ledger's observed latency: twice its p99 plus DefaultClearingTime.
func TestClearingTimeFollowsTheLedger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := must(gavel.NewMemoryLedger())
		require.NoError(t, mem.SetBudget(t.Context(), gavel.Budget{Account: "dsp", Amount: 1_000_000_000}))
		ledger := &singleLedger{Ledger: mem, delay: 3 * time.Millisecond}
		a := mustAuction(t, gavel.WithLedger(ledger),
			gavel.WithBidders(auctiontest.Fixed("dsp", auctiontest.Bid("d", "1", 2))))
		clearing := func(res *gavel.Result) time.Duration { return res.Deadline.Sub(res.FanoutEnd) }
		res, _ := timedRun(t, context.Background(), a, bannerRequest("r0", 100))
		assert.Equal(t, gavel.DefaultRemoteClearingTime, clearing(res), "until the ledger has been measured")
		for i := range 32 {
			res, _ = timedRun(t, context.Background(), a, bannerRequest("r"+string(rune('a'+i)), 100))
			require.NotNil(t, res.Winner("1"))
		}
		assert.Equal(t, 2*3*time.Millisecond+gavel.DefaultClearingTime, clearing(res))

		b := mustAuction(t, gavel.WithLedger(ledger), gavel.WithClearingTime(2*time.Millisecond),
			gavel.WithBidders(auctiontest.Fixed("dsp", auctiontest.Bid("d", "1", 2))))
		res, _ = timedRun(t, context.Background(), b, bannerRequest("fixed", 100))
		assert.Equal(t, 2*time.Millisecond, clearing(res), "WithClearingTime wins over the measurement")
	})
}

// Result.Billing refuses an index out of range or a bid that did not win,
// and never panics.
func TestBillingOfANonWinnerIsAnError(t *testing.T) {
	req := bannerRequest("r1", 100)
	res := runAuction(t, req, gavel.WithBidders(
		auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 3)), auctiontest.Fixed("b", auctiontest.Bid("b1", "1", 2))))
	for _, i := range []int{-1, len(res.Bids), res.Imps[0].Winner ^ 1} {
		_, err := res.Billing(i)
		assert.ErrorIs(t, err, gavel.ErrNotWinner, "index %d", i)
	}
	bill, err := res.Billing(res.Imps[0].Winner)
	require.NoError(t, err)
	assert.Equal(t, "a", bill.Bidder)
}

// A winner that needed no hold (here: its account is unknown and let
// through) is billed by Commit with its billing event and no ledger call,
// and Release does nothing: neither fails with ErrHoldNotFound.
func TestWinnerWithoutHoldIsBilledWithoutTheLedger(t *testing.T) {
	rec := &auctiontest.EventRecorder{}
	var res *gavel.Result
	var a *gavel.Auction
	synctest.Test(t, func(t *testing.T) {
		a = mustAuction(t, gavel.WithLedger(must(gavel.NewMemoryLedger())), gavel.WithUnknownAccounts(gavel.AllowUnknownAccounts),
			gavel.WithEventSink(rec), gavel.WithBidders(auctiontest.Fixed("newco", auctiontest.Bid("n1", "1", 2))))
		res, _ = timedRun(t, context.Background(), a, bannerRequest("r1", 100))
		bill, err := res.Billing(res.Imps[0].Winner)
		require.NoError(t, err)
		assert.Equal(t, gavel.Hold{}, bill.Hold)
		require.NoError(t, a.Commit(context.Background(), bill, 2000))
		require.NoError(t, a.Release(context.Background(), bill))
		require.NoError(t, a.Close(context.Background()))
	})
	var billed int
	for _, e := range rec.Events() {
		if e.Type == gavel.EventBilling {
			billed++
			assert.Equal(t, int64(2000), e.CostMicros)
		}
	}
	assert.Equal(t, 1, billed)
}
