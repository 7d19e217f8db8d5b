package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func onlyBid(t *testing.T, resp *openrtb2.BidResponse) (string, openrtb2.Bid) {
	t.Helper()
	require.NotNil(t, resp)
	require.Len(t, resp.SeatBid, 1)
	require.Len(t, resp.SeatBid[0].Bid, 1)
	return resp.SeatBid[0].Seat, resp.SeatBid[0].Bid[0]
}

func TestBidFields(t *testing.T) {
	c := validCampaign("c")
	c.Targeting.Deals = []string{"d1"}
	c.Creatives[0].Cat = []string{"IAB1"}
	b, err := campaign.NewBidder("house", campaign.WithCampaigns(c),
		campaign.WithClickURL(func(ci campaign.ClickInfo) string {
			return "https://t.example/click?c=" + ci.CampaignID + "&p=" + fmt.Sprint(ci.PriceMicros) + "&to=" + ci.Landing
		}),
		campaign.WithNoticeURLs("https://n.example/win?id={{BID_ID}}&price=${AUCTION_PRICE}", "https://n.example/bill?c={{CAMPAIGN_ID}}&a={{ACCOUNT}}", ""))
	require.NoError(t, err)
	req := baseRequest()
	deal(req, 1, "d1")
	resp, err := b.Bid(context.Background(), req)
	require.NoError(t, err)
	seat, bid := onlyBid(t, resp)
	assert.Equal(t, "acct-c", seat)
	assert.Equal(t, "USD", resp.Cur)
	assert.Equal(t, 2.0, bid.Price)
	assert.Equal(t, "d1", bid.DealID)
	assert.Equal(t, "b1", bid.CrID)
	assert.Equal(t, "c", bid.CID)
	assert.Equal(t, openrtb2.MarkupBanner, bid.MType)
	assert.Equal(t, []string{"adv.example"}, bid.ADomain)
	assert.Equal(t, []string{"IAB1"}, bid.Cat)
	assert.Equal(t, int64(300), bid.W)
	click := "https://t.example/click?c=c&p=2000000&to=https://adv.example/"
	assert.Equal(t, `<a href="`+html.EscapeString(click)+`">ad</a>`, bid.AdM)
	assert.Equal(t, "https://n.example/win?id="+bid.ID+"&price=${AUCTION_PRICE}", bid.NURL)
	assert.Equal(t, "https://n.example/bill?c=c&a=acct-c", bid.BURL)
	assert.Empty(t, bid.LURL)
	id, err := campaign.ParseBidID(bid.ID)
	require.NoError(t, err)
	assert.Equal(t, "c", id.Campaign)
	assert.Equal(t, "b1", id.Creative)
	assert.NotEqual(t, campaign.NoUser, id.User)
}

func TestBestBidPerImp(t *testing.T) {
	lo, hi, capped := validCampaign("lo"), validCampaign("hi"), validCampaign("capped")
	hi.Goal.Value = 3_000_000
	capped.Goal.Value, capped.BidCapMicros = 9_000_000, 2_500_000
	b, err := campaign.NewBidder("house", campaign.WithCampaigns(lo, hi, capped))
	require.NoError(t, err)
	req := baseRequest()
	req.Imp = append(req.Imp, auctiontest.BannerImp("2", 0, [2]int64{300, 250}), auctiontest.VideoImp("3", 0))
	resp, err := b.Bid(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, resp.SeatBid, 1)
	assert.Equal(t, "acct-hi", resp.SeatBid[0].Seat)
	require.Len(t, resp.SeatBid[0].Bid, 2, "one bid per imp, none for the video imp")
	assert.Equal(t, []string{"1", "2"}, []string{resp.SeatBid[0].Bid[0].ImpID, resp.SeatBid[0].Bid[1].ImpID})
	assert.Equal(t, 3.0, resp.SeatBid[0].Bid[0].Price)
	assert.Equal(t, int64(2), b.Stats().Bids)
}

func TestGoals(t *testing.T) {
	fail := errors.New("model down")
	tests := []struct {
		name      string
		goal      campaign.Goal
		predictor campaign.Predictor
		want      float64 // CPM; 0: no bid
	}{
		{"cpm", campaign.Goal{Kind: campaign.GoalCPM, Value: 1_500_000}, nil, 1.5},
		{"cpc fallback rate", campaign.Goal{Kind: campaign.GoalCPC, Value: 500_000, FallbackCTR: 0.004}, nil, 2},
		{"cpc capped", campaign.Goal{Kind: campaign.GoalCPC, Value: 5_000_000, FallbackCTR: 0.01}, nil, 5},
		{"cpa", campaign.Goal{Kind: campaign.GoalCPA, Value: 20_000_000, FallbackCTR: 0.01, FallbackCVR: 0.01}, nil, 2},
		{"cpc predicted", campaign.Goal{Kind: campaign.GoalCPC, Value: 1_000_000, FallbackCTR: 0.5}, rates(0.001, 0, nil), 1},
		{"predictor fails: skip", campaign.Goal{Kind: campaign.GoalCPC, Value: 1_000_000, FallbackCTR: 0.001}, rates(0, 0, fail), 0},
		{"predictor fails: fall back", campaign.Goal{Kind: campaign.GoalCPC, Value: 1_000_000, FallbackCTR: 0.001,
			OnPredictorError: campaign.FallbackOnError}, rates(0, 0, fail), 1},
		{"predictor out of range", campaign.Goal{Kind: campaign.GoalCPC, Value: 1_000_000}, rates(2, 0, nil), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validCampaign("c")
			c.Goal = tt.goal
			opts := []campaign.Option{campaign.WithCampaigns(c)}
			if tt.predictor != nil {
				opts = append(opts, campaign.WithPredictor(tt.predictor))
			}
			b, err := campaign.NewBidder("house", opts...)
			require.NoError(t, err)
			req := baseRequest()
			req.Imp[0].BidFloor = 0
			resp, err := b.Bid(context.Background(), req)
			require.NoError(t, err)
			if tt.want == 0 {
				assert.Nil(t, resp)
				assert.Equal(t, int64(1), b.Stats().PredictorErrors)
				return
			}
			_, bid := onlyBid(t, resp)
			assert.InDelta(t, tt.want, bid.Price, 1e-9)
		})
	}
}

func rates(ctr, cvr float64, err error) campaign.Predictor {
	return campaign.PredictorFunc(func(context.Context, *openrtb2.BidRequest, *openrtb2.Imp, *campaign.Campaign, *campaign.Creative) (campaign.Prediction, error) {
		return campaign.Prediction{CTR: ctr, CVR: cvr}, err
	})
}

func TestNewBidderNamesEveryProblem(t *testing.T) {
	capped := validCampaign("capped")
	capped.Caps = []campaign.FrequencyCap{{Max: 1, Period: campaign.PeriodDay}}
	_, err := campaign.NewBidder("",
		campaign.WithCampaigns(validCampaign("a"), validCampaign("a"), capped, &campaign.Campaign{ID: "bad"}),
		campaign.WithBudgets(gavel.Budget{Account: "acct-a", Amount: 1}, gavel.Budget{Account: "acct-a", Amount: 1}),
		campaign.WithCurrency("dollars"), campaign.WithRecordTimeout(0))
	require.Error(t, err)
	assert.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, want := range []string{"name must not be empty", "given twice", "no FrequencyStore", "declared twice",
		"currency", "record timeout", `"capped": account "acct-capped" has no budget`, `campaign "bad": account must not be empty`} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestChanges(t *testing.T) {
	b, err := campaign.NewBidder("house")
	require.NoError(t, err)
	ctx := context.Background()
	resp, err := b.Bid(ctx, baseRequest())
	require.NoError(t, err)
	assert.Nil(t, resp)

	require.NoError(t, b.Set(validCampaign("a"), validCampaign("b")))
	resp, _ = b.Bid(ctx, baseRequest())
	seat, _ := onlyBid(t, resp)
	assert.Equal(t, "acct-a", seat, "a tie goes to the lowest id")

	assert.Equal(t, 1, b.Pause("a", "nope"))
	assert.Equal(t, 0, b.Pause("a"))
	resp, _ = b.Bid(ctx, baseRequest())
	seat, _ = onlyBid(t, resp)
	assert.Equal(t, "acct-b", seat)
	c, ok := b.Campaign("a")
	require.True(t, ok)
	assert.True(t, c.Paused)

	assert.Equal(t, 1, b.Resume("a"))
	assert.Equal(t, 1, b.Remove("a"))
	assert.Len(t, b.Campaigns(), 1)
	require.Error(t, b.Set(validCampaign("x"), &campaign.Campaign{ID: "bad"}))
	assert.Len(t, b.Campaigns(), 1, "a failed Set changes nothing")
	require.NoError(t, b.Replace(validCampaign("z")))
	cs := b.Campaigns()
	require.Len(t, cs, 1)
	assert.Equal(t, "z", cs[0].ID)
}

// TestConcurrentChanges changes campaigns 1,000 times while 50 goroutines
// bid: every bid must come from a campaign state that existed.
func TestConcurrentChanges(t *testing.T) {
	b, err := campaign.NewBidder("house", campaign.WithCampaigns(validCampaign("c0")))
	require.NoError(t, err)
	var states sync.Map // "<campaign>/<creative>" → price micros
	states.Store("c0/b1", int64(2_000_000))
	version := func(id string, n int) *campaign.Campaign {
		c := validCampaign(id)
		c.Creatives[0].ID = fmt.Sprintf("v%d", n)
		c.Goal.Value = 1_000_000 + int64(n)
		states.Store(id+"/"+c.Creatives[0].ID, c.Goal.Value)
		return c
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var bids, bad sync.Map
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				req := baseRequest()
				req.ID = fmt.Sprintf("r%d-%d", g, n)
				resp, _ := b.Bid(ctx, req)
				if resp == nil {
					continue
				}
				for _, sb := range resp.SeatBid {
					for _, bid := range sb.Bid {
						price, ok := states.Load(bid.CID + "/" + bid.CrID)
						if !ok || price.(int64) != int64(bid.Price*1e6+0.5) || sb.Seat != "acct-"+bid.CID {
							bad.Store(bid.ID, bid)
						}
						bids.Store(g, true)
					}
				}
			}
		}()
	}
	for n := range 1000 {
		id := fmt.Sprintf("c%d", n%7)
		switch n % 5 {
		case 0, 1, 2:
			require.NoError(t, b.Set(version(id, n)))
		case 3:
			b.Pause(id)
		case 4:
			b.Remove(fmt.Sprintf("c%d", (n+3)%7))
		}
	}
	cancel()
	wg.Wait()
	bad.Range(func(k, v any) bool {
		t.Errorf("bid %v from a state that never existed: %+v", k, v)
		return true
	})
	n := 0
	bids.Range(func(any, any) bool { n++; return true })
	assert.Positive(t, n, "the goroutines must have bid")
}

// TestBidderInAuction runs the Bidder in a real Auction with a MemoryLedger
// and budgets. With the Ledger's balances, the campaign whose account
// cannot afford the imp does not bid, and the other wins on its own
// account; without, the broke campaign's bid is refused by the Ledger.
func TestBidderInAuction(t *testing.T) {
	for _, balances := range []bool{true, false} {
		t.Run(fmt.Sprintf("balances=%v", balances), func(t *testing.T) {
			broke, rich := validCampaign("broke"), validCampaign("rich")
			broke.Goal.Value = 4_000_000
			budgets := campaign.WithBudgets(gavel.Budget{Account: "acct-broke", Amount: 1},
				gavel.Budget{Account: "acct-rich", Amount: 1_000_000})
			ledger, err := gavel.NewMemoryLedger()
			require.NoError(t, err)
			opts := []campaign.Option{campaign.WithCampaigns(broke, rich), budgets}
			if balances {
				opts = append(opts, campaign.WithBalances(ledger))
			}
			b, err := campaign.NewBidder("house", opts...)
			require.NoError(t, err)
			a, err := gavel.New(gavel.WithBidders(b), gavel.WithBidderSeats(b.Name(), b.Accounts()...),
				gavel.WithAccounts(b.AccountFunc(gavel.BidderAccount)), gavel.WithLedger(ledger),
				gavel.WithBudgets(b.Budgets()...))
			require.NoError(t, err)
			defer func() { require.NoError(t, a.Close(context.Background())) }()

			res, err := a.Run(context.Background(), baseRequest())
			require.NoError(t, err)
			bal, err := ledger.Balance(context.Background(), "acct-broke")
			require.NoError(t, err)
			assert.Zero(t, bal.Reserved, "the broke account spent nothing")
			if !balances {
				// The Bidder sends one bid per imp, the best: the broke
				// campaign's, which the Ledger refuses.
				require.Len(t, res.Bids, 1)
				assert.Equal(t, "acct-broke", res.Bids[0].Seat)
				assert.False(t, res.Bids[0].Won)
				assert.Equal(t, -1, res.Imps[0].Winner)
				return
			}
			assert.Equal(t, int64(1), b.Stats().Unaffordable)
			require.GreaterOrEqual(t, res.Imps[0].Winner, 0)
			require.Len(t, res.Bids, 1, "the broke campaign did not bid")
			win := res.Bids[res.Imps[0].Winner]
			assert.Equal(t, "acct-rich", win.Seat)
			assert.Equal(t, "acct-rich", res.Imps[0].Hold.Account)
			assert.Positive(t, res.Imps[0].Hold.Amount)
		})
	}
}

func TestPacedCampaignDoesNotBid(t *testing.T) {
	held := gavel.Pacer(pacerFunc(func(account string) bool { return account != "acct-held" }))
	a, b := validCampaign("a"), validCampaign("held")
	b.Goal.Value = 3_000_000
	bd, err := campaign.NewBidder("house", campaign.WithCampaigns(a, b), campaign.WithPacer(held))
	require.NoError(t, err)
	resp, err := bd.Bid(context.Background(), baseRequest())
	require.NoError(t, err)
	seat, _ := onlyBid(t, resp)
	assert.Equal(t, "acct-a", seat)
	assert.Equal(t, int64(1), bd.Stats().Paced)
}

type pacerFunc func(account string) bool

func (f pacerFunc) Allow(_ context.Context, account string, _ uint64) bool { return f(account) }
func (pacerFunc) Spend(context.Context, string, int64)                     {}

func TestFrequencyCaps(t *testing.T) {
	clock := auctiontest.NewClock(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
	store, err := campaign.NewMemoryFrequencyStore()
	require.NoError(t, err)
	c := validCampaign("c")
	c.Caps = []campaign.FrequencyCap{{Max: 2, Period: campaign.PeriodDay}, {Scope: campaign.ScopeAdvertiser, Max: 5, Period: campaign.PeriodHour}}
	b, err := campaign.NewBidder("house", campaign.WithCampaigns(c), campaign.WithFrequencyStore(store), campaign.WithClock(clock))
	require.NoError(t, err)
	ctx := context.Background()
	for range 2 {
		resp, err := b.Bid(ctx, baseRequest())
		require.NoError(t, err)
		_, bid := onlyBid(t, resp)
		b.Billed(gavel.Billing{Bidder: "house", BidID: bid.ID}, 2000)
	}
	resp, err := b.Bid(ctx, baseRequest())
	require.NoError(t, err)
	assert.Nil(t, resp, "at the cap")
	assert.Equal(t, int64(1), b.Stats().FrequencyCapped)

	other := baseRequest()
	other.User.ID = "u2"
	resp, _ = b.Bid(ctx, other)
	assert.NotNil(t, resp, "another user is not capped")

	clock.Advance(24 * time.Hour)
	resp, _ = b.Bid(ctx, baseRequest())
	assert.NotNil(t, resp, "a new day")

	anon := baseRequest()
	anon.User = nil
	resp, _ = b.Bid(ctx, anon)
	assert.Nil(t, resp, "a capped campaign does not bid without a user")
	assert.Equal(t, int64(1), b.Stats().FrequencySkips)
	assert.Zero(t, b.Stats().RecordErrors)
}

type failingStore struct{ campaign.FrequencyStore }

func (failingStore) Counts(ctx context.Context, _ string, _ []campaign.CapKey, _ time.Time) ([]int64, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (failingStore) Record(context.Context, string, []campaign.CapKey, time.Time) error {
	return errors.New("down")
}

func TestFrequencyStoreDownFailsClosed(t *testing.T) {
	capped, free := validCampaign("capped"), validCampaign("free")
	capped.Goal.Value = 3_000_000
	capped.Caps = []campaign.FrequencyCap{{Max: 2, Period: campaign.PeriodDay}}
	b, err := campaign.NewBidder("house", campaign.WithCampaigns(capped, free), campaign.WithFrequencyStore(failingStore{}),
		campaign.WithRecordTimeout(time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	resp, err := b.Bid(ctx, baseRequest())
	require.NoError(t, err)
	seat, bid := onlyBid(t, resp)
	assert.Equal(t, "acct-free", seat, "the capped campaign skipped")
	assert.Equal(t, int64(1), b.Stats().FrequencySkips)
	b.Billed(gavel.Billing{Bidder: "house", BidID: strings.Replace(bid.ID, "free.", "capped.", 1)}, 1)
	assert.Equal(t, int64(1), b.Stats().RecordErrors)
}

// TestBilledThroughAuction bills the winner of a real Auction and tells
// the Bidder (as gavelhttp's Notices would through WithNoticesHooks): the
// frequency-capped campaign then leaves the user alone, and the other
// campaign wins on its own account. It runs with the Bidder on a goroutine
// of its own and, Inline, on Run's.
func TestBilledThroughAuction(t *testing.T) {
	for _, inline := range []bool{false, true} {
		t.Run(fmt.Sprint("inline=", inline), func(t *testing.T) { billThroughAuction(t, inline) })
	}
}

func billThroughAuction(t *testing.T, inline bool) {
	capped, other := validCampaign("capped"), validCampaign("other")
	capped.Goal.Value = 3_000_000
	capped.Caps = []campaign.FrequencyCap{{Max: 1, Period: campaign.PeriodDay}}
	store, err := campaign.NewMemoryFrequencyStore()
	require.NoError(t, err)
	b, err := campaign.NewBidder("house", campaign.WithCampaigns(capped, other), campaign.WithFrequencyStore(store),
		campaign.WithBudgets(gavel.Budget{Account: "acct-capped", Amount: 1_000_000}, gavel.Budget{Account: "acct-other", Amount: 1_000_000}))
	require.NoError(t, err)
	ledger, err := gavel.NewMemoryLedger()
	require.NoError(t, err)
	var bidder gavel.Bidder = b
	if inline {
		bidder = b.Inline()
		_, ok := bidder.(gavel.NonBlocking)
		require.True(t, ok, "Inline is NonBlocking")
	}
	a, err := gavel.New(gavel.WithBidders(bidder), gavel.WithBidderSeats(b.Name(), b.Accounts()...),
		gavel.WithAccounts(b.AccountFunc(gavel.BidderAccount)), gavel.WithLedger(ledger), gavel.WithBudgets(b.Budgets()...))
	require.NoError(t, err)
	defer func() { require.NoError(t, a.Close(context.Background())) }()
	ctx := context.Background()

	winner := func() (string, gavel.Billing) {
		res, err := a.Run(ctx, baseRequest())
		require.NoError(t, err)
		w := res.Imps[0].Winner
		require.GreaterOrEqual(t, w, 0)
		bl, err := res.Billing(w)
		require.NoError(t, err)
		return res.Bids[w].Seat, bl
	}
	seat, bl := winner()
	require.Equal(t, "acct-capped", seat)
	require.NoError(t, a.Commit(ctx, bl, bl.Hold.Amount))
	b.Billed(bl, bl.Hold.Amount)
	seat, _ = winner()
	assert.Equal(t, "acct-other", seat)
	assert.Equal(t, int64(1), b.Stats().FrequencyCapped)
	assert.ErrorIs(t, b.Record(ctx, "not-a-bid-id"), campaign.ErrBidID)
}

func TestUserKey(t *testing.T) {
	userOf := func(t *testing.T, b *campaign.Bidder, req *openrtb2.BidRequest) string {
		t.Helper()
		resp, err := b.Bid(context.Background(), req)
		require.NoError(t, err)
		_, bid := onlyBid(t, resp)
		id, err := campaign.ParseBidID(bid.ID)
		require.NoError(t, err)
		return id.User
	}
	b, err := campaign.NewBidder("house", campaign.WithCampaigns(validCampaign("c")))
	require.NoError(t, err)
	byID := userOf(t, b, baseRequest())
	req := baseRequest()
	req.User.ID, req.User.BuyerUID = "", "u1"
	assert.Equal(t, byID, userOf(t, b, req), "buyeruid when there is no user id, hashed alike")
	req.User.BuyerUID = ""
	assert.Equal(t, campaign.NoUser, userOf(t, b, req))

	eid := campaign.WithUserKey(func(r *openrtb2.BidRequest) string {
		if r.User != nil && len(r.User.EIDs) > 0 && len(r.User.EIDs[0].UIDs) > 0 {
			return r.User.EIDs[0].UIDs[0].ID
		}
		return ""
	})
	b, err = campaign.NewBidder("house", campaign.WithCampaigns(validCampaign("c")), eid)
	require.NoError(t, err)
	req = baseRequest()
	req.User.EIDs = []openrtb2.EID{{Source: "id.example", UIDs: []openrtb2.UID{{ID: "u1"}}}}
	assert.Equal(t, byID, userOf(t, b, req))
	assert.Equal(t, int64(1), b.Stats().Requests)
}
