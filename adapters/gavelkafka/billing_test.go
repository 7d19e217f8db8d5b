package gavelkafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelkafka"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/internal/modtest"
)

// TestSumBillingMatchesLedger runs auctions on a MemoryLedger whose events
// a Sink produces to a fake cluster over TCP, bills some winners, and
// adds records a Sink would not write (a billing event produced again, a
// malformed value): SumBilling reads the topic up to its end and sums
// exactly the ledger's committed, which Reconcile restores into a fresh
// ledger.
func TestSumBillingMatchesLedger(t *testing.T) {
	c := startCluster(t)
	addr := c.ListenAddrs()[0]
	ctx := context.Background()
	budgets := []gavel.Budget{
		{Account: "alpha", Amount: 10_000_000},
		{Account: "beta", Amount: 50_000_000, Period: gavel.DailyPeriod(nil, 0)},
	}
	ledger, err := gavel.NewMemoryLedger()
	require.NoError(t, err)
	sink := newSink(t, gavelkafka.WithBrokers(addr))
	var billed []gavel.Event
	tee := gavel.EventSinkFunc(func(ctx context.Context, evs []gavel.Event) error {
		for _, e := range evs {
			if e.Type == gavel.EventBilling {
				billed = append(billed, e) // the AsyncSink writes from one goroutine
			}
		}
		return sink.Write(ctx, evs)
	})
	a, err := gavel.New(
		gavel.WithBidders(
			auctiontest.Fixed("alpha", auctiontest.Bid("a1", "1", 2.50), auctiontest.Bid("a2", "2", 1.90)),
			auctiontest.Fixed("beta", auctiontest.Bid("b1", "1", 3.10), auctiontest.Bid("b2", "2", 1.70)),
		),
		gavel.WithLedger(ledger), gavel.WithBudgets(budgets...), gavel.WithEventSink(tee), gavel.WithMaxTMax(5*time.Second),
	)
	require.NoError(t, err)
	day := budgets[1].Period.Start(time.Now())
	for i := range 40 {
		req := auctiontest.Request(fmt.Sprintf("auction-%d", i), auctiontest.BannerImp("1", 1.00), auctiontest.BannerImp("2", 0.50))
		req.TMax = 5000 // a busy box
		res, err := a.Run(ctx, req)
		require.NoError(t, err)
		for k := range res.Imps {
			if res.Imps[k].Winner < 0 {
				continue
			}
			bill, err := res.Billing(res.Imps[k].Winner)
			require.NoError(t, err)
			switch i % 3 {
			case 0:
				require.NoError(t, a.Commit(ctx, bill, bill.Hold.Amount))
			case 1:
				require.NoError(t, a.Commit(ctx, bill, bill.Hold.Amount/3))
			default:
				require.NoError(t, a.Release(ctx, bill))
			}
		}
	}
	require.NoError(t, a.Close(ctx))
	require.NoError(t, sink.Flush(ctx))
	require.NotEmpty(t, billed)
	if budgets[1].Period.Start(time.Now()) != day {
		t.Skip("the UTC day turned during the test")
	}

	// What a Sink does not write: a billing event again (a consumer
	// pipeline that duplicated it) and a value that is not an event.
	raw, err := kgo.NewClient(kgo.SeedBrokers(addr))
	require.NoError(t, err)
	again, err := billed[0].AppendJSON(nil)
	require.NoError(t, err)
	results := raw.ProduceSync(ctx,
		&kgo.Record{Topic: topic, Key: []byte(billed[0].AuctionID), Value: again},
		&kgo.Record{Topic: topic, Key: []byte("x"), Value: []byte("not an event")})
	raw.Close()
	require.NoError(t, results.FirstErr())

	sum, err := gavel.NewSpendSummer(budgets...)
	require.NoError(t, err)
	read, err := gavelkafka.SumBilling(ctx, sum, topic, kgo.SeedBrokers(addr))
	require.NoError(t, err)
	assert.Equal(t, partitions, read.Partitions)
	assert.Zero(t, read.Deleted)
	require.Len(t, read.Malformed, 1)
	// ProduceSync gives its results in the order the records completed,
	// which is not always the order given.
	var bad *kgo.Record
	for _, r := range results {
		if string(r.Record.Value) == "not an event" {
			bad = r.Record
		}
	}
	require.NotNil(t, bad)
	assert.Equal(t, bad.Partition, read.Malformed[0].Partition)
	assert.Equal(t, bad.Offset, read.Malformed[0].Offset)
	st := sum.Stats()
	assert.Equal(t, len(billed), st.Billed)
	assert.Equal(t, 1, st.Duplicates)
	assert.Equal(t, 1, st.Malformed)
	assert.Equal(t, read.Records, int64(st.Billed+st.Duplicates+st.Malformed+st.Other+st.Unbudgeted))

	fresh, err := gavel.NewMemoryLedger()
	require.NoError(t, err)
	for _, b := range budgets {
		require.NoError(t, fresh.SetBudget(ctx, b))
	}
	cur := sum.Current(time.Now())
	require.NoError(t, gavel.Reconcile(ctx, cur, fresh))
	for _, sp := range cur {
		want, err := ledger.Balance(ctx, sp.Account)
		require.NoError(t, err)
		assert.Equal(t, want.Committed, sp.Committed, sp.Account)
		got, err := fresh.Balance(ctx, sp.Account)
		require.NoError(t, err)
		assert.Equal(t, want.Committed, got.Committed, sp.Account)
	}
	assert.Positive(t, cur[0].Committed+cur[1].Committed)
}

// TestSumBillingEnds reads an empty topic at once, stops at the end it
// saw when records keep coming, and fails for a missing topic and when
// ctx ends first.
func TestSumBillingEnds(t *testing.T) {
	c := startCluster(t)
	addr := c.ListenAddrs()[0]
	ctx := context.Background()
	budget := gavel.Budget{Account: "acme", Amount: 1_000_000}
	newSum := func() *gavel.SpendSummer {
		s, err := gavel.NewSpendSummer(budget)
		require.NoError(t, err)
		return s
	}

	read, err := gavelkafka.SumBilling(ctx, newSum(), topic, kgo.SeedBrokers(addr))
	require.NoError(t, err)
	assert.Equal(t, gavelkafka.BillingRead{Partitions: partitions}, read)

	_, err = gavelkafka.SumBilling(ctx, newSum(), "no-such-topic", kgo.SeedBrokers(addr))
	require.Error(t, err)
	assert.ErrorContains(t, err, "no-such-topic")
	modtest.PrefixedOnce(t, err)

	// A producer that keeps writing while the topic is read.
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	require.NoError(t, err)
	defer prod.Close()
	bill := func(i int) *kgo.Record {
		e := gavel.Event{Version: 1, Type: gavel.EventBilling, Time: time.Now().UnixMilli(), AuctionID: fmt.Sprint("a-", i),
			ImpID: "1", Bidder: "acme", Seat: "acme", BidID: "b", Account: "acme", CostMicros: 10}
		v, err := e.AppendJSON(nil)
		require.NoError(t, err)
		return &kgo.Record{Key: []byte(e.AuctionID), Value: v}
	}
	for i := range 100 {
		require.NoError(t, prod.ProduceSync(ctx, bill(i)).FirstErr())
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 100; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if prod.ProduceSync(ctx, bill(i)).FirstErr() != nil {
				return
			}
		}
	}()
	sum := newSum()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	read, err = gavelkafka.SumBilling(rctx, sum, topic, kgo.SeedBrokers(addr))
	cancel()
	close(stop)
	<-done
	require.NoError(t, err)
	assert.GreaterOrEqual(t, read.Records, int64(100))
	assert.Equal(t, read.Records, int64(sum.Stats().Billed))

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = gavelkafka.SumBilling(cctx, newSum(), topic, kgo.SeedBrokers(addr))
	require.ErrorIs(t, err, context.Canceled)
}
