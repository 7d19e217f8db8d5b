package gavel_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata" // the zone tests must not depend on the machine's zoneinfo

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

func loadLocation(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func balanceOf(t testing.TB, l *gavel.MemoryLedger, account string) gavel.Balance {
	t.Helper()
	b, err := l.Balance(context.Background(), account)
	require.NoError(t, err)
	return b
}

func requireConsistent(t testing.TB, l *gavel.MemoryLedger) {
	t.Helper()
	require.NoError(t, gavel.CheckLedger(l))
}

func TestPeriodStartNext(t *testing.T) {
	ny := loadLocation(t, "America/New_York")
	kolkata := loadLocation(t, "Asia/Kolkata")
	berlin := loadLocation(t, "Europe/Berlin")
	havana := loadLocation(t, "America/Havana")
	date := func(loc *time.Location, y int, m time.Month, d, hh, mm int) time.Time {
		return time.Date(y, m, d, hh, mm, 0, 0, loc)
	}
	utc := func(y int, m time.Month, d, hh, mm int) time.Time { return date(time.UTC, y, m, d, hh, mm) }
	tests := []struct {
		name        string
		period      gavel.Period
		t           time.Time
		start, next time.Time // both in UTC: the instants are what counts
	}{
		{"total", gavel.Period{}, utc(2026, 5, 5, 13, 0), time.Time{}, time.Time{}},
		{"total ignores zone", gavel.Period{Location: ny, Reset: time.Hour}, utc(2026, 5, 5, 13, 0), time.Time{}, time.Time{}},
		{"nil location is utc", gavel.DailyPeriod(nil, 0), utc(2026, 5, 5, 13, 0), utc(2026, 5, 5, 0, 0), utc(2026, 5, 6, 0, 0)},
		{"exactly at the start", gavel.DailyPeriod(nil, 0), utc(2026, 5, 5, 0, 0), utc(2026, 5, 5, 0, 0), utc(2026, 5, 6, 0, 0)},
		{"year end", gavel.DailyPeriod(time.UTC, 0), utc(2026, 12, 31, 23, 59), utc(2026, 12, 31, 0, 0), utc(2027, 1, 1, 0, 0)},
		{"before reset: yesterday's period", gavel.DailyPeriod(time.UTC, 23*time.Hour), utc(2026, 1, 1, 22, 0), utc(2025, 12, 31, 23, 0), utc(2026, 1, 1, 23, 0)},
		{"reset past 24h wraps", gavel.Period{Daily: true, Reset: 25 * time.Hour}, utc(2026, 5, 5, 13, 0), utc(2026, 5, 5, 1, 0), utc(2026, 5, 6, 1, 0)},
		{"negative reset wraps", gavel.Period{Daily: true, Reset: -time.Hour}, utc(2026, 5, 5, 13, 0), utc(2026, 5, 4, 23, 0), utc(2026, 5, 5, 23, 0)},
		{"half-hour zone", gavel.DailyPeriod(kolkata, 0), utc(2026, 5, 5, 20, 0), utc(2026, 5, 5, 18, 30), utc(2026, 5, 6, 18, 30)},
		{"new york ordinary day", gavel.DailyPeriod(ny, 6*time.Hour), date(ny, 2026, 5, 5, 12, 0), utc(2026, 5, 5, 10, 0), utc(2026, 5, 6, 10, 0)},
		// 2026-03-08: clocks go from 02:00 EST to 03:00 EDT, the day has 23 hours.
		{"spring forward: day before, 23h", gavel.DailyPeriod(ny, 6*time.Hour), date(ny, 2026, 3, 8, 5, 0), utc(2026, 3, 7, 11, 0), utc(2026, 3, 8, 10, 0)},
		{"spring forward: day of", gavel.DailyPeriod(ny, 6*time.Hour), date(ny, 2026, 3, 8, 10, 0), utc(2026, 3, 8, 10, 0), utc(2026, 3, 9, 10, 0)},
		{"spring forward: skipped reset starts at the change", gavel.DailyPeriod(ny, 2*time.Hour+30*time.Minute), date(ny, 2026, 3, 8, 12, 0), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)},
		{"spring forward: just before the change", gavel.DailyPeriod(ny, 2*time.Hour+30*time.Minute), date(ny, 2026, 3, 8, 1, 59), utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0)},
		// 2026-03-29: Berlin goes from 02:00 CET to 03:00 CEST (time.Date reads
		// the skipped 02:30 as 03:30 there, where New York reads it as 01:30).
		{"berlin: skipped reset starts at the change", gavel.DailyPeriod(berlin, 2*time.Hour+30*time.Minute), date(berlin, 2026, 3, 29, 12, 0), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)},
		// 2026-03-08: Havana goes from 00:00 CST to 01:00 CDT, midnight does not exist.
		{"havana: skipped midnight, day before", gavel.DailyPeriod(havana, 0), date(havana, 2026, 3, 7, 12, 0), utc(2026, 3, 7, 5, 0), utc(2026, 3, 8, 5, 0)},
		{"havana: skipped midnight, day of", gavel.DailyPeriod(havana, 0), date(havana, 2026, 3, 8, 12, 0), utc(2026, 3, 8, 5, 0), utc(2026, 3, 9, 4, 0)},
		// 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST, the day has 25 hours.
		{"fall back: 24h after the start is still the same day", gavel.DailyPeriod(ny, 6*time.Hour), utc(2026, 11, 1, 10, 30), utc(2026, 10, 31, 10, 0), utc(2026, 11, 1, 11, 0)},
		{"fall back: day of", gavel.DailyPeriod(ny, 6*time.Hour), utc(2026, 11, 1, 11, 0), utc(2026, 11, 1, 11, 0), utc(2026, 11, 2, 11, 0)},
		{"fall back: repeated reset starts at its first occurrence", gavel.DailyPeriod(ny, time.Hour+30*time.Minute), utc(2026, 11, 1, 6, 0), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, next := tt.period.Start(tt.t), tt.period.Next(tt.t)
			assert.Truef(t, start.Equal(tt.start), "Start = %v, want %v", start, tt.start.In(start.Location()))
			assert.Truef(t, next.Equal(tt.next), "Next = %v, want %v", next, tt.next.In(next.Location()))
			if tt.period.Daily {
				assert.False(t, tt.t.Before(start), "t before its period's start")
				assert.True(t, tt.t.Before(next), "t not before the next period")
				assert.Truef(t, tt.period.Start(next).Equal(next), "Start(Next(t)) = %v", tt.period.Start(next))
				assert.Truef(t, tt.period.Start(next.Add(-time.Nanosecond)).Equal(start), "periods do not tile")
			}
		})
	}
}

func TestLedgerExpiry(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC)
	clk := auctiontest.NewClock(t0)
	// One shard: the holds of both accounts share one heap.
	l := must(gavel.NewMemoryLedger(gavel.WithLedgerClock(clk), gavel.WithLedgerShards(1)))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "b", Amount: 1_000}))

	reserve := func(account string, amount int64, ttl time.Duration) gavel.Hold {
		h, err := l.Reserve(ctx, account, amount, ttl)
		require.NoError(t, err)
		if ttl < time.Hour {
			assert.Equal(t, clk.Now().Add(ttl), h.Expires)
		}
		return h
	}
	h1 := reserve("a", 100, 1*time.Second)
	h3 := reserve("a", 300, 3*time.Second)
	h2 := reserve("a", 200, 2*time.Second)
	hb := reserve("b", 50, 2*time.Second)
	h4 := reserve("a", 400, 4*time.Second)
	reserved := func() [2]int64 {
		return [2]int64{balanceOf(t, l, "a").Reserved, balanceOf(t, l, "b").Reserved}
	}
	assert.Equal(t, [2]int64{1_000, 50}, reserved())
	_, err := l.Reserve(ctx, "a", 1, time.Second)
	require.ErrorIs(t, err, gavel.ErrBudgetExhausted)

	clk.Advance(time.Second - time.Nanosecond)
	assert.Equal(t, [2]int64{1_000, 50}, reserved(), "nothing expires before its time")
	clk.Advance(time.Nanosecond)
	assert.Equal(t, [2]int64{900, 50}, reserved(), "h1 returns exactly at its expiry")
	require.ErrorIs(t, l.Commit(ctx, h1, 100), gavel.ErrHoldNotFound)
	require.ErrorIs(t, l.Release(ctx, h1), gavel.ErrHoldNotFound)

	h5 := reserve("a", 100, 10*time.Second) // the money of h1 is there again
	require.NoError(t, l.Release(ctx, h3))  // ends early: leaves the heap
	assert.Equal(t, [2]int64{700, 50}, reserved())

	clk.Advance(time.Second)
	assert.Equal(t, [2]int64{500, 0}, reserved(), "h2 and hb expire together")
	require.ErrorIs(t, l.Commit(ctx, hb, 1), gavel.ErrHoldNotFound)
	require.ErrorIs(t, l.Commit(ctx, h2, 1), gavel.ErrHoldNotFound)
	require.NoError(t, l.Commit(ctx, h4, 150), "h4 still lives")
	assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 150, Reserved: 100}, balanceOf(t, l, "a"))

	clk.Advance(time.Hour)
	assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 150}, balanceOf(t, l, "a"))
	require.ErrorIs(t, l.Release(ctx, h5), gavel.ErrHoldNotFound)

	// A huge ttl saturates at the end of UnixNano time instead of wrapping around.
	huge := reserve("b", 1, time.Duration(math.MaxInt64))
	assert.Equal(t, time.Unix(0, math.MaxInt64).UTC(), huge.Expires)
	clk.Advance(1000 * time.Hour)
	assert.Equal(t, int64(1), balanceOf(t, l, "b").Reserved)
	requireConsistent(t, l)
}

// TestLedgerSemantics runs the Ledger conformance tests of auctiontest on
// the MemoryLedger, with its invariants checked when each ends.
func TestLedgerSemantics(t *testing.T) {
	auctiontest.TestLedger(t, func(t *testing.T) auctiontest.LedgerUnderTest {
		clk := auctiontest.NewClock(time.Now())
		l := must(gavel.NewMemoryLedger(gavel.WithLedgerClock(clk)))
		require.NoError(t, l.SetBudget(t.Context(), gavel.Budget{Account: "a", Amount: 1_000}))
		require.NoError(t, l.SetBudget(t.Context(), gavel.Budget{Account: "b", Amount: 1_000}))
		require.NoError(t, l.SetBudget(t.Context(), gavel.Budget{Account: "many", Amount: 200_000}))
		return auctiontest.LedgerUnderTest{
			Ledger: l,
			Balance: func(t testing.TB, account string) gavel.Balance {
				b, err := l.Balance(context.Background(), account)
				assert.NoError(t, err) // read from other goroutines too
				return b
			},
			Settle: func(t testing.TB, account string) gavel.Balance {
				requireConsistent(t, l)
				return balanceOf(t, l, account)
			},
			SetBudget: l.SetBudget,
			Clock:     clk,
		}
	},
		func(id uint64) uint64 { return id + 1<<32 }, // another generation
		func(id uint64) uint64 { return id + 1<<20 }, // another slot
		func(id uint64) uint64 { return id ^ 1 },     // another shard
	)
}

func TestLedgerShardsAndIDs(t *testing.T) {
	for _, shards := range []int{1, 4, 64, gavel.MaxLedgerShards} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			ctx := context.Background()
			l := must(gavel.NewMemoryLedger(gavel.WithLedgerShards(shards)))
			const accounts, holds = 200, 5
			ids := make(map[uint64]bool)
			var all []gavel.Hold
			for a := range accounts {
				name := fmt.Sprint("acct-", a)
				require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: name, Amount: holds * 100}))
				for range holds {
					h, err := l.Reserve(ctx, name, 100, time.Minute)
					require.NoError(t, err)
					require.False(t, ids[h.ID], "hold ID %#x given twice", h.ID)
					require.Less(t, h.ID, uint64(1)<<63, "the top bit is left to wrappers")
					ids[h.ID] = true
					all = append(all, h)
				}
			}
			requireConsistent(t, l)
			for i, h := range all {
				if i%holds%2 == 0 { // 3 of each account's 5 holds
					require.NoError(t, l.Commit(ctx, h, 40))
				} else {
					require.NoError(t, l.Release(ctx, h))
				}
			}
			requireConsistent(t, l)
			for a := range accounts {
				assert.Equal(t, gavel.Balance{Budget: holds * 100, Committed: 40 * 3}, balanceOf(t, l, fmt.Sprint("acct-", a)))
			}
		})
	}
}

func TestNewMemoryLedgerRefusesBadOptions(t *testing.T) {
	l, err := gavel.NewMemoryLedger(gavel.WithLedgerShards(0), gavel.WithLedgerShards(3),
		gavel.WithLedgerShards(2*gavel.MaxLedgerShards), gavel.WithLedgerClock(nil))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	assert.Nil(t, l)
	for _, want := range []string{"got 0", "got 3", fmt.Sprint("got ", 2*gavel.MaxLedgerShards), "clock must not be nil"} {
		assert.Contains(t, err.Error(), want)
	}
}

// TestLedgerMatchesModel runs random operations against the ledger and a
// plain model of it, with a clock that moves in random steps, and compares
// them after every step.
func TestLedgerMatchesModel(t *testing.T) {
	for _, shards := range []int{1, 4} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, uint64(shards)))
			clk := auctiontest.NewClock(time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC))
			l := must(gavel.NewMemoryLedger(gavel.WithLedgerClock(clk), gavel.WithLedgerShards(shards)))
			accounts := []string{"a", "b", "c", "d", "e"}
			type acct struct{ budget, committed, reserved int64 }
			model := map[string]*acct{}
			for _, a := range accounts {
				model[a] = &acct{budget: 500}
				require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: a, Amount: 500}))
			}
			var live []gavel.Hold
			type endedHold struct {
				gavel.Hold
				how error // nil: it expired; else the error of a Commit (ErrHoldReleased) or Release (ErrHoldCommitted) now
			}
			var ended []endedHold
			end := func(i int, how error) { // ends live[i]
				ended = append(ended, endedHold{live[i], how})
				live[i] = live[len(live)-1]
				live = live[:len(live)-1]
			}
			pick := func() (h gavel.Hold, liveIndex int, e endedHold) {
				if len(live) > 0 && rng.IntN(4) > 0 {
					i := rng.IntN(len(live))
					return live[i], i, e
				}
				if len(ended) > 0 {
					e = ended[rng.IntN(len(ended))]
					return e.Hold, -1, e
				}
				return gavel.Hold{Account: "a", ID: 1, Amount: 1}, -1, endedHold{Hold: gavel.Hold{Account: "a", ID: 1, Amount: 1}}
			}
			advance := func(d time.Duration) {
				clk.Advance(d)
				now := clk.Now()
				for i := len(live) - 1; i >= 0; i-- {
					if h := live[i]; !now.Before(h.Expires) {
						model[h.Account].reserved -= h.Amount
						end(i, nil)
					}
				}
			}
			for step := range 2_000 {
				switch op := rng.IntN(10); {
				case op < 4:
					a := accounts[rng.IntN(len(accounts))]
					amount := rng.Int64N(100) + 1
					ttl := time.Duration(rng.IntN(20)+1) * 100 * time.Millisecond
					h, err := l.Reserve(ctx, a, amount, ttl)
					if m := model[a]; m.committed+m.reserved+amount > m.budget {
						require.ErrorIs(t, err, gavel.ErrBudgetExhausted, "step %d", step)
						break
					}
					require.NoError(t, err, "step %d", step)
					for _, o := range live {
						require.NotEqual(t, o.ID, h.ID, "step %d: hold ID given twice", step)
					}
					model[a].reserved += amount
					live = append(live, h)
				case op < 6:
					h, i, e := pick()
					actual := rng.Int64N(h.Amount + 2) // now and then one too many
					err := l.Commit(ctx, h, actual)
					switch {
					case i < 0:
						requireErr(t, wantEnded(e.how, e.Expires, clk.Now(), true), err, "step %d", step)
					case actual > h.Amount:
						require.ErrorIs(t, err, gavel.ErrCommitExceedsHold, "step %d", step)
					default:
						require.NoError(t, err, "step %d", step)
						model[h.Account].reserved -= h.Amount
						model[h.Account].committed += actual
						end(i, gavel.ErrHoldCommitted)
					}
				case op < 8:
					h, i, e := pick()
					err := l.Release(ctx, h)
					if i < 0 {
						requireErr(t, wantEnded(e.how, e.Expires, clk.Now(), false), err, "step %d", step)
						break
					}
					require.NoError(t, err, "step %d", step)
					model[h.Account].reserved -= h.Amount
					end(i, gavel.ErrHoldReleased)
				default:
					advance(time.Duration(rng.IntN(300)) * time.Millisecond)
				}
				requireConsistent(t, l)
				for _, a := range accounts {
					m := model[a]
					require.Equal(t, gavel.Balance{Budget: m.budget, Committed: m.committed, Reserved: m.reserved},
						balanceOf(t, l, a), "step %d, account %s", step, a)
				}
			}
		})
	}
}

func TestLedgerHotPathAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates for its own bookkeeping, so allocation counts mean nothing under -race")
	}
	ctx := context.Background()
	ml := must(gavel.NewMemoryLedger())
	require.NoError(t, ml.SetBudget(ctx, gavel.Budget{Account: "rich", Amount: math.MaxInt64 / 2}))
	require.NoError(t, ml.SetBudget(ctx, gavel.Budget{Account: "daily", Amount: math.MaxInt64 / 2, Period: gavel.DailyPeriod(time.UTC, 0)}))
	require.NoError(t, ml.SetBudget(ctx, gavel.Budget{Account: "broke", Amount: 0}))
	var l gavel.Ledger = ml
	spent, err := l.Reserve(ctx, "rich", 1, time.Minute)
	require.NoError(t, err)
	require.NoError(t, l.Release(ctx, spent))

	tests := []struct {
		name string
		op   func()
	}{
		{"reserve+commit", func() {
			h, err := l.Reserve(ctx, "rich", 1_000, time.Minute)
			if err == nil {
				err = l.Commit(ctx, h, 700)
			}
			require.NoError(t, err)
		}},
		{"reserve+release", func() {
			h, err := l.Reserve(ctx, "rich", 1_000, time.Minute)
			if err == nil {
				err = l.Release(ctx, h)
			}
			require.NoError(t, err)
		}},
		{"reserve+commit daily", func() {
			h, err := l.Reserve(ctx, "daily", 1_000, time.Minute)
			if err == nil {
				err = l.Commit(ctx, h, 700)
			}
			require.NoError(t, err)
		}},
		{"exhausted", func() {
			_, err := l.Reserve(ctx, "broke", 1, time.Minute)
			require.ErrorIs(t, err, gavel.ErrBudgetExhausted)
		}},
		{"hold not found", func() {
			require.ErrorIs(t, l.Commit(ctx, spent, 1), gavel.ErrHoldNotFound)
		}},
		{"balance", func() {
			_, err := ml.Balance(ctx, "rich")
			require.NoError(t, err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Zero(t, testing.AllocsPerRun(1_000, tt.op))
		})
	}
	assert.Equal(t, int64(1_001*700), balanceOf(t, ml, "rich").Committed)
}

func TestLedgerTooManyHolds(t *testing.T) {
	ctx := context.Background()
	clk := auctiontest.NewClock(time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC))
	l := must(gavel.NewMemoryLedger(gavel.WithLedgerShards(1), gavel.WithLedgerClock(clk)))
	gavel.SetMaxHolds(l, 3)
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
	var holds []gavel.Hold
	for range 3 {
		h, err := l.Reserve(ctx, "a", 1, time.Minute)
		require.NoError(t, err)
		holds = append(holds, h)
	}
	_, err := l.Reserve(ctx, "a", 1, time.Minute)
	require.ErrorIs(t, err, gavel.ErrBudgetExhausted)
	assert.Equal(t, gavel.Balance{Budget: 1_000, Reserved: 3}, balanceOf(t, l, "a"))
	require.NoError(t, l.Release(ctx, holds[1]))
	_, err = l.Reserve(ctx, "a", 1, time.Minute)
	require.ErrorIs(t, err, gavel.ErrBudgetExhausted, "the tombstone keeps the record until the hold's expiry")
	require.NoError(t, l.Release(ctx, holds[1]), "a repeat")
	clk.Advance(time.Minute)
	h, err := l.Reserve(ctx, "a", 1, time.Minute)
	require.NoError(t, err)
	assert.NotEqual(t, holds[1].ID, h.ID, "a reused record gets a new ID")
	require.ErrorIs(t, l.Release(ctx, holds[1]), gavel.ErrHoldNotFound)
	requireConsistent(t, l)
}

// TestLedgerGenerationsWrap reuses a hold record past its last generation:
// the IDs stay below 2^63, a stale ID is not found, and the record's first
// ID comes back only after 2^31 reuses.
func TestLedgerGenerationsWrap(t *testing.T) {
	ctx := context.Background()
	clk := auctiontest.NewClock(time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC))
	l := must(gavel.NewMemoryLedger(gavel.WithLedgerShards(1), gavel.WithLedgerClock(clk)))
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1_000}))
	first, err := l.Reserve(ctx, "a", 10, time.Minute)
	require.NoError(t, err)
	require.NoError(t, l.Release(ctx, first))
	clk.Advance(time.Minute) // the tombstone goes: the record is free
	l.Outstanding()          // sweeps it

	gavel.AgeHolds(l, "a", 1<<31-1) // the record's last generation
	last, err := l.Reserve(ctx, "a", 10, time.Minute)
	require.NoError(t, err)
	assert.Less(t, last.ID, uint64(1)<<63)
	assert.NotEqual(t, first.ID, last.ID)
	require.NoError(t, l.Release(ctx, last))
	clk.Advance(time.Minute)

	next, err := l.Reserve(ctx, "a", 10, time.Minute)
	require.NoError(t, err)
	assert.Less(t, next.ID, uint64(1)<<63)
	assert.Equal(t, first.ID, next.ID, "after 2^31 reuses the record's first ID comes back")
	require.ErrorIs(t, l.Commit(ctx, last, 10), gavel.ErrHoldNotFound)
	require.NoError(t, l.Commit(ctx, next, 10))
	assert.Equal(t, gavel.Balance{Budget: 1_000, Committed: 10}, balanceOf(t, l, "a"))
	requireConsistent(t, l)
}

// TestLedgerOutstanding counts the holds of several accounts, over several
// shards, as they are reserved, end and expire.
func TestLedgerOutstanding(t *testing.T) {
	ctx := context.Background()
	clk := auctiontest.NewClock(time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC))
	l := must(gavel.NewMemoryLedger(gavel.WithLedgerClock(clk), gavel.WithLedgerShards(4)))
	assert.Zero(t, l.Outstanding(), "a new ledger")
	var holds []gavel.Hold
	for i := range 8 {
		name := fmt.Sprint("acct-", i)
		require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: name, Amount: 1_000}))
		for ttl := range 2 {
			h, err := l.Reserve(ctx, name, 100, time.Duration(ttl+1)*time.Second)
			require.NoError(t, err)
			holds = append(holds, h)
		}
	}
	assert.Equal(t, 16, l.Outstanding())
	require.NoError(t, l.Commit(ctx, holds[1], 50))
	require.NoError(t, l.Release(ctx, holds[3]))
	assert.Equal(t, 14, l.Outstanding())

	clk.Advance(time.Second)
	assert.Equal(t, 6, l.Outstanding(), "the 1s holds expired, with no other call on their accounts")
	clk.Advance(time.Second)
	assert.Zero(t, l.Outstanding())
	requireConsistent(t, l)
}

// requireErr requires err to be want: nil, or an error wrapping want.
func requireErr(t testing.TB, want, err error, msgAndArgs ...any) {
	t.Helper()
	if want == nil {
		require.NoError(t, err, msgAndArgs...)
		return
	}
	require.ErrorIs(t, err, want, msgAndArgs...)
}

// wantEnded returns what ending a hold that ended by how (nil: it expired,
// ErrHoldCommitted, ErrHoldReleased) returns at now by Commit (commit set)
// or Release, if the hold expires at expires: its tombstone lives until
// then.
func wantEnded(how error, expires, now time.Time, commit bool) error {
	switch {
	case how == nil || !now.Before(expires):
		return gavel.ErrHoldNotFound
	case (how == gavel.ErrHoldCommitted) == commit:
		return nil // a repeat
	}
	return how
}
