package gavel_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// sleepyPacer takes d to answer for account, and allows every account.
type sleepyPacer struct {
	account string
	d       time.Duration
}

func (p sleepyPacer) Allow(_ context.Context, account string, _ uint64) bool {
	if account == p.account {
		time.Sleep(p.d)
	}
	return true
}

func (sleepyPacer) Spend(context.Context, string, int64) {}

// The launch reads the clock again after a check that may block: when the
// Pacer holds it up past the end of the fan-out, the bidders left are
// skipped for lack of time, not called and timed out.
func TestLaunchHeldUpSkipsTheBiddersLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		first, held, last := auctiontest.NoBid("first"), auctiontest.NoBid("held"), auctiontest.NoBid("last")
		a := mustAuction(t, gavel.WithBidders(first, held, last),
			gavel.WithPacer(sleepyPacer{account: "held", d: 150 * time.Millisecond}))
		res, err := a.Run(context.Background(), bannerRequest("r", 100))
		require.NoError(t, err)
		assert.Equal(t, map[string]gavel.BidderStatus{
			"first": gavel.StatusNoBid, "held": gavel.StatusSkippedNoTime, "last": gavel.StatusSkippedNoTime,
		}, statusesOf(res))
		assert.Equal(t, int64(1), first.Calls())
		assert.Zero(t, held.Calls()+last.Calls())
	})
}
