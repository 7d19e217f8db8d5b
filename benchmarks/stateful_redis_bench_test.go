package benchmarks_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelredis"
	"github.com/gavelrtb/gavel/benchmarks"
)

// BenchmarkRunRedisLedger measures what the strict Redis ledger
// (gavelredis.Ledger on the local Redis) adds to an auction of 8 bidders x
// 3 imps with prebuilt responses: Run reserves the 3 winners' costs, each
// on its bidder's account, and nothing else is stateful, so the difference
// with RunStateful/state=off is the ledger's. With batch=on, Run reserves
// the 3 in one ReserveBatch, one round trip; with batch=off, the ledger is
// behind a wrapper that hides gavel.BatchLedger, as a ledger without the
// capability is, and Run calls Reserve once per imp, one round trip each.
// Both keep the balance cache (gavel.BalanceCache) that leaves out bidders
// who cannot pay, which costs no round trip.
//
// rt/op counts the calls the ledger makes to Redis per auction (a DoMulti
// is one round trip), the background refresh of the balances included.
// The holds are left in Redis (billing would commit them later, with a
// round trip each, outside the auction); after the loop Redis must hold
// exactly the costs of every auction run as reserved.
func BenchmarkRunRedisLedger(b *testing.B) {
	for _, batch := range []bool{false, true} {
		name := "batch=off"
		if batch {
			name = "batch=on"
		}
		b.Run(name+"/bidders=8/imps=3", func(b *testing.B) {
			f := newFixture(b, 8, 3)
			c := &roundTrips{Client: redisClient(b, false)}
			prefix := redisPrefix(b, c, func(p string) string { return "{" + p + ":*" })
			l, err := gavelredis.NewLedger(c, gavelredis.WithKeyPrefix(prefix))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { l.Close(context.Background()) })
			ctx := context.Background()
			for _, acct := range f.Names {
				if err := l.SetBudget(ctx, gavel.Budget{Account: acct, Amount: gavelredis.MaxAmount}); err != nil {
					b.Fatal(err)
				}
			}
			var ledger gavel.Ledger = l
			if !batch {
				ledger = unbatched{Ledger: l, BalanceCache: l}
			}
			a, err := gavel.New(append(f.Options(f.Bidders()), gavel.WithLedger(ledger))...)
			if err != nil {
				b.Fatal(err)
			}
			reserved := map[string]int64{} // per account, by one auction
			res := runReserved(b, a, f)
			if err := f.Check(res); err != nil {
				b.Fatal(err)
			}
			for _, ir := range res.Imps {
				reserved[ir.Hold.Account] += ir.Hold.Amount
			}
			runs := int64(1)
			b.ReportAllocs()
			trips := c.n.Load()
			cpu := startCPU()
			for b.Loop() {
				runReserved(b, a, f)
				runs++
			}
			cpu.report(b)
			b.ReportMetric(float64(c.n.Load()-trips)/float64(b.N), "rt/op")
			checkReserved(b, l, reserved, runs)
		})
	}
}

// runReserved runs one auction and fails b unless each imp has a winner
// whose hold is reserved.
func runReserved(b *testing.B, a *gavel.Auction, f *benchmarks.Fixture) *gavel.Result {
	res, err := a.Run(context.Background(), f.Request)
	if err != nil {
		b.Fatal(err)
	}
	for _, ir := range res.Imps {
		if ir.Hold.ID == 0 {
			b.Fatalf("imp %s: no hold: %+v", ir.ImpID, res.Bids)
		}
	}
	return res
}

// checkReserved fails b unless Redis holds, reserved on each account, what
// one auction reserved on it (reserved) times the auctions run.
func checkReserved(b *testing.B, l *gavelredis.Ledger, reserved map[string]int64, runs int64) {
	b.Helper()
	for acct, amount := range reserved {
		bal, err := l.Balance(context.Background(), acct)
		if err != nil {
			b.Fatal(err)
		}
		if bal.Reserved != runs*amount || bal.Committed != 0 {
			b.Fatalf("account %s: reserved %d and committed %d after %d auctions, want %d and 0",
				acct, bal.Reserved, bal.Committed, runs, runs*amount)
		}
	}
}

// unbatched is a Ledger that hides the gavel.BatchLedger capability of the
// ledger it wraps, and keeps its balance cache.
type unbatched struct {
	gavel.Ledger
	gavel.BalanceCache
}

// roundTrips is a rueidis.Client that counts the round trips made through
// it: each Do and each DoMulti (whose commands go together) is one.
type roundTrips struct {
	rueidis.Client
	n atomic.Int64
}

func (c *roundTrips) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	c.n.Add(1)
	return c.Client.Do(ctx, cmd)
}

func (c *roundTrips) DoMulti(ctx context.Context, cmds ...rueidis.Completed) []rueidis.RedisResult {
	c.n.Add(1)
	return c.Client.DoMulti(ctx, cmds...)
}
