package gavel_test

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
)

// BenchmarkLedger measures a reservation and its end (commit or release)
// on a MemoryLedger: from one goroutine, and from GOMAXPROCS goroutines on
// one account (one lock) or spread over many. After the loop it checks that
// every iteration reserved and billed what it should have.
func BenchmarkLedger(b *testing.B) {
	const amount, actual = 1_000, 700
	for _, op := range []string{"reserve+commit", "reserve+release"} {
		billed := int64(actual)
		if op == "reserve+release" {
			billed = 0
		}
		// once reserves and ends one hold on account.
		once := func(l gavel.Ledger, account string) error {
			ctx := context.Background()
			h, err := l.Reserve(ctx, account, amount, time.Minute)
			switch {
			case err != nil:
				return err
			case billed == 0:
				return l.Release(ctx, h)
			}
			return l.Commit(ctx, h, billed)
		}

		b.Run("op="+op+"/mode=sequential", func(b *testing.B) {
			l, accounts := benchLedger(b, 1)
			b.ReportAllocs()
			ops := int64(0)
			for b.Loop() {
				if err := once(l, accounts[0]); err != nil {
					b.Fatal(err)
				}
				ops++
			}
			checkBilled(b, l, accounts, ops, ops*billed)
		})

		for _, n := range []int{1, 1024} {
			b.Run(fmt.Sprintf("op=%s/mode=parallel/accounts=%d", op, n), func(b *testing.B) {
				l, accounts := benchLedger(b, n)
				var ops, next atomic.Int64
				b.ReportAllocs()
				b.ResetTimer() // not the setup
				b.RunParallel(func(pb *testing.PB) {
					i, done := int(next.Add(1))*7919, int64(0) // each goroutine starts elsewhere
					defer func() { ops.Add(done) }()
					for pb.Next() {
						if err := once(l, accounts[i%len(accounts)]); err != nil {
							b.Error(err) // not Fatal: this is not the benchmark's goroutine
							return
						}
						i++
						done++
					}
				})
				if ops.Load() != int64(b.N) {
					b.Fatalf("%d operations, want b.N = %d", ops.Load(), b.N)
				}
				checkBilled(b, l, accounts, ops.Load(), ops.Load()*billed)
			})
		}
	}
}

// benchLedger returns a ledger with n accounts whose budgets outlast any
// benchmark.
func benchLedger(b *testing.B, n int) (*gavel.MemoryLedger, []string) {
	l := must(gavel.NewMemoryLedger())
	accounts := make([]string, n)
	for i := range accounts {
		accounts[i] = fmt.Sprint("account-", i)
		if err := l.SetBudget(b.Context(), gavel.Budget{Account: accounts[i], Amount: math.MaxInt64 / 2}); err != nil {
			b.Fatal(err)
		}
	}
	return l, accounts
}

// checkBilled fails b unless ops operations ran and the accounts hold
// billed in total, with nothing left reserved.
func checkBilled(b *testing.B, l *gavel.MemoryLedger, accounts []string, ops, billed int64) {
	b.Helper()
	if ops == 0 {
		b.Fatal("no operation ran")
	}
	var committed, reserved int64
	for _, a := range accounts {
		bal, err := l.Balance(context.Background(), a)
		if err != nil {
			b.Fatal(err)
		}
		committed += bal.Committed
		reserved += bal.Reserved
	}
	if committed != billed || reserved != 0 {
		b.Fatalf("committed %d, reserved %d after %d operations; want %d and 0", committed, reserved, ops, billed)
	}
}
