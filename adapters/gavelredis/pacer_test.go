package gavelredis

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// pacerSimDay is the first day of the pacing simulations: a Monday in UTC,
// far from any daylight saving change.
var pacerSimDay = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

var pacerDay = gavel.DailyPeriod(time.UTC, 0)

// pacerDiurnal is the mean number of auctions per minute at minute m of a
// day: a smooth curve from 40 at 08:00 to 140 at 20:00, the same traffic as
// the core's pacer simulation.
func pacerDiurnal(m int) float64 {
	return 40 * (2.25 + 1.25*math.Cos(2*math.Pi*(float64(m)/1440-20.0/24)))
}

// newTestPacer returns a pacer on its own client of the test Redis, synced
// by hand, closed when the test ends.
func newTestPacer(t *testing.T, c rueidis.Client, prefix string, opts ...PacerOption) *Pacer {
	t.Helper()
	p, err := NewPacer(c, append([]PacerOption{testPrefix(prefix), WithSyncInterval(0)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// TestPacerSharedSimulation paces one daily budget from three processes,
// each with its own client, that share the traffic at random, on a virtual
// clock. Each process syncs twice a virtual minute; the controller
// steps every minute. The processes together must stay within 5% of the
// budget of the target at every hour, and spend 97-100% of it.
func TestPacerSharedSimulation(t *testing.T) {
	c, prefix := profileClient(t)
	const budget = 500_000_000 // 500.00 a day
	hours := make([]float64, 24)
	var dayTraffic float64
	for m := range 1440 {
		hours[m/60] += pacerDiurnal(m)
		dayTraffic += pacerDiurnal(m)
	}
	cum := make([]float64, 25) // share of a day's traffic before each hour
	for h, w := range hours {
		cum[h+1] = cum[h] + w/dayTraffic
	}
	tests := []struct {
		name  string
		shape []float64
		curve func(hour int) float64
	}{
		{"uniform", nil, func(h int) float64 { return float64(h) / 24 }},
		{"traffic-shape", hours, func(h int) float64 { return cum[h] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if pacerRaceEnabled && tt.shape == nil {
				t.Skip("the same code as traffic-shape: one day under the race detector is enough")
			}
			ctx := context.Background()
			clock := auctiontest.NewClock(pacerSimDay)
			pacers := make([]*Pacer, 3)
			for i := range pacers {
				client := c
				if i > 0 {
					client = profileNewClient(t, redisAddr())
				}
				pacers[i] = newTestPacer(t, client, prefix+tt.name,
					WithPacerClock(clock), WithTrafficShape(tt.shape))
				require.NoError(t, pacers[i].SetBudget(ctx, gavel.Budget{Account: "acme", Amount: budget, Period: pacerDay}))
			}
			syncAll := func(tick int) {
				for k := range pacers {
					require.NoError(t, pacers[(tick+k)%len(pacers)].Sync(ctx))
				}
			}

			// Full participation would spend three times the budget.
			meanCost := 3 * budget / dayTraffic
			rng := rand.New(rand.NewPCG(1, 2))
			const syncs = 2 // a virtual minute
			var spent int64
			t.Logf("%4s %14s %14s %8s %7s", "hour", "target", "actual", "err%", "p")
			row := func(h int) {
				target := int64(math.Round(budget * tt.curve(h)))
				errPct := 100 * float64(spent-target) / budget
				t.Logf("%4d %14d %14d %+8.2f %7.4f", h, target, spent, errPct, pacers[0].Rate("acme"))
				assert.InDelta(t, target, spent, 0.05*budget, "hour %d", h)
				assert.InDelta(t, target, pacers[0].Target("acme", pacerSimDay.Add(time.Duration(h)*time.Hour-time.Nanosecond)), budget/1000)
			}
			for m := range 1440 {
				if m > 0 && m%60 == 0 {
					row(m / 60)
				}
				minute := pacerSimDay.Add(time.Duration(m) * time.Minute)
				n := int(math.Round(pacerDiurnal(m) * (0.85 + 0.3*rng.Float64())))
				for s := range syncs {
					clock.Set(minute.Add(time.Duration(s) * time.Minute / syncs))
					syncAll(m*syncs + s)
					for i := s * n / syncs; i < (s+1)*n/syncs; i++ {
						clock.Set(minute.Add(time.Duration(i) * time.Minute / time.Duration(n)))
						pr := pacers[rng.IntN(len(pacers))]
						if !pr.Allow(ctx, "acme", rng.Uint64()) {
							continue
						}
						cost := int64(meanCost * (0.5 + rng.Float64()))
						if spent+cost > budget {
							continue // a strict ledger refuses: the next bid would win
						}
						spent += cost
						pr.Spend(ctx, "acme", cost)
					}
				}
			}
			clock.Set(pacerSimDay.Add(24*time.Hour - time.Nanosecond))
			syncAll(0)
			row(24)
			t.Logf("spent %d of %d (%.2f%%)", spent, int64(budget), 100*float64(spent)/budget)
			assert.GreaterOrEqual(t, spent, int64(budget*97/100))
			assert.LessOrEqual(t, spent, int64(budget))

			key := prefix + tt.name + ":pacer:{acme}:spent:" + strconv.FormatInt(pacerSimDay.Unix(), 10)
			global, err := c.Do(ctx, c.B().Get().Key(key).Build()).AsInt64()
			require.NoError(t, err)
			assert.Equal(t, spent, global, "every process's spend is in Redis")
			var steps, busy, errs int64
			for _, pr := range pacers {
				st := pr.Stats()
				steps, busy, errs = steps+st.Steps, busy+st.Busy, errs+st.Errors
				assert.Zero(t, st.Pending)
			}
			t.Logf("steps %d, left to another process %d, errors %d", steps, busy, errs)
			assert.Equal(t, int64(1+1440), steps, "a learning step, then one step a minute, by one process")
			assert.Zero(t, errs)
		})
	}
}

// TestPacerOneStep has two processes find the same step due: one runs it,
// the other takes the rate it planned.
func TestPacerOneStep(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	clock := auctiontest.NewClock(pacerSimDay)
	hooks := &pacerRecorder{}
	a := newTestPacer(t, c, prefix, WithPacerClock(clock), WithPacerHooks(hooks))
	b := newTestPacer(t, profileNewClient(t, redisAddr()), prefix, WithPacerClock(clock), WithPacerHooks(hooks))
	for _, p := range []*Pacer{a, b} {
		require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: 1_440_000, Period: pacerDay}))
		assert.Equal(t, 1.0, p.Rate("acme"), "no shared state read yet")
	}
	require.NoError(t, a.Sync(ctx))
	require.NoError(t, b.Sync(ctx))
	assert.Equal(t, []string{"acme"}, hooks.steps, "the first step, by a")

	a.Spend(ctx, "acme", 1_500)
	b.Spend(ctx, "acme", 1_500)
	require.NoError(t, a.Sync(ctx))
	require.NoError(t, b.Sync(ctx))
	clock.Advance(time.Minute)
	require.NoError(t, b.Sync(ctx)) // b steps on a's and b's spend
	require.NoError(t, a.Sync(ctx))
	assert.Equal(t, []string{"acme", "acme"}, hooks.steps)
	assert.Equal(t, int64(1), a.Stats().Steps)
	assert.Equal(t, int64(1), b.Stats().Steps)

	// As the core's pacer: 1.44 expected over the minute, 3 spent at p = 1.
	want := 0.8 / 3
	assert.InDelta(t, want, b.Rate("acme"), 1e-9)
	assert.InDelta(t, want, a.Rate("acme"), 1e-9, "read from the state b wrote")
	assert.Empty(t, hooks.errs)

	// Both find the next step due before either has read the other's step.
	clock.Advance(time.Minute)
	var wg sync.WaitGroup
	for _, p := range []*Pacer{a, b} {
		wg.Go(func() { assert.NoError(t, p.Sync(ctx)) })
	}
	wg.Wait()
	assert.LessOrEqual(t, a.Stats().Steps+b.Stats().Steps, int64(3), "the step ran at most once")
	// When the two collide on the lock, neither may step; the next Sync does.
	require.NoError(t, a.Sync(ctx))
	require.NoError(t, b.Sync(ctx))
	assert.Equal(t, int64(3), a.Stats().Steps+b.Stats().Steps, "the step ran once")
	require.NoError(t, a.Sync(ctx))
	require.NoError(t, b.Sync(ctx))
	assert.Equal(t, a.Rate("acme"), b.Rate("acme"))
}

// TestPacerRedisDown cuts a process off Redis: Allow keeps the last rate,
// Sync fails fast and reports it, and the spend recorded meanwhile reaches
// Redis once it is back.
func TestPacerRedisDown(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	clock := auctiontest.NewClock(pacerSimDay)
	proxy, pc := profileProxyClient(t)
	hooks := &pacerRecorder{}
	p := newTestPacer(t, pc, prefix, WithPacerClock(clock), WithPacerHooks(hooks), WithLockTTL(100*time.Millisecond))
	require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: 1_440_000, Period: pacerDay}))
	require.NoError(t, p.Sync(ctx))
	p.Spend(ctx, "acme", 3_000)
	require.NoError(t, p.Sync(ctx))
	clock.Advance(time.Minute)
	require.NoError(t, p.Sync(ctx))
	rate := p.Rate("acme")
	require.InDelta(t, 0.8/3, rate, 1e-9)

	proxy.Close()
	p.Spend(ctx, "acme", 1_000)
	p.Spend(ctx, "acme", 500)
	clock.Advance(time.Minute) // a step is due too
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Sync(sctx)
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.Regexp(t, `^gavel: redis pacer `, err.Error())
	assert.Less(t, elapsed, 200*time.Millisecond+50*time.Millisecond)
	t.Logf("sync failed after %v: %v", elapsed, err)
	assert.Equal(t, rate, p.Rate("acme"), "the last rate is kept")
	assert.False(t, p.Allow(ctx, "acme", math.MaxUint64))
	st := p.Stats()
	assert.Equal(t, int64(1_500), st.Pending, "the spend waits for Redis")
	assert.Positive(t, st.Errors)
	assert.Equal(t, int(st.Errors), len(hooks.errs))
	assert.Contains(t, hooks.ops(), PacerEpoch, "the first part of Sync, which cannot reach Redis")

	proxy.Reopen(t)
	// A step whose commit met a connection broken by the outage leaves its
	// lock to expire (WithLockTTL) before the next can run.
	require.Eventually(t, func() bool { return p.Sync(ctx) == nil && p.Stats().Steps == 3 },
		5*time.Second, 20*time.Millisecond, "the missed step runs once Redis is back")
	assert.Zero(t, p.Stats().Pending)
	key := prefix + "pacer:{acme}:spent:" + strconv.FormatInt(pacerSimDay.Unix(), 10)
	global, err := c.Do(ctx, c.B().Get().Key(key).Build()).AsInt64()
	require.NoError(t, err)
	assert.Equal(t, int64(4_500), global)
}

// TestPacerBackground lets the pacer's goroutine sync on the wall clock,
// and Close flush what is left.
func TestPacerBackground(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	p, err := NewPacer(c, testPrefix(prefix), WithSyncInterval(10*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: 1_000_000_000, Period: pacerDay}))
	p.Spend(ctx, "acme", 700)
	spentKey := func() string {
		return prefix + "pacer:{acme}:spent:" + strconv.FormatInt(pacerDay.Start(time.Now()).Unix(), 10)
	}
	require.Eventually(t, func() bool {
		v, err := c.Do(ctx, c.B().Get().Key(spentKey()).Build()).AsInt64()
		return err == nil && v == 700
	}, 5*time.Second, 10*time.Millisecond, "flushed by the background sync")
	require.Eventually(t, func() bool { return p.Stats().Steps == 1 }, 5*time.Second, 10*time.Millisecond)

	state, err := c.Do(ctx, c.B().Get().Key(prefix+"pacer:{acme}:state").Build()).ToString()
	require.NoError(t, err)
	assert.Regexp(t, `^\{"v":2,"rate":1,"step_start":(\d+),"next":\d+,"spend_avg":0,"reach_avg":0,"from":\d+,"from_spent":700,"budget_id":\d+\}$`, state)

	p.Spend(ctx, "acme", 300)
	require.NoError(t, p.Close(ctx))
	v, err := c.Do(ctx, c.B().Get().Key(spentKey()).Build()).AsInt64()
	require.NoError(t, err)
	assert.Equal(t, int64(1_000), v, "Close flushes")
	require.NoError(t, p.Close(ctx), "Close again")
	assert.True(t, p.Allow(ctx, "acme", 0))
}

func TestPacerAccounts(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	p := newTestPacer(t, c, prefix)
	p.Spend(ctx, "nobody", 1_000)
	assert.True(t, p.Allow(ctx, "nobody", math.MaxUint64))
	assert.Equal(t, 1.0, p.Rate("nobody"))
	assert.Zero(t, p.Target("nobody", time.Now()))
	assert.Zero(t, p.Stats().Pending)

	require.ErrorIs(t, p.SetBudget(ctx, gavel.Budget{Account: "a", Amount: -1, Period: pacerDay}), gavel.ErrInvalidBudget)
	require.ErrorIs(t, p.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1}), gavel.ErrInvalidPacing)
	require.ErrorIs(t, p.SetBudget(ctx, gavel.Budget{Account: "a", Amount: 1, Start: pacerSimDay, End: pacerSimDay}), gavel.ErrInvalidBudget)
	assert.True(t, p.Allow(ctx, "a", math.MaxUint64), "a refused budget paces nothing")
	require.NoError(t, p.Sync(ctx), "no accounts")

	// A flight keeps its spend under its start.
	clock := auctiontest.NewClock(pacerSimDay.Add(time.Hour))
	f := newTestPacer(t, c, prefix, WithPacerClock(clock))
	require.NoError(t, f.SetBudget(ctx, gavel.Budget{Account: "flight", Amount: 1_000_000, Start: pacerSimDay, End: pacerSimDay.Add(48 * time.Hour)}))
	f.Spend(ctx, "flight", 42)
	require.NoError(t, f.Sync(ctx))
	require.NoError(t, f.SetBudget(ctx, gavel.Budget{Account: "flight", Amount: 1_000_000, Start: pacerSimDay, End: pacerSimDay.Add(72 * time.Hour)}))
	clock.Advance(30 * time.Hour)
	f.Spend(ctx, "flight", 8)
	require.NoError(t, f.Sync(ctx))
	key := prefix + "pacer:{flight}:spent:" + strconv.FormatInt(pacerSimDay.Unix(), 10)
	v, err := c.Do(ctx, c.B().Get().Key(key).Build()).AsInt64()
	require.NoError(t, err)
	assert.Equal(t, int64(50), v)
}

func TestPacerBadState(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	hooks := &pacerRecorder{}
	p := newTestPacer(t, c, prefix, WithPacerHooks(hooks))
	require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: 1_000, Period: pacerDay}))
	for _, raw := range []string{`{"v":3,"rate":0.5}`, `{"v":0,"rate":0.5}`, `{"v":2,"rate":1.5}`, `junk`} {
		require.NoError(t, c.Do(ctx, c.B().Set().Key(prefix+"pacer:{acme}:state").Value(raw).Build()).Error())
		err := p.Sync(ctx)
		require.Error(t, err, raw)
		assert.Equal(t, 1.0, p.Rate("acme"))
	}
	assert.Equal(t, []PacerOp{PacerRefresh, PacerRefresh, PacerRefresh, PacerRefresh}, hooks.ops())
}

// TestPacerStateVersion1 reads a state written before the target curve
// had a start: its rate and demand are kept, and the next step starts the
// curve from the spend then.
func TestPacerStateVersion1(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	start := pacerSimDay.Add(9 * time.Hour)
	clock := auctiontest.NewClock(start)
	p := newTestPacer(t, c, prefix, WithPacerClock(clock))
	require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: 1_440_000, Period: pacerDay}))
	v1 := fmt.Sprintf(`{"v":1,"rate":0.25,"step_start":%d,"next":%d,"spend_avg":800,"reach_avg":0.0002}`,
		start.Add(-time.Minute).UnixNano(), start.Add(time.Minute).UnixNano())
	require.NoError(t, c.Do(ctx, c.B().Set().Key(prefix+"pacer:{acme}:state").Value(v1).Build()).Error())
	require.NoError(t, p.Sync(ctx))
	assert.Equal(t, 0.25, p.Rate("acme"), "the rate of a version 1 state")
	assert.Zero(t, p.Stats().Steps)

	p.Spend(ctx, "acme", 5_000)
	clock.Advance(time.Minute)
	require.NoError(t, p.Sync(ctx))
	require.Equal(t, int64(1), p.Stats().Steps)
	raw, err := c.Do(ctx, c.B().Get().Key(prefix+"pacer:{acme}:state").Build()).ToString()
	require.NoError(t, err)
	st, err := decodePacerState(raw)
	require.NoError(t, err)
	assert.Equal(t, clock.Now(), st.From.UTC(), "the curve starts at the step")
	assert.Equal(t, int64(5_000), st.FromSpent)
	assert.NotZero(t, st.BudgetID)
	assert.Greater(t, st.ReachAvg, 0.0001, "the demand learned is kept")
	// 5000 spent at 09:01; the rest, 1435000, over the 899 minutes left.
	assert.Equal(t, int64(5_000+1_435_000*60/899), p.Target("acme", clock.Now().Add(time.Hour)))
}

func TestNewPacerOptions(t *testing.T) {
	c, _ := profileClient(t)
	tests := []struct {
		name   string
		client rueidis.Client
		opt    PacerOption
		ok     bool
	}{
		{"defaults", c, WithKeyPrefix("x"), true},
		{"prefix ending with the separator", c, WithKeyPrefix("x:"), false},
		{"prefix with a brace", c, WithKeyPrefix("{x}"), false},
		{"step", c, WithPacerStep(time.Second), true},
		{"zero step", c, WithPacerStep(0), false},
		{"min rate", c, WithMinRate(0.01), true},
		{"min rate above 1", c, WithMinRate(2), false},
		{"traffic shape", c, WithTrafficShape([]float64{1, 2, 1}), true},
		{"negative traffic shape", c, WithTrafficShape([]float64{1, -2}), false},
		{"clock", c, WithPacerClock(auctiontest.NewClock(time.Unix(0, 0))), true},
		{"nil clock", c, WithPacerClock(nil), false},
		{"manual sync", c, WithSyncInterval(0), true},
		{"negative sync", c, WithSyncInterval(-time.Second), false},
		{"lock ttl", c, WithLockTTL(time.Second), true},
		{"tiny lock ttl", c, WithLockTTL(time.Microsecond), false},
		{"hook", c, WithPacerHooks(&pacerRecorder{}), true},
		{"not a hook", c, WithPacerHooks(42), false},
		{"nil client", nil, WithKeyPrefix("x"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPacer(tt.client, tt.opt)
			if tt.ok {
				require.NoError(t, err)
				require.NoError(t, p.Close(context.Background()))
				return
			}
			require.ErrorIs(t, err, gavel.ErrInvalidOption)
			assert.Nil(t, p)
		})
	}
}

func TestPacerAllowAllocs(t *testing.T) {
	if pacerRaceEnabled {
		t.Skip("the race detector allocates")
	}
	c, prefix := profileClient(t)
	p := newTestPacer(t, c, prefix)
	require.NoError(t, p.SetBudget(t.Context(), gavel.Budget{Account: "acme", Amount: 1_000, Period: pacerDay}))
	require.NoError(t, p.Sync(context.Background()))
	ctx := context.Background()
	for _, account := range []string{"acme", "nobody"} {
		allocs := testing.AllocsPerRun(1000, func() {
			p.Allow(ctx, account, 0x9e3779b97f4a7c15)
			p.Spend(ctx, account, 10)
		})
		assert.Zero(t, allocs, account)
	}
}

// pacerRecorder is a PacerErrorHook and PacerStepHook that remembers.
type pacerRecorder struct {
	mu    sync.Mutex
	errs  []error
	opsL  []PacerOp
	steps []string
}

func (r *pacerRecorder) OnPacerError(op PacerOp, _ string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
	r.opsL = append(r.opsL, op)
}

func (r *pacerRecorder) OnPacerStep(account string, _ gavel.PacingState, _ time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, account)
}

func (r *pacerRecorder) ops() []PacerOp {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]PacerOp(nil), r.opsL...)
}

func BenchmarkRedisPacer(b *testing.B) {
	c, prefix := profileClient(b)
	clock := auctiontest.NewClock(pacerSimDay)
	p, err := NewPacer(c, testPrefix(prefix), WithSyncInterval(0), WithPacerClock(clock))
	require.NoError(b, err)
	defer func() { _ = p.Close(context.Background()) }()
	require.NoError(b, p.SetBudget(b.Context(), gavel.Budget{Account: "acme", Amount: 1_000_000, Period: pacerDay}))
	ctx := context.Background()
	require.NoError(b, p.Sync(ctx))
	p.Spend(ctx, "acme", 500_000) // far ahead: p drops to the min rate
	clock.Advance(time.Minute)
	require.NoError(b, p.Sync(ctx))
	require.Equal(b, gavel.DefaultMinRate, p.Rate("acme"))
	b.Run("allow", func(b *testing.B) {
		b.ReportAllocs()
		var allowed atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			draw := uint64(0x9e3779b97f4a7c15)
			for pb.Next() {
				draw = draw*6364136223846793005 + 1442695040888963407
				if p.Allow(ctx, "acme", draw) {
					allowed.Add(1)
				}
			}
		})
		b.ReportMetric(float64(allowed.Load())/float64(b.N), "allowed/op")
	})
	b.Run("sync", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.Spend(ctx, "acme", 1)
			if err := p.Sync(ctx); err != nil {
				b.Fatal(err)
			}
		}
		require.Positive(b, p.Stats().Flushes)
	})
}
