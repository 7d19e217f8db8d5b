package benchmarks_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/benchmarks"
)

// BenchmarkRunStateful measures what the stateful parts add to an auction
// of 8 bidders x 3 imps with prebuilt responses. With state=off, Run has
// no state. With state=on, it has a MemoryLedger (every winner reserves
// its cost, and the loop bills each winner with Auction.Commit, as the
// exchange would on its billing notice), an EvenPacer with budgets large
// enough that it lets every bidder take part, a MemoryProfileStore that
// holds the profile of the request's user, and an AsyncSink around a sink
// that drops what it is given. The difference is the cost of the state
// per auction: reserving and billing 3 holds, 8 pacing decisions and 6
// spend reports, a profile lookup and merge, and 36 events (33 from Run,
// one billing event per Commit) queued and delivered.
//
// Both cases run the same bidders, one of which counts the requests whose
// user carries the profile's segment; after the loop, the benchmark checks
// that every auction was enriched, paced, reserved, billed and reported
// (or, with state=off, none was).
func BenchmarkRunStateful(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "state=off"
		if on {
			name = "state=on"
		}
		b.Run(name, func(b *testing.B) {
			b.Run("bidders=8", func(b *testing.B) {
				b.Run("imps=3", func(b *testing.B) {
					s := newStateful(b, newFixture(b, 8, 3), on)
					ctx := context.Background()
					s.run(b, ctx)
					b.ReportAllocs()
					cpu := startCPU()
					for b.Loop() {
						s.run(b, ctx)
					}
					cpu.report(b)
					s.check(b)
				})
			})
		})
	}
}

// statefulProfile is what the profile store knows of the fixture's user:
// a segment provider the request does not carry, an id from a source it
// does not carry, and keywords. Attributes are left out: they make Run
// rewrite user.ext as JSON, a cost of its own.
func statefulProfile(userID string) *gavel.Profile {
	return &gavel.Profile{
		UserID: userID,
		Segments: []openrtb2.Data{{
			ID: profileSegment, Name: "bench-dmp.example",
			Segment: []openrtb2.Segment{{ID: "aud-7001"}, {ID: "aud-7002"}, {ID: "aud-7003", Value: "high"}},
		}},
		EIDs:     []openrtb2.EID{{Source: "bench-id.example", UIDs: []openrtb2.UID{{ID: "b-123456789", AType: 3}}}},
		Keywords: []string{"sports", "travel"},
	}
}

// profileSegment is the id of the profile's segment provider.
const profileSegment = "bench-dmp"

// stateful is one case of BenchmarkRunStateful: the auction, its state and
// what it must have done.
type stateful struct {
	f     *benchmarks.Fixture
	a     *gavel.Auction
	on    bool
	runs  int64
	watch *segmentWatch

	ledger   *gavel.MemoryLedger
	accounts []string
	pacer    *countingPacer
	sink     *gavel.AsyncSink
	billed   map[string]int64 // per account: what one auction bills
}

// statefulBudget is every account's daily budget, in micros: big enough
// never to run out in a benchmark, and one declaration for the ledger and
// the pacer.
const statefulBudget = 1 << 50

func newStateful(tb testing.TB, f *benchmarks.Fixture, on bool) *stateful {
	tb.Helper()
	bidders := f.Bidders()
	watch := &segmentWatch{Bidder: bidders[0]}
	bidders[0] = watch
	s := &stateful{f: f, on: on, watch: watch}
	opts := f.Options(bidders)
	if on {
		s.accounts = append(append([]string(nil), f.Names...), "seat-v")
		s.ledger, _ = gavel.NewMemoryLedger()
		pacer, _ := gavel.NewEvenPacer()
		budgets := make([]gavel.Budget, len(s.accounts))
		for i, acct := range s.accounts {
			budgets[i] = gavel.Budget{Account: acct, Amount: statefulBudget, Period: gavel.DailyPeriod(time.UTC, 0)}
		}
		s.pacer = &countingPacer{EvenPacer: pacer}
		store, err := gavel.NewMemoryProfileStore()
		if err != nil {
			tb.Fatal(err)
		}
		store.Put(f.Request.User.ID, statefulProfile(f.Request.User.ID))
		sink, err := gavel.NewAsyncSink(gavel.EventSinkFunc(func(context.Context, []gavel.Event) error { return nil }),
			gavel.WithQueueSize(1<<18))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			sink.Close(ctx)
		})
		s.sink = sink
		opts = append(opts, gavel.WithLedger(s.ledger), gavel.WithPacer(s.pacer), gavel.WithBudgets(budgets...),
			gavel.WithProfileStore(store), gavel.WithEventSink(sink))
	}
	a, err := gavel.New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	s.a = a
	return s
}

// run runs one auction and, with state, bills its winners. The first call
// checks the outcome and learns what an auction bills.
func (s *stateful) run(tb testing.TB, ctx context.Context) {
	res, err := s.a.Run(ctx, s.f.Request)
	if err != nil {
		tb.Fatal(err)
	}
	first := s.runs == 0
	s.runs++
	if first {
		if err := s.f.Check(res); err != nil {
			tb.Fatal(err)
		}
		if s.on {
			s.billed = map[string]int64{}
		}
	}
	if !s.on {
		return
	}
	for j := range res.Imps {
		w := res.Imps[j].Winner
		bl, err := res.Billing(w)
		if err != nil {
			tb.Fatalf("imp %d: %v", j, err)
		}
		cost := res.Bids[w].CostMicros()
		if err := s.a.Commit(ctx, bl, cost); err != nil {
			tb.Fatalf("imp %s: %v", bl.ImpID, err) // a winner without its hold fails here
		}
		if first {
			s.billed[bl.Hold.Account] += cost
		}
	}
}

// eventsPerAuction is what an auction of 8 bidders x 3 imps reports: the
// auction, 8 bidders, 24 bids, and 3 billings.
const eventsPerAuction = 1 + 8 + 24 + 3

// check fails b unless every auction run did all its stateful work.
func (s *stateful) check(b *testing.B) {
	b.Helper()
	if err := s.verify(); err != nil {
		b.Fatal(err)
	}
}

func (s *stateful) verify() error {
	n := s.runs
	st := s.a.Stats()
	if st.Auctions != n {
		return fmt.Errorf("%d auctions counted, %d run", st.Auctions, n)
	}
	if !s.on {
		if seen := s.watch.seen.Load(); seen != 0 || st.ProfileHits != 0 {
			return fmt.Errorf("without state: %d requests enriched, %d profile hits", seen, st.ProfileHits)
		}
		return nil
	}
	if seen := s.watch.seen.Load(); st.ProfileHits != n || seen != n {
		return fmt.Errorf("%d profile hits and %d enriched requests in %d auctions", st.ProfileHits, seen, n)
	}
	if st.BudgetRefusals != 0 || st.LedgerErrors != 0 || st.EventWriteErrors != 0 {
		return fmt.Errorf("budget refusals %d, ledger errors %d, event write errors %d",
			st.BudgetRefusals, st.LedgerErrors, st.EventWriteErrors)
	}
	for _, acct := range s.accounts {
		bal, err := s.ledger.Balance(context.Background(), acct)
		if err != nil {
			return err
		}
		if want := n * s.billed[acct]; bal.Committed != want || bal.Reserved != 0 {
			return fmt.Errorf("account %s: committed %d, reserved %d; want %d and 0", acct, bal.Committed, bal.Reserved, want)
		}
	}
	bidders := int64(len(s.f.Names))
	if allows, spends := s.pacer.allows.Load(), s.pacer.spends.Load(); allows != n*bidders || spends != n*2*int64(len(s.f.Want)) {
		return fmt.Errorf("pacer asked %d times and told %d spends in %d auctions, want %d and %d",
			allows, spends, n, n*bidders, n*2*int64(len(s.f.Want)))
	}
	for _, name := range s.f.Names {
		if r := s.pacer.Rate(name); r != 1 {
			return fmt.Errorf("pacer rate of %s is %v, want 1", name, r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.sink.Flush(ctx); err != nil {
		return fmt.Errorf("flushing the events: %w", err)
	}
	if ss := s.sink.Stats(); ss.Delivered != n*eventsPerAuction || ss.Dropped != 0 || ss.Failed != 0 {
		return fmt.Errorf("events: %+v, want %d delivered", ss, n*eventsPerAuction)
	}
	return nil
}

// segmentWatch is a bidder that counts the requests whose user carries the
// profile's segment provider, then bids as its inner bidder does.
type segmentWatch struct {
	gavel.Bidder
	seen atomic.Int64
}

func (w *segmentWatch) Bid(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	if req.User != nil {
		for i := range req.User.Data {
			if req.User.Data[i].ID == profileSegment {
				w.seen.Add(1)
				break
			}
		}
	}
	return w.Bidder.Bid(ctx, req)
}

// countingPacer counts the calls to its EvenPacer.
type countingPacer struct {
	*gavel.EvenPacer
	allows, spends atomic.Int64
}

func (p *countingPacer) Allow(ctx context.Context, account string, draw uint64) bool {
	p.allows.Add(1)
	return p.EvenPacer.Allow(ctx, account, draw)
}

func (p *countingPacer) Spend(ctx context.Context, account string, amount int64) {
	p.spends.Add(1)
	p.EvenPacer.Spend(ctx, account, amount)
}

// BenchmarkProfileLookup measures a lookup in a MemoryProfileStore of
// 10,000 profiles: one that finds the fixture's user, one that finds
// nothing. Every lookup's outcome is checked.
func BenchmarkProfileLookup(b *testing.B) {
	f := newFixture(b, 1, 1)
	store, err := gavel.NewMemoryProfileStore()
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10_000 {
		id := fmt.Sprintf("u-%012x", i)
		store.Put(id, statefulProfile(id))
	}
	user := f.Request.User.ID
	want := statefulProfile(user)
	store.Put(user, want)
	for _, tt := range []struct {
		name, key string
		hit       bool
	}{
		{"result=hit", user, true},
		{"result=miss", "u-nobody", false},
	} {
		b.Run("store=memory/"+tt.name, func(b *testing.B) {
			ctx := context.Background()
			lookup := func() {
				p, err := store.Profile(ctx, tt.key)
				switch {
				case tt.hit && (err != nil || p != want):
					b.Fatalf("lookup of %s: %v, %v; want the stored profile", tt.key, p, err)
				case !tt.hit && !errors.Is(err, gavel.ErrNoProfile):
					b.Fatalf("lookup of %s: %v, %v; want ErrNoProfile", tt.key, p, err)
				}
			}
			lookup()
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				lookup()
			}
			cpu.report(b)
			lookup()
		})
	}
}
