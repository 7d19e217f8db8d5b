package gavel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// The deadline tests run in synctest bubbles (see helpers_test.go), where
// Run's durations are exact, except the two at the end of the file.

func TestRunDeadlineSources(t *testing.T) {
	tests := []struct {
		name       string
		opts       []gavel.Option
		tmax       int64
		ctxTimeout time.Duration // 0: no ctx deadline
		want       time.Duration // Deadline - Start
	}{
		{name: "tmax less reserve", tmax: 150, want: 145 * time.Millisecond},
		{name: "missing tmax uses default", tmax: 0,
			opts: []gavel.Option{gavel.WithDefaultTMax(130 * time.Millisecond)}, want: 125 * time.Millisecond},
		{name: "max tmax caps a huge tmax", tmax: 3_600_000,
			opts: []gavel.Option{gavel.WithMaxTMax(140 * time.Millisecond), gavel.WithDefaultTMax(100 * time.Millisecond)},
			want: 135 * time.Millisecond},
		{name: "tmax earlier than ctx deadline", tmax: 130, ctxTimeout: time.Second, want: 125 * time.Millisecond},
		{name: "own reserve", tmax: 150,
			opts: []gavel.Option{gavel.WithReserve(40 * time.Millisecond)}, want: 110 * time.Millisecond},
		{name: "no reserve", tmax: 130, opts: []gavel.Option{gavel.WithReserve(0)}, want: 130 * time.Millisecond},
		{name: "ctx deadline earlier than tmax: ctx deadline less reserve", tmax: 900, ctxTimeout: 140 * time.Millisecond,
			want: 135 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				hang := auctiontest.Hang("hang")
				a := mustAuction(t, append([]gavel.Option{gavel.WithBidders(
					auctiontest.Fixed("good", auctiontest.Bid("g1", "1", 2.00)), hang)}, tt.opts...)...)
				ctx := context.Background()
				if tt.ctxTimeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
					defer cancel()
				}
				res, took := timedRun(t, ctx, a, bannerRequest("r1", tt.tmax))

				assert.Equal(t, tt.want, res.Deadline.Sub(res.Start))
				assert.Equal(t, gavel.DefaultClearingTime, res.Deadline.Sub(res.FanoutEnd))
				assert.Equal(t, res.FanoutEnd.Sub(res.Start), took, "the hanging bidder keeps Run until the fan-out ends")
				assert.Equal(t, "good", winnerOf(t, res, "1").Bidder)
				assert.Equal(t, gavel.StatusTimeout, bidderResultOf(t, res, "hang").Status)

				// The hanging bidder was told the time it had: the whole
				// fan-out, in whole milliseconds, and its ctx says the same.
				fanout := res.FanoutEnd.Sub(res.Start)
				assert.Equal(t, fanout.Milliseconds(), hang.LastRequest().TMax)
				assert.Equal(t, fanout.Milliseconds(), bidderResultOf(t, res, "hang").TMax)
				dl, ok := hang.LastDeadline()
				require.True(t, ok)
				assert.Equal(t, res.FanoutEnd, dl)
			})
		})
	}
}

func TestBidderAnsweringAfterItsOwnDeadlineTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// late ignores its context and answers with the best bid 30ms in,
		// after its own 10ms but well before the auction's 195ms.
		late := gavel.BidderFunc("late", func(_ context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
			time.Sleep(30 * time.Millisecond) // on the bubble's clock
			return auctiontest.Response(req.ID, "late", auctiontest.Bid("l1", "1", 9.00)), nil
		})
		a := mustAuction(t,
			gavel.WithBidders(late, auctiontest.Fixed("good", auctiontest.Bid("g1", "1", 2.00))),
			gavel.WithBidderTimeout("late", 10*time.Millisecond),
		)
		res, took := timedRun(t, context.Background(), a, bannerRequest("r1", 200))
		assert.Equal(t, 30*time.Millisecond, took, "Run waits for the answer, which comes before the fan-out ends")

		br := bidderResultOf(t, res, "late")
		assert.Equal(t, gavel.StatusTimeout, br.Status)
		assert.ErrorIs(t, br.Err, gavel.ErrBidderTimeout)
		assert.Equal(t, int64(10), br.TMax)
		assert.Zero(t, br.Bids)
		assert.Equal(t, 30*time.Millisecond, br.Latency)
		require.Len(t, res.Bids, 1, "the late bid is dropped")
		assert.Equal(t, "good", winnerOf(t, res, "1").Bidder)
		assert.Equal(t, int64(1_010_000), winnerOf(t, res, "1").ClearMicros)
	})
}

func TestMinBidderTime(t *testing.T) {
	pastCtx := func(t *testing.T) context.Context {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
		t.Cleanup(cancel)
		return ctx
	}
	tests := []struct {
		name    string
		opts    []gavel.Option
		tmax    int64
		ctx     func(t *testing.T) context.Context
		skipped []string
		nbr     openrtb3.NoBidReason
	}{
		{name: "all skipped", opts: []gavel.Option{gavel.WithMinBidderTime(30 * time.Millisecond)}, tmax: 30,
			skipped: []string{"good", "other"}, nbr: openrtb3.NoBidInsufficientTime},
		{name: "reserve eats the tmax", opts: []gavel.Option{gavel.WithReserve(50 * time.Millisecond)}, tmax: 55,
			skipped: []string{"good", "other"}, nbr: openrtb3.NoBidInsufficientTime},
		{name: "ctx deadline passed", tmax: 100, ctx: pastCtx,
			skipped: []string{"good", "other"}, nbr: openrtb3.NoBidInsufficientTime},
		{name: "one bidder's timeout under the minimum",
			opts: []gavel.Option{gavel.WithBidderTimeout("other", 5*time.Millisecond)}, tmax: 200,
			skipped: []string{"other"}},
		{name: "zero minimum calls everyone", opts: []gavel.Option{
			gavel.WithMinBidderTime(0), gavel.WithBidderTimeout("other", 5*time.Millisecond)}, tmax: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				good := auctiontest.Fixed("good", auctiontest.Bid("g1", "1", 2.00))
				other := auctiontest.NoBid("other")
				a := mustAuction(t, append([]gavel.Option{gavel.WithBidders(good, other)}, tt.opts...)...)
				ctx := context.Background()
				if tt.ctx != nil {
					ctx = tt.ctx(t)
				}
				res, took := timedRun(t, ctx, a, bannerRequest("r1", tt.tmax))
				assert.Zero(t, took, "nobody to wait for")

				calls := map[string]int64{"good": good.Calls(), "other": other.Calls()}
				for _, br := range res.Bidders {
					if slices.Contains(tt.skipped, br.Bidder) {
						assert.Equal(t, gavel.StatusSkippedNoTime, br.Status, br.Bidder)
						assert.Zero(t, calls[br.Bidder], "%s was called", br.Bidder)
						assert.Zero(t, br.TMax)
						assert.Zero(t, br.Latency)
					} else {
						assert.True(t, br.Status.Called(), "%s: %v", br.Bidder, br.Status)
						assert.Equal(t, int64(1), calls[br.Bidder], br.Bidder)
					}
				}
				assert.Equal(t, tt.nbr, res.NBR)
				if tt.nbr != 0 {
					resp := res.BidResponse()
					require.NotNil(t, resp.NBR)
					assert.Equal(t, tt.nbr, *resp.NBR)
					assert.Empty(t, resp.SeatBid)
				}
			})
		})
	}
}

func TestBidderPanicIsRecovered(t *testing.T) {
	errValue := errors.New("bad state")
	tests := []struct {
		name   string
		bidder gavel.Bidder
		value  func(t *testing.T, v any)
	}{
		{"string", auctiontest.Panic("p", "kaboom"), func(t *testing.T, v any) { assert.Equal(t, "kaboom", v) }},
		{"error", auctiontest.Panic("p", errValue), func(t *testing.T, v any) { assert.Equal(t, errValue, v) }},
		{"nil", gavel.BidderFunc("p", func(context.Context, *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
			panic(nil)
		}), func(t *testing.T, v any) {
			assert.IsType(t, &runtime.PanicNilError{}, v, "panic(nil) is reported too")
		}},
		{"index out of range", gavel.BidderFunc("p", func(_ context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
			_ = req.Imp[len(req.Imp)+1] // a real runtime error
			return nil, nil
		}), func(t *testing.T, v any) {
			err, ok := v.(error)
			require.True(t, ok, "%T", v)
			assert.Contains(t, err.Error(), "index out of range")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs bytes.Buffer
				a := mustAuction(t,
					gavel.WithBidders(auctiontest.Fixed("good", auctiontest.Bid("g1", "1", 2.00)), tt.bidder),
					gavel.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
				)
				for i := range 3 { // the process, and the Auction, keep working
					res, took := timedRun(t, context.Background(), a, bannerRequest(fmt.Sprint("r", i), 200))
					assert.Zero(t, took, "a panic is an answer")
					assert.Equal(t, "good", winnerOf(t, res, "1").Bidder)
					br := bidderResultOf(t, res, "p")
					assert.Equal(t, gavel.StatusError, br.Status)
					assert.ErrorIs(t, br.Err, gavel.ErrBidderPanic)
					var pe *gavel.PanicError
					require.ErrorAs(t, br.Err, &pe)
					assert.Equal(t, "p", pe.Bidder)
					tt.value(t, pe.Value)
					assert.NotEmpty(t, pe.Stack)
					assert.Contains(t, string(pe.Stack), "goroutine ")
					assert.Contains(t, pe.Error(), `bidder "p" panicked`)
				}
				assert.Equal(t, 3, strings.Count(logs.String(), "bidder panicked"), logs.String())
			})
		})
	}
}

func TestRunCanceledMidAuction(t *testing.T) {
	tests := []struct {
		name   string
		cancel func(cancel context.CancelFunc) // cancels the caller's ctx
		took   time.Duration                   // how long Run takes
	}{
		{"before Run", func(cancel context.CancelFunc) { cancel() }, 0},
		{"during the fan-out", func(cancel context.CancelFunc) { time.AfterFunc(10*time.Millisecond, cancel) }, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := mustAuction(t, gavel.WithBidders(
					auctiontest.Fixed("good", auctiontest.Bid("g1", "1", 2.00)),
					auctiontest.Hang("hang"), auctiontest.Stuck("stuck", stuckRelease(t)),
				))
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				tt.cancel(cancel)
				start := time.Now()
				res, err := a.Run(ctx, bannerRequest("r1", 900))
				assert.Equal(t, tt.took, time.Since(start), "Run returns on cancel, not at the 895ms deadline")
				assert.Nil(t, res)
				assert.Equal(t, context.Canceled, err)
			})
		})
	}
}

func TestRunLeaksNoGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ignore := goleak.IgnoreCurrent()
		a := mustAuction(t,
			gavel.WithBidders(
				auctiontest.Fixed("good", auctiontest.Bid("g1", "1", 2.00)),
				auctiontest.Hang("hang"),
				auctiontest.Hang("hang-own-timeout"),
				auctiontest.Fixed("slow", auctiontest.Bid("s1", "1", 9.00)).WithLatency(time.Second),
				auctiontest.Panic("panic", "kaboom"),
				auctiontest.Error("error", errors.New("boom")),
				auctiontest.NoBid("nobid"),
			),
			gavel.WithBidderTimeout("hang-own-timeout", 15*time.Millisecond),
		)
		res, _ := timedRun(t, context.Background(), a, bannerRequest("r1", 100))
		assert.Equal(t, "good", winnerOf(t, res, "1").Bidder)
		// Once Run has returned, its bidders' goroutines only have to end:
		// nothing they wait for is left. Wait lets them.
		synctest.Wait()
		goleak.VerifyNone(t, ignore)

		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(5*time.Millisecond, cancel)
		_, err := a.Run(ctx, bannerRequest("r2", 500))
		require.ErrorIs(t, err, context.Canceled)
		synctest.Wait()
		goleak.VerifyNone(t, ignore)
	})
}

func TestRunConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := mustAuction(t, gavel.WithBidders(
			echoBidder("echo", 3.00),
			auctiontest.Fixed("second", auctiontest.Bid("s1", "1", 2.00)),
			auctiontest.Hang("hang"),
			auctiontest.Fixed("slow", auctiontest.Bid("x1", "1", 10.00)).WithLatency(5*time.Second),
			auctiontest.Panic("panic", "kaboom"),
			auctiontest.Error("error", errors.New("boom")),
			auctiontest.NoBid("nobid"),
		))
		// Half the auctions wait for the hanging bidders until the fan-out
		// ends; the other half leave them out and end as soon as the quick
		// bidders have answered.
		const goroutines, perGoroutine = 50, 2
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for k := range perGoroutine {
					id := fmt.Sprintf("c-%d-%d", g, k)
					req := bannerRequest(id, 500)
					wantSlow, wait := gavel.StatusTimeout, true
					if (g+k)%2 == 1 {
						req.BSeat = []string{"hang", "slow"}
						wantSlow, wait = gavel.StatusSeatBlocked, false
					}
					res, took := timedRun(t, context.Background(), a, req)
					assert.Equal(t, id, res.AuctionID)
					if wait {
						assert.Equal(t, res.FanoutEnd.Sub(res.Start), took, id)
					} else {
						assert.Zero(t, took, id)
					}
					w := res.Winner("1")
					if !assert.NotNil(t, w, id) {
						continue
					}
					assert.Equal(t, "echo-"+id, w.Bid.ID)
					assert.Equal(t, int64(2_010_000), w.ClearMicros, id)
					assert.Len(t, res.Bids, 2, id)
					assert.Equal(t, map[string]gavel.BidderStatus{
						"echo": gavel.StatusBid, "second": gavel.StatusBid, "hang": wantSlow, "slow": wantSlow,
						"panic": gavel.StatusError, "error": gavel.StatusError, "nobid": gavel.StatusNoBid,
					}, statusesOf(res), id)
				}
			})
		}
		wg.Wait()
	})
}

func TestRunDoesNotModifyRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		req, err := auctiontest.LoadRequest("testdata/bidrequest-3imp.json")
		require.NoError(t, err)
		req.TMax = 300
		before, err := json.Marshal(req)
		require.NoError(t, err)
		imps := req.Imp

		// Bidders must not keep the request after Bid returns, so each
		// reports what it saw from within Bid.
		type sight struct {
			same bool
			id   string
			imps int
		}
		seen := make(chan sight, 3)
		peek := func(name string) gavel.Bidder {
			return gavel.BidderFunc(name, func(_ context.Context, r *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
				seen <- sight{same: r == req, id: r.ID, imps: len(r.Imp)}
				return auctiontest.Response(r.ID, name, auctiontest.Bid(name+"-1", "2", 1.50)), nil
			})
		}
		a := mustAuction(t,
			gavel.WithBidders(peek("a"), peek("b"), peek("c")),
			gavel.WithBidderTimeout("b", 30*time.Millisecond),
			gavel.WithBidderTimeout("c", 40*time.Millisecond),
		)
		res, _ := timedRun(t, context.Background(), a, req)
		require.True(t, res.HasWinner())

		after, err := json.Marshal(req)
		require.NoError(t, err)
		assert.JSONEq(t, string(before), string(after))
		assert.Equal(t, int64(300), req.TMax)
		assert.Same(t, &imps[0], &req.Imp[0])
		close(seen)
		n := 0
		for s := range seen {
			assert.False(t, s.same, "bidders get a copy of the request")
			assert.Equal(t, sight{id: req.ID, imps: 3}, s)
			n++
		}
		assert.Equal(t, 3, n)
	})
}

// TestRoundsAreReusedSafely checks that a bidder answering after Run
// returned does not write into a later auction: rounds are pooled, and a
// round goes back to the pool only when its late bidders are done.
func TestRoundsAreReusedSafely(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		released := sync.OnceFunc(func() { close(release) })
		t.Cleanup(released)

		// late blocks in the first auction, ignoring its ctx, and then
		// answers with the best bid there is, for the request it still holds.
		lateSaw := make(chan string, 1)
		late := gavel.BidderFunc("late", func(_ context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
			if req.ID != "first" {
				return nil, nil
			}
			<-release
			lateSaw <- req.ID
			return auctiontest.Response(req.ID, "late", auctiontest.Bid("late-"+req.ID, "1", 50.00)), nil
		})
		a := mustAuction(t, gavel.WithBidders(
			echoBidder("echo", 3.00), late, auctiontest.Stuck("stuck", release),
			auctiontest.Fixed("second", auctiontest.Bid("s1", "1", 2.00)),
		))

		var mu sync.Mutex
		var results []*gavel.Result
		run := func(id string) {
			res, _ := timedRun(t, context.Background(), a, bannerRequest(id, 200))
			mu.Lock()
			results = append(results, res)
			mu.Unlock()
		}

		run("first")
		require.Equal(t, gavel.StatusTimeout, bidderResultOf(t, results[0], "late").Status)
		require.Equal(t, gavel.StatusTimeout, bidderResultOf(t, results[0], "stuck").Status)

		// Auctions 2..41 on 8 goroutines; the stuck bidders are let go
		// while they run, once the first eight have started.
		ids := make(chan string)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for id := range ids {
					run(id)
				}
			})
		}
		for i := range 40 {
			if i == 8 {
				released()
			}
			ids <- fmt.Sprint("mid-", i)
		}
		close(ids)
		wg.Wait()
		for i := range 20 {
			run(fmt.Sprint("after-", i))
		}
		assert.Equal(t, "first", <-lateSaw, "the late bidder's request copy stayed intact")

		require.Len(t, results, 61)
		for _, res := range results {
			w := res.Winner("1")
			if !assert.NotNil(t, w, res.AuctionID) {
				continue
			}
			assert.Equal(t, "echo-"+res.AuctionID, w.Bid.ID)
			assert.Equal(t, int64(2_010_000), w.ClearMicros, res.AuctionID)
			for _, b := range res.Bids {
				assert.NotEqual(t, "late", b.Bidder, "late bid in %s", res.AuctionID)
			}
			assert.NotEqual(t, gavel.StatusBid, bidderResultOf(t, res, "late").Status, res.AuctionID)
		}
	})
}

// TestBidderContextOutlivesTheCall checks that the context a bidder got
// stays a valid, done context after Run returned and its round went back to
// the pool: a bidder (or a transport, or a child context's timer) may still
// look at it. It used to point into the pooled round, which was cleared and
// reused: ctx.Err() panicked, and reading it raced with the next auction.
func TestBidderContextOutlivesTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kept := make(chan context.Context, 2)
		keep := func(name string) gavel.Bidder {
			return gavel.BidderFunc(name, func(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
				if req.ID == "first" {
					kept <- ctx
				}
				return auctiontest.Response(req.ID, name, auctiontest.Bid(name+"-1", "1", 2.00)), nil
			})
		}
		a := mustAuction(t,
			gavel.WithBidders(keep("a"), keep("b")),
			gavel.WithBidderTimeout("b", 40*time.Millisecond), // b gets a context of its own
		)
		timedRun(t, context.Background(), a, bannerRequest("first", 200))
		close(kept)

		var wg sync.WaitGroup
		wg.Go(func() { // later auctions reuse the round meanwhile
			for i := range 20 {
				_, err := a.Run(context.Background(), bannerRequest(fmt.Sprint("later-", i), 200))
				assert.NoError(t, err)
			}
		})
		for ctx := range kept {
			for range 100 {
				select {
				case <-ctx.Done():
				default:
					assert.Fail(t, "the context of a finished auction is not done")
				}
				assert.Error(t, ctx.Err())
				_, ok := ctx.Deadline()
				assert.True(t, ok)
			}
		}
		wg.Wait()
	})
}

func TestRunReturnsByDeadlineWhateverBiddersDo(t *testing.T) {
	tests := []struct {
		name string
		bad  func(t *testing.T) gavel.Bidder
		want gavel.BidderStatus
		wait bool // Run must wait for the deadline
	}{
		{"hang", func(*testing.T) gavel.Bidder { return auctiontest.Hang("bad") }, gavel.StatusTimeout, true},
		{"slow", func(*testing.T) gavel.Bidder {
			return auctiontest.Fixed("bad", auctiontest.Bid("x", "1", 9.00)).WithLatency(time.Second)
		}, gavel.StatusTimeout, true},
		{"ignores ctx", func(t *testing.T) gavel.Bidder { return auctiontest.Stuck("bad", stuckRelease(t)) }, gavel.StatusTimeout, true},
		{"panics", func(*testing.T) gavel.Bidder { return auctiontest.Panic("bad", "kaboom") }, gavel.StatusError, false},
		{"panics late", func(*testing.T) gavel.Bidder {
			return auctiontest.Panic("bad", "kaboom").WithLatency(10 * time.Millisecond)
		}, gavel.StatusError, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := mustAuction(t, gavel.WithBidders(
					auctiontest.Fixed("good", auctiontest.Bid("g1", "1", 2.00)),
					tt.bad(t),
				))
				res, took := timedRun(t, context.Background(), a, bannerRequest("r1", 150))

				assert.Equal(t, 145*time.Millisecond, res.Deadline.Sub(res.Start), "tmax 150ms less the 5ms reserve")
				if tt.wait {
					assert.Equal(t, res.FanoutEnd.Sub(res.Start), took, "Run returns when the fan-out ends")
				}
				w := winnerOf(t, res, "1") // the bid that arrived in time wins
				assert.Equal(t, "good", w.Bidder)
				assert.Equal(t, int64(1_010_000), w.ClearMicros, "floor plus the increment")
				assert.Equal(t, map[string]gavel.BidderStatus{"good": gavel.StatusBid, "bad": tt.want}, statusesOf(res))
				bad := bidderResultOf(t, res, "bad")
				assert.Zero(t, bad.Bids)
				if tt.want == gavel.StatusTimeout {
					assert.ErrorIs(t, bad.Err, gavel.ErrBidderTimeout)
				}
			})
		})
	}
}

func TestBidderTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		short, capped, all := auctiontest.Hang("short"), auctiontest.Hang("capped"), auctiontest.Hang("all")
		a := mustAuction(t,
			gavel.WithBidders(short, capped, all, auctiontest.Fixed("good", auctiontest.Bid("g1", "1", 2.00))),
			gavel.WithAllBiddersTimeout(15*time.Millisecond),
			gavel.WithBidderTimeout("short", 20*time.Millisecond),
			gavel.WithBidderTimeout("capped", 10*time.Second),
			gavel.WithBidderTimeout("good", 10*time.Second),
		)
		res, _ := timedRun(t, context.Background(), a, bannerRequest("r1", 150))
		fanout := res.FanoutEnd.Sub(res.Start)

		tests := []struct {
			b       *auctiontest.Bidder
			timeout time.Duration // the time the bidder has
		}{
			{short, 20 * time.Millisecond}, // its own timeout
			{all, 15 * time.Millisecond},   // the timeout of all bidders
			{capped, fanout},               // its own, capped by the fan-out deadline
		}
		for _, tt := range tests {
			name := tt.b.Name()
			dl, ok := tt.b.LastDeadline()
			require.True(t, ok, name)
			br := bidderResultOf(t, res, name)
			assert.Equal(t, tt.timeout.Milliseconds(), tt.b.LastRequest().TMax, "%s: tmax is the time the bidder has", name)
			assert.Equal(t, tt.b.LastRequest().TMax, br.TMax, "%s: Result reports the tmax the bidder was sent", name)
			assert.Equal(t, tt.timeout, dl.Sub(res.Start), "%s: the bidder's ctx carries the deadline its tmax tells", name)
			assert.Equal(t, gavel.StatusTimeout, br.Status, name)
			assert.ErrorIs(t, br.Err, gavel.ErrBidderTimeout, name)
		}
		assert.Equal(t, "good", winnerOf(t, res, "1").Bidder)
	})
}
