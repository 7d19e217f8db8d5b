package gavelredis

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// lastMinuteDSP is a bidder that uses all its time: it answers just before
// the deadline of its ctx, with one bid per imp, or gives up with ctx.Err()
// if ctx ends first.
type lastMinuteDSP struct {
	name   string
	margin time.Duration // how long before the deadline it answers
}

func (d lastMinuteDSP) Name() string { return d.name }

func (d lastMinuteDSP) Bid(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	if dl, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(dl) - d.margin)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	bids := make([]openrtb2.Bid, len(req.Imp))
	for i := range req.Imp {
		bids[i] = auctiontest.Bid(fmt.Sprintf("b%d", i), req.Imp[i].ID, 2.5)
	}
	return auctiontest.Response(req.ID, d.name, bids...), nil
}

// burstOutcome counts what a burst of auctions ended with.
type burstOutcome struct {
	auctions  int // run
	valid     int // with a valid bid: the DSP answered in time, and its bid passed the checks
	reserved  int // of those, with a winner whose hold is reserved
	noTime    int // valid, lost for want of time to reserve (LossNoTimeToReserve)
	ledgerErr int // valid, lost to a ledger failure (LossLedgerUnavailable)
	refused   int // valid, refused by the budget (should not happen: the budget is ample)
}

func (o burstOutcome) String() string {
	return fmt.Sprintf("%d auctions, %d with a valid bid, %d of them reserved (%.1f%%); lost: %d no time, %d ledger errors, %d refused",
		o.auctions, o.valid, o.reserved, 100*float64(o.reserved)/float64(max(o.valid, 1)), o.noTime, o.ledgerErr, o.refused)
}

// add counts the result of one auction.
func (o *burstOutcome) add(res *gavel.Result) {
	o.auctions++
	if res.Bidders[0].Status != gavel.StatusBid || len(res.Bids) == 0 {
		return
	}
	b := res.Bids[0]
	switch b.Loss {
	case openrtb3.LossWon:
		o.valid++
		if res.Imps[0].Hold.ID != 0 {
			o.reserved++
		}
	case gavel.LossNoTimeToReserve:
		o.valid++
		o.noTime++
	case gavel.LossLedgerUnavailable:
		o.valid++
		o.ledgerErr++
	case gavel.LossBudget, gavel.LossUnknownAccount:
		o.valid++
		o.refused++
	}
}

// TestLedgerDeadline is the measurement of issue 8: with the strict Redis
// ledger, default options, and one DSP that uses all its time, 200
// concurrent auctions (tmax 100ms) reserve the winner of at least 99% of
// the auctions that have a valid bid. Auctions arrive every 0.5ms, 600 of
// them, so that 200 are in flight at once from the first tmax on; the
// first ones reserve before the Auction has measured the ledger. Every
// hold is released afterwards, and Redis must hold nothing reserved.
//
// The 99% is a measurement, taken alone on the machine
// (GAVEL_MEASURE=1 go test -race -count=10 -run TestLedgerDeadline): in
// the full suite, which runs other packages' tests beside it on the same
// two cores, the test guards the mechanism with 50%, so that a busy
// machine does not fail it (full -race runs under load saw 97.5% and
// 93.8%, and at a load average of 10-20, with the round trips slowed by
// the machine, the no-time gate of issue 13 held back 30-45%: 56.2%
// reserved); a clearing time that does not follow the ledger reserves far
// fewer (the trial that filed issue 8 saw 15 of 200 with 1ms).
func TestLedgerDeadline(t *testing.T) {
	want := int64(50)
	if os.Getenv("GAVEL_MEASURE") == "1" {
		want = 99
	}
	const (
		auctions = 600
		inFlight = 200
		tmax     = 100 * time.Millisecond
		account  = "dsp"
	)
	c := ledgerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l := newTestLedger(t, c)
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: account, Amount: MaxAmount}))
	a, err := gavel.New(gavel.WithBidders(lastMinuteDSP{name: account, margin: time.Millisecond}),
		gavel.WithLedger(l))
	require.NoError(t, err)
	defer a.Close(ctx)

	results := make([]*gavel.Result, auctions)
	errs := make([]error, auctions)
	var wg sync.WaitGroup
	arrivals := time.NewTicker(tmax / inFlight)
	for i := range auctions {
		<-arrivals.C
		wg.Go(func() {
			req := auctiontest.Request(fmt.Sprintf("auction-%d", i), auctiontest.BannerImp("imp-1", 0.5, [2]int64{300, 250}))
			req.TMax = tmax.Milliseconds()
			results[i], errs[i] = a.Run(ctx, req)
		})
	}
	arrivals.Stop()
	wg.Wait()

	var o burstOutcome
	for i, res := range results {
		require.NoError(t, errs[i], "auction %d", i)
		o.add(res)
		if h := res.Imps[0].Hold; h.ID != 0 {
			require.NoError(t, l.Release(ctx, h))
		}
	}
	t.Log(o)
	require.NoError(t, ctx.Err(), "the test ran out of time")
	require.GreaterOrEqual(t, o.valid*2, o.auctions, "too few auctions had a valid bid to measure: %v", o)
	require.GreaterOrEqual(t, int64(o.reserved)*100, int64(o.valid)*want, "%v: want at least %d%% reserved", o, want)
	require.Zero(t, o.refused, "%v", o)
	// Close releases the holds of the reservations whose caller gave up.
	assert.Equal(t, gavel.Balance{Budget: MaxAmount}, settled(t, l, account))
}

// TestLedgerManyImps runs an auction of 200 imps on the strict Redis
// ledger with default options: the winners of all imps are reserved, in
// one round trip of one script call (one account), within the deadline.
func TestLedgerManyImps(t *testing.T) {
	const imps = 200
	ctx := context.Background()
	c := &countingClient{Client: ledgerClient(t)}
	l := newTestLedger(t, c)
	require.NoError(t, l.SetBudget(ctx, gavel.Budget{Account: "dsp", Amount: MaxAmount}))
	var bids []openrtb2.Bid
	var reqImps []openrtb2.Imp
	for i := range imps {
		id := fmt.Sprint(i + 1)
		reqImps = append(reqImps, auctiontest.BannerImp(id, 0.5))
		bids = append(bids, auctiontest.Bid("b"+id, id, 2.5))
	}
	a, err := gavel.New(gavel.WithBidders(auctiontest.Fixed("dsp", bids...)), gavel.WithLedger(l))
	require.NoError(t, err)
	defer a.Close(ctx)
	multi, cmds := c.multi.Load(), c.multiCmds.Load()
	res, err := a.Run(ctx, auctiontest.Request("many", reqImps...))
	require.NoError(t, err)
	var held int64
	for i, ir := range res.Imps {
		require.NotZero(t, ir.Hold.ID, "imp %d: %+v", i, res.Bids[i])
		held += ir.Hold.Amount
	}
	assert.Equal(t, int64(1), c.multi.Load()-multi, "round trips")
	assert.Equal(t, int64(1), c.multiCmds.Load()-cmds, "script calls")
	assert.Equal(t, int64(imps*510), held, "each at the floor and the increment, second price")
	assert.Equal(t, held, ledgerBalanceOf(t, l, "dsp").Reserved)
}
