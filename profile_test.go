package gavel_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

func TestMemoryProfileStoreTTLAndCapacity(t *testing.T) {
	clk := auctiontest.NewClock(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	s, err := gavel.NewMemoryProfileStore(gavel.WithProfileTTL(time.Minute), gavel.WithProfileCapacity(64), gavel.WithProfileClock(clk))
	require.NoError(t, err)
	ctx := context.Background()

	s.Put("u1", &gavel.Profile{UserID: "u1"})
	p, err := s.Profile(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, "u1", p.UserID)

	clk.Advance(time.Minute)
	_, err = s.Profile(ctx, "u1")
	assert.ErrorIs(t, err, gavel.ErrNoProfile, "expired")
	assert.Equal(t, 0, s.Len(), "an expired profile is evicted when looked up")

	for i := range 1000 {
		s.Put(string(rune('a'+i%26))+string(rune(i)), &gavel.Profile{})
	}
	assert.LessOrEqual(t, s.Len(), 64, "the capacity is never exceeded")

	s.Put("keep", &gavel.Profile{UserID: "keep"})
	s.Delete("keep")
	_, err = s.Profile(ctx, "keep")
	assert.ErrorIs(t, err, gavel.ErrNoProfile)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Profile(canceled, "u1")
	assert.ErrorIs(t, err, context.Canceled)

	_, err = gavel.NewMemoryProfileStore(gavel.WithProfileCapacity(0))
	assert.ErrorIs(t, err, gavel.ErrInvalidOption)
}

func TestMemoryProfileStoreEvictsLeastRecentlyUsed(t *testing.T) {
	// One entry per shard at most: capacity below the shard count.
	s, err := gavel.NewMemoryProfileStore(gavel.WithProfileCapacity(1))
	require.NoError(t, err)
	s.Put("old", &gavel.Profile{})
	s.Put("new", &gavel.Profile{})
	_, err = s.Profile(context.Background(), "old")
	assert.ErrorIs(t, err, gavel.ErrNoProfile)
	_, err = s.Profile(context.Background(), "new")
	assert.NoError(t, err)
}

func TestMemoryProfileStoreLookupDoesNotAllocate(t *testing.T) {
	s, err := gavel.NewMemoryProfileStore()
	require.NoError(t, err)
	s.Put("u1", &gavel.Profile{UserID: "u1"})
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := s.Profile(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

type profileRecorder struct {
	mu       sync.Mutex
	outcomes []gavel.ProfileOutcome
}

func (h *profileRecorder) OnProfile(_ context.Context, _ string, o gavel.ProfileOutcome, _ time.Duration, _ error) {
	h.mu.Lock()
	h.outcomes = append(h.outcomes, o)
	h.mu.Unlock()
}

func enrichedRequest() *openrtb2.BidRequest {
	req := auctiontest.Request("r1", auctiontest.BannerImp("1", 0.5))
	req.User = &openrtb2.User{
		ID: "u1", BuyerUID: "b1",
		Data:    []openrtb2.Data{{ID: "own", Segment: []openrtb2.Segment{{ID: "s0"}}}},
		EIDs:    []openrtb2.EID{{Source: "id5-sync.com", UIDs: []openrtb2.UID{{ID: "id5-x"}}}},
		KwArray: []string{"news"},
	}
	return req
}

func TestRunEnrichesTheBiddersCopyOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, err := gavel.NewMemoryProfileStore()
		require.NoError(t, err)
		store.Put("u1", &gavel.Profile{
			UserID:     "u1",
			Segments:   []openrtb2.Data{{ID: "dmp", Segment: []openrtb2.Segment{{ID: "aud-1"}}}, {ID: "own"}},
			EIDs:       []openrtb2.EID{{Source: "liveramp.com", UIDs: []openrtb2.UID{{ID: "lr"}}}, {Source: "id5-sync.com"}},
			Keywords:   []string{"sports", "news"},
			Attributes: map[string]string{"tier": "gold"},
		})
		bidder := auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 1))
		hook := &profileRecorder{}
		a, err := gavel.New(gavel.WithBidders(bidder), gavel.WithProfileStore(store), gavel.WithHooks(hook))
		require.NoError(t, err)

		req := enrichedRequest()
		before, err := json.Marshal(req)
		require.NoError(t, err)
		_, err = a.Run(context.Background(), req)
		require.NoError(t, err)
		after, err := json.Marshal(req)
		require.NoError(t, err)
		assert.JSONEq(t, string(before), string(after), "the caller's request is not modified")

		u := bidder.LastRequest().User
		require.NotNil(t, u)
		assert.Equal(t, []string{"own", "dmp"}, dataIDs(u.Data), "profile segments added, the request's own win")
		assert.Equal(t, []string{"id5-sync.com", "liveramp.com"}, eidSources(u.EIDs))
		assert.Equal(t, []string{"news", "sports"}, u.KwArray)
		assert.JSONEq(t, `{"profile_attrs":{"tier":"gold"}}`, string(u.Ext))
		assert.Equal(t, []gavel.ProfileOutcome{gavel.ProfileHit}, hook.outcomes)
		assert.Equal(t, int64(1), a.Stats().ProfileHits)
	})
}

func dataIDs(ds []openrtb2.Data) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func eidSources(es []openrtb2.EID) []string {
	var s []string
	for _, e := range es {
		s = append(s, e.Source)
	}
	return s
}

func TestRunProfileFailuresNeverFailTheAuction(t *testing.T) {
	const timeout = 5 * time.Millisecond
	tests := []struct {
		name  string
		store func(release <-chan struct{}) gavel.ProfileStoreFunc
		want  gavel.ProfileOutcome
		took  time.Duration // how long Run takes: the lookup's, since the bidder answers at once
	}{
		{"missing", func(<-chan struct{}) gavel.ProfileStoreFunc {
			return func(context.Context, string) (*gavel.Profile, error) { return nil, gavel.ErrNoProfile }
		}, gavel.ProfileMiss, 0},
		{"failing", func(<-chan struct{}) gavel.ProfileStoreFunc {
			return func(context.Context, string) (*gavel.Profile, error) { return nil, errors.New("connection refused") }
		}, gavel.ProfileError, 0},
		{"slow", func(<-chan struct{}) gavel.ProfileStoreFunc {
			return func(ctx context.Context, _ string) (*gavel.Profile, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}
		}, gavel.ProfileTimeout, timeout},
		{"ignores ctx", func(release <-chan struct{}) gavel.ProfileStoreFunc {
			return func(context.Context, string) (*gavel.Profile, error) {
				<-release
				return &gavel.Profile{}, nil
			}
		}, gavel.ProfileTimeout, timeout},
		{"panics", func(<-chan struct{}) gavel.ProfileStoreFunc {
			return func(context.Context, string) (*gavel.Profile, error) { panic("store bug") }
		}, gavel.ProfileError, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				hook := &profileRecorder{}
				bidder := auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 1))
				a := mustAuction(t, gavel.WithBidders(bidder), gavel.WithProfileStore(tt.store(stuckRelease(t))),
					gavel.WithProfileTimeout(timeout), gavel.WithHooks(hook))
				res, took := timedRun(t, context.Background(), a, enrichedRequest())
				assert.Equal(t, tt.took, took, "a slow store holds the auction up for the lookup's timeout at most")
				require.NotNil(t, res.Winner("1"), "the auction goes on without the profile")
				assert.Equal(t, []gavel.ProfileOutcome{tt.want}, hook.outcomes)
				assert.Equal(t, []string{"own"}, dataIDs(bidder.LastRequest().User.Data))
			})
		})
	}
}

func TestProfileKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		req := enrichedRequest()
		assert.Equal(t, "u1", gavel.ProfileKeyUserID(req))
		assert.Equal(t, "b1", gavel.ProfileKeyBuyerUID(req))
		assert.Equal(t, "id5-x", gavel.ProfileKeyEID("id5-sync.com")(req))
		assert.Equal(t, "", gavel.ProfileKeyEID("nope")(req))
		assert.Equal(t, "", gavel.ProfileKeyUserID(&openrtb2.BidRequest{}))

		var looked []string
		store := gavel.ProfileStoreFunc(func(_ context.Context, key string) (*gavel.Profile, error) {
			looked = append(looked, key)
			return nil, gavel.ErrNoProfile
		})
		a, err := gavel.New(gavel.WithProfileStore(store),
			gavel.WithProfileKeys(gavel.ProfileKeyEID("nope"), gavel.ProfileKeyBuyerUID, gavel.ProfileKeyUserID))
		require.NoError(t, err)
		_, err = a.Run(context.Background(), req)
		require.NoError(t, err)
		assert.Equal(t, []string{"b1"}, looked, "the first key that is not empty")

		req.User = nil
		_, err = a.Run(context.Background(), req)
		require.NoError(t, err)
		assert.Equal(t, int64(1), a.Stats().ProfileNoKey)
	})
}

type inlineStore struct {
	gavel.ProfileStoreFunc
}

func (inlineStore) NonBlocking() {}

func TestNonBlockingProfileStoreIsCalledDirectly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var withDeadline []bool
		lookup := func(ctx context.Context, _ string) (*gavel.Profile, error) {
			_, ok := ctx.Deadline()
			withDeadline = append(withDeadline, ok)
			return nil, gavel.ErrNoProfile
		}
		for _, store := range []gavel.ProfileStore{gavel.ProfileStoreFunc(lookup), inlineStore{gavel.ProfileStoreFunc(lookup)}} {
			a, err := gavel.New(gavel.WithProfileStore(store))
			require.NoError(t, err)
			_, err = a.Run(context.Background(), enrichedRequest())
			require.NoError(t, err)
		}
		assert.Equal(t, []bool{true, false}, withDeadline,
			"a store is bounded by a deadline of its own, unless it is NonBlocking")
	})
}

// A store that panics fails its lookup, never the auction, whether Run
// calls it in a goroutine of its own or directly (NonBlocking).
func TestPanickingProfileStoreNeverFailsTheAuction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		panicky := gavel.ProfileStoreFunc(func(context.Context, string) (*gavel.Profile, error) { panic("corrupt shard") })
		for _, store := range []gavel.ProfileStore{panicky, inlineStore{panicky}} {
			hook := &profileErrs{}
			a := mustAuction(t, gavel.WithProfileStore(store), gavel.WithHooks(hook),
				gavel.WithBidders(auctiontest.Fixed("dsp", auctiontest.Bid("d1", "1", 2))))
			res, err := a.Run(context.Background(), enrichedRequest())
			require.NoError(t, err)
			assert.NotNil(t, res.Winner("1"))
			assert.Equal(t, int64(1), a.Stats().ProfileErrors)
			require.Len(t, hook.errs, 1)
			assert.EqualError(t, hook.errs[0], "gavel: profile store panicked: corrupt shard")
		}
	})
}

type profileErrs struct{ errs []error }

func (h *profileErrs) OnProfile(_ context.Context, _ string, _ gavel.ProfileOutcome, _ time.Duration, err error) {
	if err != nil {
		h.errs = append(h.errs, err)
	}
}
