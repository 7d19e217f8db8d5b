package gavelredis

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
)

// Profiles after a restart: Redis keeps profiles only as long as its
// persistence does. A Redis restarted empty has none until they are
// written again, so the store can reload them from their source of truth
// (a database, a file, a data pipeline's output) that the user points it
// at, and tell whether Redis lost them.

// DefaultLoadBatch is the number of profiles Load writes in one pipelined
// round trip.
const DefaultLoadBatch = 512

// ProfileEntry is one profile of a source of truth, for Load: Profile
// stored under Key for TTL (0: until deleted), as Put stores it.
type ProfileEntry struct {
	Key     string
	Profile *gavel.Profile
	TTL     time.Duration
}

// LoadStats says what Load did.
type LoadStats struct {
	Written int // profiles written
	Invalid int // entries not written: a nil profile, a negative TTL, or one that does not encode
	// InvalidKeys are the keys of the first MaxInvalidKeys invalid
	// entries, with what is wrong with each.
	InvalidKeys []error
}

// MaxInvalidKeys bounds LoadStats.InvalidKeys.
const MaxInvalidKeys = 20

// Load writes every profile of src into the store, as Put would (a
// profile already there is replaced, and the clients that cache it are
// told), in pipelined batches of DefaultLoadBatch: one round trip per
// batch. An invalid entry is skipped and counted in LoadStats. Once src
// is exhausted and every write succeeded, Load marks the store loaded
// (see Loaded).
//
// Load stops at the first error of src (the second value of a pair) or of
// Redis, and returns it with what was written until then; the store is
// then not marked loaded, and loading again writes the same profiles
// again, which does no harm. If ctx is done, it returns ctx.Err().
// Profiles Put meanwhile by other writers may be overwritten by src's:
// src is taken as the truth.
func (s *ProfileStore) Load(ctx context.Context, src iter.Seq2[ProfileEntry, error]) (LoadStats, error) {
	var st LoadStats
	batch := make(rueidis.Commands, 0, DefaultLoadBatch)
	for e, err := range src {
		if err != nil {
			return st, fmt.Errorf("gavel: redis profile load: source: %w", err)
		}
		cmd, err := s.putCommand(e.Key, e.Profile, e.TTL)
		if err != nil {
			st.Invalid++
			if len(st.InvalidKeys) < MaxInvalidKeys {
				st.InvalidKeys = append(st.InvalidKeys, err)
			}
			continue
		}
		if batch = append(batch, cmd); len(batch) == cap(batch) {
			if err := s.writeBatch(ctx, batch, &st); err != nil {
				return st, err
			}
			batch = batch[:0]
		}
	}
	if err := s.writeBatch(ctx, batch, &st); err != nil {
		return st, err
	}
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	if err := s.client.Do(ctx, s.client.B().Set().Key(s.loadedKey()).Value(now).Build()).Error(); err != nil {
		return st, fmt.Errorf("gavel: redis profile load: marking loaded: %w", err)
	}
	return st, nil
}

// writeBatch sends batch in one pipeline and counts what it wrote.
func (s *ProfileStore) writeBatch(ctx context.Context, batch rueidis.Commands, st *LoadStats) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(batch) == 0 {
		return nil
	}
	var errs []error
	for _, r := range s.client.DoMulti(ctx, batch...) {
		if err := r.Error(); err != nil {
			errs = append(errs, err)
			continue
		}
		st.Written++
	}
	if len(errs) > 0 {
		return fmt.Errorf("gavel: redis profile load: %d of %d writes failed: %w", len(errs), len(batch), errs[0])
	}
	return nil
}

// putCommand returns the SET of p under key for ttl, as Put sends it.
func (s *ProfileStore) putCommand(key string, p *gavel.Profile, ttl time.Duration) (rueidis.Completed, error) {
	if p == nil || ttl < 0 {
		return rueidis.Completed{}, fmt.Errorf("gavel: redis profile %q: nil profile or negative ttl %v", key, ttl)
	}
	raw, err := encodeProfile(p)
	if err != nil {
		return rueidis.Completed{}, fmt.Errorf("gavel: redis profile %q: %w", key, err)
	}
	set := s.client.B().Set().Key(s.prefix + key).Value(raw)
	if ttl > 0 {
		return set.PxMilliseconds(max(ttl.Milliseconds(), 1)).Build(), nil
	}
	return set.Build(), nil
}

// Loaded reports whether Redis holds the mark that a Load finished, the
// key P:profiles:loaded (no TTL). A Redis that restarted empty, or whose
// data was flushed, has lost it, and with it the profiles: Load them
// again (ReloadIfLost does both). A store never loaded with Load has no
// mark either. The mark says nothing of profiles that expired or were
// evicted one by one.
func (s *ProfileStore) Loaded(ctx context.Context) (bool, error) {
	n, err := s.client.Do(ctx, s.client.B().Exists().Key(s.loadedKey()).Build()).AsInt64()
	if err != nil {
		return false, fmt.Errorf("gavel: redis profile load: %w", err)
	}
	return n == 1, nil
}

// loadedKey returns the key of the mark of a finished Load:
// P:profiles:loaded, beside the profiles' P:profile:<key>.
func (s *ProfileStore) loadedKey() string {
	return strings.TrimSuffix(s.prefix, "profile:") + "profiles:loaded"
}

// ReloadIfLost loads src (Load) unless the store is marked loaded
// (Loaded), and reports whether it loaded. Call it when the process
// starts, and from time to time (KeepLoaded does) to notice a Redis that
// came back empty. Two processes that find the mark gone at once both
// load; the second load writes the same profiles again.
func (s *ProfileStore) ReloadIfLost(ctx context.Context, src iter.Seq2[ProfileEntry, error]) (bool, LoadStats, error) {
	ok, err := s.Loaded(ctx)
	if err != nil || ok {
		return false, LoadStats{}, err
	}
	st, err := s.Load(ctx, src)
	return true, st, err
}

// KeepLoaded calls ReloadIfLost every interval (> 0), first at once,
// until ctx is done, and tells report (if not nil) of each load it made
// and of each error, with the load's stats. It ranges over src again for
// each load. It returns when ctx is done; run it in a goroutine of its
// own. A load is bounded by ctx only: give src a bound of its own if it
// may hang.
func (s *ProfileStore) KeepLoaded(ctx context.Context, interval time.Duration, src iter.Seq2[ProfileEntry, error], report func(LoadStats, error)) error {
	if interval <= 0 {
		return errors.New("gavel: redis profile load: interval must be positive")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		loaded, st, err := s.ReloadIfLost(ctx, src)
		if ctx.Err() != nil {
			return nil
		}
		if report != nil && (loaded || err != nil) {
			report(st, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
