package gavelredis

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// profileSource is a source of truth of n profiles, user-0 to user-(n-1);
// every hundredth lives an hour, the others until deleted. It fails with
// fail after failAt entries (failAt < 0: never), and counts its reads.
func profileSource(n, failAt int, fail error, reads *atomic.Int64) iter.Seq2[ProfileEntry, error] {
	return func(yield func(ProfileEntry, error) bool) {
		if reads != nil {
			reads.Add(1)
		}
		for i := range n {
			if i == failAt {
				yield(ProfileEntry{}, fail)
				return
			}
			e := ProfileEntry{Key: fmt.Sprintf("user-%d", i), Profile: &gavel.Profile{UserID: fmt.Sprintf("u%d", i), Keywords: []string{"k"}}}
			if i%100 == 0 {
				e.TTL = time.Hour
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// withInvalid adds two invalid entries to src.
func withInvalid(src iter.Seq2[ProfileEntry, error]) iter.Seq2[ProfileEntry, error] {
	return func(yield func(ProfileEntry, error) bool) {
		if !yield(ProfileEntry{Key: "nil"}, nil) || !yield(ProfileEntry{Key: "neg", Profile: &gavel.Profile{}, TTL: -1}, nil) {
			return
		}
		src(yield)
	}
}

// wipe deletes every key of the test's prefix, the mark of a finished
// load last (a KeepLoaded that sees it gone reloads at once): what a Redis
// restarted empty holds of the store.
func wipe(t *testing.T, s *ProfileStore, prefix string) {
	t.Helper()
	ctx := context.Background()
	var keys []string
	var cursor uint64
	for {
		e, err := s.client.Do(ctx, s.client.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		require.NoError(t, err)
		keys = append(keys, e.Elements...)
		if cursor = e.Cursor; cursor == 0 {
			break
		}
	}
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == s.loadedKey() })
	if len(keys) > 0 {
		require.NoError(t, s.client.Do(ctx, s.client.B().Del().Key(keys...).Build()).Error())
	}
	require.NoError(t, s.client.Do(ctx, s.client.B().Del().Key(s.loadedKey()).Build()).Error())
}

// TestProfileLoad loads profiles in batches, with their TTLs, skips the
// invalid entries, marks the store loaded, and reads the profiles back.
func TestProfileLoad(t *testing.T) {
	c, prefix := profileClient(t)
	s := newTestProfileStore(t, c, prefix, WithProfileCacheTTL(0))
	ctx := context.Background()
	const n = 2*DefaultLoadBatch + 100
	loaded, err := s.Loaded(ctx)
	require.NoError(t, err)
	assert.False(t, loaded)

	st, err := s.Load(ctx, withInvalid(profileSource(n, -1, nil, nil)))
	require.NoError(t, err)
	assert.Equal(t, n, st.Written)
	assert.Equal(t, 2, st.Invalid)
	require.Len(t, st.InvalidKeys, 2)
	assert.ErrorContains(t, st.InvalidKeys[0], `"nil"`)
	assert.ErrorContains(t, st.InvalidKeys[1], `"neg"`)
	loaded, err = s.Loaded(ctx)
	require.NoError(t, err)
	assert.True(t, loaded)

	for _, i := range []int{0, 1, 99, 100, n - 1} {
		p, err := s.Profile(ctx, fmt.Sprintf("user-%d", i))
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("u%d", i), p.UserID)
		ttl, err := c.Do(ctx, c.B().Pttl().Key(s.Key(fmt.Sprintf("user-%d", i))).Build()).AsInt64()
		require.NoError(t, err)
		if i%100 == 0 {
			assert.InDelta(t, time.Hour.Milliseconds(), ttl, float64(time.Minute.Milliseconds()), "user-%d", i)
		} else {
			assert.Equal(t, int64(-1), ttl, "user-%d: no TTL", i)
		}
	}
	_, err = s.Profile(ctx, "neg")
	require.ErrorIs(t, err, gavel.ErrNoProfile)
}

// TestProfileLoadFails stops at a source's error and at a done ctx, with
// what was written, and leaves the store unmarked.
func TestProfileLoadFails(t *testing.T) {
	c, prefix := profileClient(t)
	s := newTestProfileStore(t, c, prefix, WithProfileCacheTTL(0))
	ctx := context.Background()
	boom := errors.New("database gone")
	st, err := s.Load(ctx, profileSource(2*DefaultLoadBatch, DefaultLoadBatch+5, boom, nil))
	require.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, "gavel: redis profile load: source: ")
	assert.Equal(t, DefaultLoadBatch, st.Written, "the first batch went")
	loaded, err := s.Loaded(ctx)
	require.NoError(t, err)
	assert.False(t, loaded)

	done, cancel := context.WithCancel(ctx)
	cancel()
	st, err = s.Load(done, profileSource(10, -1, nil, nil))
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, st.Written)
}

// TestProfileReloadIfLost loads once, then not again while the mark is
// there, and again once Redis lost everything.
func TestProfileReloadIfLost(t *testing.T) {
	c, prefix := profileClient(t)
	s := newTestProfileStore(t, c, prefix, WithProfileCacheTTL(0))
	ctx := context.Background()
	var reads atomic.Int64
	src := profileSource(50, -1, nil, &reads)

	did, st, err := s.ReloadIfLost(ctx, src)
	require.NoError(t, err)
	assert.True(t, did)
	assert.Equal(t, 50, st.Written)
	did, _, err = s.ReloadIfLost(ctx, src)
	require.NoError(t, err)
	assert.False(t, did)
	assert.Equal(t, int64(1), reads.Load())

	wipe(t, s, prefix)
	_, err = s.Profile(ctx, "user-7")
	require.ErrorIs(t, err, gavel.ErrNoProfile)
	did, st, err = s.ReloadIfLost(ctx, src)
	require.NoError(t, err)
	assert.True(t, did)
	assert.Equal(t, 50, st.Written)
	p, err := s.Profile(ctx, "user-7")
	require.NoError(t, err)
	assert.Equal(t, "u7", p.UserID)
}

// TestProfileKeepLoaded reloads the profiles after Redis lost them, by
// itself, and returns when ctx ends.
func TestProfileKeepLoaded(t *testing.T) {
	c, prefix := profileClient(t)
	s := newTestProfileStore(t, c, prefix, WithProfileCacheTTL(0))
	require.Error(t, s.KeepLoaded(context.Background(), 0, nil, nil))
	ctx, cancel := context.WithCancel(context.Background())
	var loads atomic.Int64
	done := make(chan error, 1)
	go func() {
		done <- s.KeepLoaded(ctx, 10*time.Millisecond, profileSource(20, -1, nil, nil), func(st LoadStats, err error) {
			assert.NoError(t, err)
			assert.Equal(t, 20, st.Written)
			loads.Add(1)
		})
	}()
	require.Eventually(t, func() bool { return loads.Load() == 1 }, 10*time.Second, time.Millisecond)
	wipe(t, s, prefix)
	require.Eventually(t, func() bool { return loads.Load() == 2 }, 10*time.Second, time.Millisecond)
	p, err := s.Profile(context.Background(), "user-3")
	require.NoError(t, err)
	assert.Equal(t, "u3", p.UserID)
	cancel()
	require.NoError(t, <-done)
}
