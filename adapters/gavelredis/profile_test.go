package gavelredis

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

// fullProfile has every field of a gavel.Profile set.
func fullProfile() *gavel.Profile {
	return &gavel.Profile{
		UserID: "u1",
		Segments: []openrtb2.Data{{
			ID:      "dmp",
			Name:    "acme-dmp",
			Segment: []openrtb2.Segment{{ID: "s1", Name: "sports", Value: "high"}, {ID: "s2"}},
			Ext:     json.RawMessage(`{"segtax":4}`),
		}},
		EIDs: []openrtb2.EID{{
			Source: "liveramp.com",
			UIDs:   []openrtb2.UID{{ID: "ramp-1", AType: 3}},
		}},
		Keywords:   []string{"news", "sports"},
		Attributes: map[string]string{"tier": "gold", "country": "FR"},
	}
}

func newTestProfileStore(t *testing.T, c rueidis.Client, prefix string, opts ...ProfileOption) *ProfileStore {
	t.Helper()
	s, err := NewProfileStore(c, append([]ProfileOption{testPrefix(prefix)}, opts...)...)
	require.NoError(t, err)
	return s
}

func TestProfileStoreRoundTrip(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	tests := []struct {
		name string
		p    *gavel.Profile
	}{
		{"all fields", fullProfile()},
		{"user id only", &gavel.Profile{UserID: "u2"}},
		{"empty", &gavel.Profile{}},
	}
	for _, cached := range []bool{true, false} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/cached=%v", tt.name, cached), func(t *testing.T) {
				var opts []ProfileOption
				if !cached {
					opts = append(opts, WithProfileCacheTTL(0))
				}
				s := newTestProfileStore(t, c, prefix, opts...)
				key := tt.name
				require.NoError(t, s.Put(ctx, key, tt.p, time.Minute))
				got, err := s.Profile(ctx, key)
				require.NoError(t, err)
				assert.Equal(t, tt.p, got)
				again, err := s.Profile(ctx, key)
				require.NoError(t, err)
				assert.Same(t, got, again, "the decoded profile is reused")
			})
		}
	}

	t.Run("schema", func(t *testing.T) {
		s := newTestProfileStore(t, c, prefix)
		require.NoError(t, s.Put(ctx, "schema", fullProfile(), time.Minute))
		raw, err := c.Do(ctx, c.B().Get().Key(prefix+"profile:schema").Build()).ToString()
		require.NoError(t, err)
		assert.JSONEq(t, `{"v":1,"uid":"u1",
			"segments":[{"id":"dmp","name":"acme-dmp","segment":[{"id":"s1","name":"sports","value":"high"},{"id":"s2"}],"ext":{"segtax":4}}],
			"eids":[{"source":"liveramp.com","uids":[{"id":"ramp-1","atype":3}]}],
			"kw":["news","sports"],"attrs":{"country":"FR","tier":"gold"}}`, raw)
		assert.Equal(t, prefix+"profile:schema", s.Key("schema"))
		pttl, err := c.Do(ctx, c.B().Pttl().Key(s.Key("schema")).Build()).AsInt64()
		require.NoError(t, err)
		assert.InDelta(t, time.Minute.Milliseconds(), pttl, 5_000)
	})
}

func TestProfileStoreMiss(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	for _, ttl := range []time.Duration{DefaultProfileCacheTTL, 0} {
		t.Run(fmt.Sprintf("cache=%v", ttl), func(t *testing.T) {
			s := newTestProfileStore(t, c, prefix, WithProfileCacheTTL(ttl))
			for range 2 { // the second from the client-side cache, when on
				p, err := s.Profile(ctx, "nobody")
				require.ErrorIs(t, err, gavel.ErrNoProfile)
				assert.Nil(t, p)
			}
			assert.Equal(t, int64(2), s.Stats().Misses)

			require.NoError(t, s.Put(ctx, "gone", fullProfile(), 0))
			_, err := s.Profile(ctx, "gone")
			require.NoError(t, err)
			require.NoError(t, s.Delete(ctx, "gone"))
			require.Eventually(t, func() bool {
				_, err := s.Profile(ctx, "gone")
				return err == gavel.ErrNoProfile
			}, 2*time.Second, 5*time.Millisecond, "a deleted profile is gone")
		})
	}
}

func TestProfileStoreBadRecords(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	s := newTestProfileStore(t, c, prefix)
	tests := []struct{ name, raw, want string }{
		{"newer schema", `{"v":2,"uid":"u1"}`, "schema version 2"},
		{"no version", `{"uid":"u1"}`, "schema version 0"},
		{"not json", `u1`, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, c.Do(ctx, c.B().Set().Key(s.Key(tt.name)).Value(tt.raw).Build()).Error())
			p, err := s.Profile(ctx, tt.name)
			require.Error(t, err)
			assert.NotErrorIs(t, err, gavel.ErrNoProfile)
			assert.Contains(t, err.Error(), tt.want)
			assert.Regexp(t, `^gavel: `, err.Error())
			assert.Nil(t, p)
		})
	}
	assert.Error(t, s.Put(ctx, "nil", nil, time.Minute))
	assert.Error(t, s.Put(ctx, "negative", fullProfile(), -time.Second))
}

func TestProfileStoreTTL(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	s := newTestProfileStore(t, c, prefix)
	require.NoError(t, s.Put(ctx, "short", fullProfile(), 150*time.Millisecond))
	_, err := s.Profile(ctx, "short")
	require.NoError(t, err, "cached now, for no longer than the key lives")
	require.Eventually(t, func() bool {
		_, err := s.Profile(ctx, "short")
		return err == gavel.ErrNoProfile
	}, 3*time.Second, 10*time.Millisecond, "the profile expires in Redis and in the client-side cache")
}

// TestProfileStoreCacheHit proves that a cached profile is served without a
// round trip: the client talks to Redis through a proxy that records what
// it sends, and the key is not sent again for the hits.
func TestProfileStoreCacheHit(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	writer := newTestProfileStore(t, c, prefix)
	require.NoError(t, writer.Put(ctx, "hot", fullProfile(), time.Minute))

	proxy, pc := profileProxyClient(t)
	s := newTestProfileStore(t, pc, prefix)
	first, err := s.Profile(ctx, "hot")
	require.NoError(t, err)
	sent := proxy.Count(s.Key("hot"))
	require.Positive(t, sent, "the first lookup goes to Redis")

	const hits = 100
	for range hits {
		p, err := s.Profile(ctx, "hot")
		require.NoError(t, err)
		require.Same(t, first, p)
	}
	assert.Equal(t, sent, proxy.Count(s.Key("hot")), "no lookup after the first reached Redis")
	st := s.Stats()
	assert.Equal(t, int64(hits+1), st.Lookups)
	assert.Equal(t, int64(hits), st.CacheHits)
	assert.Equal(t, int64(1), st.Decodes)

	// Served from memory even while the server does not answer.
	proxy.Blackhole()
	hctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	p, err := s.Profile(hctx, "hot")
	require.NoError(t, err)
	assert.Same(t, first, p)
}

// TestProfileStoreInvalidation has one client cache a profile and another
// change it: Redis tells the first to drop its copy.
func TestProfileStoreInvalidation(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	reader := newTestProfileStore(t, c, prefix, WithProfileCacheTTL(time.Hour))
	writer := newTestProfileStore(t, profileNewClient(t, redisAddr()), prefix)

	require.NoError(t, writer.Put(ctx, "u1", &gavel.Profile{UserID: "u1", Keywords: []string{"old"}}, time.Minute))
	p, err := reader.Profile(ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, []string{"old"}, p.Keywords)
	p, err = reader.Profile(ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, []string{"old"}, p.Keywords)
	require.Equal(t, int64(1), reader.Stats().CacheHits)

	require.NoError(t, writer.Put(ctx, "u1", &gavel.Profile{UserID: "u1", Keywords: []string{"new"}}, time.Minute))
	start := time.Now()
	require.Eventually(t, func() bool {
		p, err := reader.Profile(ctx, "u1")
		return err == nil && p.Keywords[0] == "new"
	}, 2*time.Second, time.Millisecond, "the cached copy is dropped when another client writes")
	t.Logf("new profile seen %v after the write", time.Since(start))

	// A miss is cached too, and dropped the same way.
	_, err = reader.Profile(ctx, "u2")
	require.ErrorIs(t, err, gavel.ErrNoProfile)
	require.NoError(t, writer.Put(ctx, "u2", &gavel.Profile{UserID: "u2"}, time.Minute))
	require.Eventually(t, func() bool {
		_, err := reader.Profile(ctx, "u2")
		return err == nil
	}, 2*time.Second, time.Millisecond)
}

// TestProfileStoreUnreachable looks profiles up while Redis cannot be
// reached: the lookup fails by its deadline, with an error that is not
// ErrNoProfile.
func TestProfileStoreUnreachable(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	require.NoError(t, newTestProfileStore(t, c, prefix).Put(ctx, "u1", fullProfile(), time.Minute))

	tests := []struct {
		name string
		fail func(*testProxy)
	}{
		{"closed port", (*testProxy).Close},
		{"server hangs", func(p *testProxy) { p.Blackhole() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy, pc := profileProxyClient(t)
			s := newTestProfileStore(t, pc, prefix)
			_, err := s.Profile(ctx, "u1")
			require.NoError(t, err)
			tt.fail(proxy)

			const timeout = 100 * time.Millisecond
			lctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			p, err := s.Profile(lctx, "u2") // not cached
			elapsed := time.Since(start)
			require.Error(t, err)
			assert.Nil(t, p)
			assert.NotErrorIs(t, err, gavel.ErrNoProfile)
			assert.Less(t, elapsed, timeout+50*time.Millisecond)
			t.Logf("failed after %v: %v", elapsed, err)
			assert.Positive(t, s.Stats().Errors)
		})
	}

	t.Run("ctx done", func(t *testing.T) {
		s := newTestProfileStore(t, c, prefix)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.Profile(cctx, "u1")
		assert.ErrorIs(t, err, context.Canceled)
	})
}

// TestProfileStoreAuction runs auctions with the store: a profile found in
// Redis reaches the bidders, and a Redis that cannot answer does not delay
// the auction.
func TestProfileStoreAuction(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	require.NoError(t, newTestProfileStore(t, c, prefix).Put(ctx, "u1", fullProfile(), time.Minute))

	tests := []struct {
		name string
		fail func(*testProxy)
		up   bool
	}{
		{"up", func(*testProxy) {}, true},
		// The client may retry the dial until the lookup's deadline: the
		// outcome is an error or a timeout.
		{"closed port", (*testProxy).Close, false},
		{"server hangs", func(p *testProxy) { p.Blackhole() }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy, pc := profileProxyClient(t)
			s := newTestProfileStore(t, pc, prefix)
			tt.fail(proxy)
			bidder := auctiontest.Fixed("a", auctiontest.Bid("a1", "1", 1))
			// A failing Redis must not hold the auction past tmax; a
			// working one gets the time a first lookup through the proxy
			// needs on a loaded machine.
			profileTimeout, tmax := 20*time.Millisecond, int64(100)
			if tt.up {
				profileTimeout, tmax = 500*time.Millisecond, 1000
			}
			a, err := gavel.New(gavel.WithBidders(bidder), gavel.WithProfileStore(s),
				gavel.WithProfileTimeout(profileTimeout))
			require.NoError(t, err)

			req := auctiontest.Request("r1", auctiontest.BannerImp("1", 0.1, [2]int64{300, 250}))
			req.User = &openrtb2.User{ID: "u1"}
			req.TMax = tmax
			start := time.Now()
			res, err := a.Run(ctx, req)
			elapsed := time.Since(start)
			require.NoError(t, err)
			assert.Less(t, elapsed, time.Duration(tmax)*time.Millisecond+30*time.Millisecond, "Run returns within tmax")
			require.NotNil(t, res.Winner("1"), "the auction goes on without the profile")
			st := a.Stats()
			if tt.up {
				assert.Equal(t, int64(1), st.ProfileHits)
				u := bidder.LastRequest().User
				require.NotNil(t, u)
				assert.Equal(t, []string{"news", "sports"}, u.KwArray)
				require.Len(t, u.Data, 1)
				assert.Equal(t, "dmp", u.Data[0].ID)
				return
			}
			assert.Zero(t, st.ProfileHits)
			assert.Equal(t, int64(1), st.ProfileErrors+st.ProfileTimeouts)
			t.Logf("profile errors %d, timeouts %d", st.ProfileErrors, st.ProfileTimeouts)
		})
	}
}

func TestNewProfileStoreOptions(t *testing.T) {
	c, _ := profileClient(t)
	tests := []struct {
		name   string
		client rueidis.Client
		opt    ProfileOption
		ok     bool
	}{
		{"defaults", c, WithKeyPrefix("x"), true},
		{"empty prefix", c, WithKeyPrefix(""), false},
		{"no cache", c, WithProfileCacheTTL(0), true},
		{"no decoded", c, WithProfileDecoded(0), true},
		{"negative ttl", c, WithProfileCacheTTL(-time.Second), false},
		{"negative decoded", c, WithProfileDecoded(-1), false},
		{"nil client", nil, WithKeyPrefix("x"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewProfileStore(tt.client, tt.opt)
			if tt.ok {
				require.NoError(t, err)
				require.NotNil(t, s)
				return
			}
			require.ErrorIs(t, err, gavel.ErrInvalidOption)
			assert.Nil(t, s)
		})
	}
}

func TestDecodedProfiles(t *testing.T) {
	d := newDecodedProfiles(64)
	p1, p2 := &gavel.Profile{UserID: "1"}, &gavel.Profile{UserID: "2"}
	d.put("k", "raw1", p1)
	assert.Same(t, p1, d.get("k", "raw1"))
	assert.Same(t, p1, d.get("k", string([]byte("raw1"))), "equal bytes elsewhere in memory")
	assert.Nil(t, d.get("k", "raw2"), "changed bytes are decoded again")
	d.put("k", "raw2", p2)
	assert.Same(t, p2, d.get("k", "raw2"))
	d.drop("k")
	assert.Nil(t, d.get("k", "raw2"))

	for i := range 10_000 {
		k := fmt.Sprint("key-", i)
		d.put(k, k, p1)
		if i%7 == 0 {
			d.drop(k)
			d.put(k, k, p1) // the key twice in the ring
		}
	}
	n := 0
	for i := range d.shards {
		n += len(d.shards[i].entries)
		assert.LessOrEqual(t, len(d.shards[i].entries), len(d.shards[i].order))
	}
	assert.LessOrEqual(t, n, 64)
	assert.Same(t, p1, d.get("key-9999", "key-9999"), "the newest stay")
}
