package benchmarks_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/benchmarks"
)

// TestHTTPBidders checks that the HTTP bidders of BenchmarkRunHTTP run
// real auctions: every bidder is called with the request and the expected
// bids win.
func TestHTTPBidders(t *testing.T) {
	tests := []struct {
		transport string
		build     func(testing.TB, *benchmarks.Fixture) ([]gavel.Bidder, *httpCalls)
		bidders   int
	}{
		{"loopback", loopbackBidders, 1},
		{"loopback", loopbackBidders, 5},
		{"memory", memoryBidders, 1},
		{"memory", memoryBidders, 16},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("transport=%s/bidders=%d", tt.transport, tt.bidders), func(t *testing.T) {
			f := newFixture(t, tt.bidders, 1)
			bidders, calls := tt.build(t, f)
			a, err := gavel.New(f.Options(bidders)...)
			require.NoError(t, err)
			const runs = 3
			for range runs {
				res, err := a.Run(context.Background(), f.Request)
				require.NoError(t, err)
				require.NoError(t, f.Check(res))
			}
			require.NoError(t, calls.check(runs*int64(tt.bidders)))
			assert.Error(t, calls.check(runs*int64(tt.bidders)+1), "check counts the calls")
		})
	}
}

// TestStateful checks that BenchmarkRunStateful's auctions do their
// stateful work, and that its check catches auctions that did not.
func TestStateful(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint("on=", on), func(t *testing.T) {
			s := newStateful(t, newFixture(t, 8, 3), on)
			ctx := context.Background()
			for range 5 {
				s.run(t, ctx)
			}
			require.NoError(t, s.verify())

			// An auction run behind the benchmark's back: counted by the
			// auction, its winners not billed.
			res, err := s.a.Run(ctx, s.f.Request)
			require.NoError(t, err)
			require.NoError(t, s.f.Check(res))
			assert.Error(t, s.verify())
			if on {
				for j := range res.Imps {
					assert.NotZero(t, res.Imps[j].Hold.ID, "imp %s won with a hold", res.Imps[j].ImpID)
				}
			}
		})
	}
}
