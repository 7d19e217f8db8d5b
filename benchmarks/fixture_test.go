package benchmarks_test

import (
	"context"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/benchmarks"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, fasthttpGoroutines...)
}

// TestFixture checks that every case of the grid is a real auction: Run
// and Floor find the expected winners, and no bid is lost to anything but
// a higher bid.
func TestFixture(t *testing.T) {
	for _, n := range bidderCounts {
		for _, m := range impCounts {
			f, err := benchmarks.NewFixture(benchmarks.RequestFile, n, m)
			require.NoError(t, err)
			require.Len(t, f.Want, m)
			a, err := gavel.New(f.Options(f.Bidders())...)
			require.NoError(t, err)
			res, err := a.Run(context.Background(), f.Request)
			require.NoError(t, err)
			require.NoError(t, f.Check(res), "bidders=%d imps=%d", n, m)

			best := make([]benchmarks.Best, m)
			benchmarks.Floor(context.Background(), f.Request, f.Bidders(), best)
			require.NoError(t, f.CheckFloor(best), "bidders=%d imps=%d", n, m)

			best = make([]benchmarks.Best, m)
			benchmarks.FloorGoroutines(context.Background(), f.Request, f.Bidders(), time.Second, best)
			require.NoError(t, f.CheckFloor(best), "goroutines: bidders=%d imps=%d", n, m)
		}
	}
}

// TestFixtureWants pins the expected outcome of 8 bidders x 3 imps, worked
// out by hand from the request: imp 1 clears at second price on its deal
// (at=2), imp 2 at first price (the request's at=1), imp 3 at the fixed
// price of its private deal (at=3, 12.00).
func TestFixtureWants(t *testing.T) {
	f, err := benchmarks.NewFixture(benchmarks.RequestFile, 8, 3)
	require.NoError(t, err)
	assert.Equal(t, []benchmarks.Win{
		{ImpID: "1", Bidder: "bidder7", PriceMicros: 3_300_000, ClearMicros: 3_210_000},
		{ImpID: "2", Bidder: "bidder0", PriceMicros: 1_550_000, ClearMicros: 1_550_000},
		{ImpID: "3", Bidder: "bidder4", PriceMicros: 13_050_000, ClearMicros: 12_000_000},
	}, f.Want)

	one, err := benchmarks.NewFixture(benchmarks.RequestFile, 1, 1)
	require.NoError(t, err)
	assert.Equal(t, []benchmarks.Win{
		{ImpID: "1", Bidder: "bidder0", PriceMicros: 2_600_000, ClearMicros: 2_260_000},
	}, one.Want)
}

// TestCheckCatchesErrors makes sure Check fails on auctions that went
// wrong, so that a benchmark cannot silently measure an error path.
func TestCheckCatchesErrors(t *testing.T) {
	f, err := benchmarks.NewFixture(benchmarks.RequestFile, 5, 3)
	require.NoError(t, err)
	run := func(t *testing.T) *gavel.Result {
		a, err := gavel.New(f.Options(f.Bidders())...)
		require.NoError(t, err)
		res, err := a.Run(context.Background(), f.Request)
		require.NoError(t, err)
		return res
	}
	tests := []struct {
		name   string
		breakf func(res *gavel.Result)
	}{
		{"nil result", nil},
		{"bidder timed out", func(res *gavel.Result) { res.Bidders[2].Status = gavel.StatusTimeout }},
		{"bid missing", func(res *gavel.Result) { res.Bids = res.Bids[:len(res.Bids)-1] }},
		{"no winner", func(res *gavel.Result) { res.Imps[1].Winner = -1 }},
		{"wrong clearing price", func(res *gavel.Result) { res.Bids[res.Imps[0].Winner].ClearMicros++ }},
		{"unexpected loss", func(res *gavel.Result) {
			for i := range res.Bids {
				if !res.Bids[i].Won {
					res.Bids[i].Loss = openrtb3.LossBelowAuctionFloor
					return
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res *gavel.Result
			if tt.breakf != nil {
				res = run(t)
				require.NoError(t, f.Check(res))
				tt.breakf(res)
			}
			assert.Error(t, f.Check(res))
		})
	}
}

func TestNewFixtureRefuses(t *testing.T) {
	_, err := benchmarks.NewFixture(benchmarks.RequestFile, 1, 4)
	assert.Error(t, err)
	_, err = benchmarks.NewFixture(benchmarks.RequestFile, 0, 1)
	assert.Error(t, err)
	_, err = benchmarks.NewFixture("testdata/missing.json", 1, 1)
	assert.Error(t, err)
}

// TestFloorGoroutinesDeadline checks that the goroutine floor returns by
// its deadline when a bidder hangs, with the other bidders' winners.
func TestFloorGoroutinesDeadline(t *testing.T) {
	f, err := benchmarks.NewFixture(benchmarks.RequestFile, 5, 3)
	require.NoError(t, err)
	bidders := append(f.Bidders(), auctiontest.Hang("hang"))
	best := make([]benchmarks.Best, 3)
	start := time.Now()
	benchmarks.FloorGoroutines(context.Background(), f.Request, bidders, 20*time.Millisecond, best)
	// By the deadline, not the hanging bidder's never; the margin is for a
	// loaded machine (50.6ms was seen against a 30ms margin).
	assert.Less(t, time.Since(start), 20*time.Millisecond+200*time.Millisecond)
	require.NoError(t, f.CheckFloor(best))
}
