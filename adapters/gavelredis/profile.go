package gavelredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
)

// Defaults of the ProfileStore options.
const (
	DefaultProfileCacheTTL = 30 * time.Second
	DefaultProfileDecoded  = 65_536
)

// ProfileSchemaVersion is the version of the stored profile record, its
// field "v". A ProfileStore reads only records of this version and treats
// any other as an error, so that a writer of a newer schema is noticed
// rather than half read.
const ProfileSchemaVersion = 1

// ProfileStore is a gavel.ProfileStore on Redis with client-side caching:
// a profile looked up once is kept in the memory of the rueidis client for
// the cache TTL (WithProfileCacheTTL), and Redis tells the client, through
// RESP3 key tracking, to drop it as soon as any client changes or deletes
// the key. Hot profiles are therefore served without a round trip, and
// never staler than the time an invalidation takes to arrive.
//
// # Key schema
//
// With the key prefix P (WithKeyPrefix, default DefaultKeyPrefix, "gavel"),
// each profile is one string key, P:profile:<key>, holding a JSON object:
//
//	{"v":1,"uid":"u1","segments":[<openrtb2.Data>...],"eids":[<openrtb2.EID>...],
//	 "kw":["news"],"attrs":{"tier":"gold"}}
//
// v is ProfileSchemaVersion and is required; the other fields are
// gavel.Profile's, each left out when empty. The key's Redis TTL is the
// profile's lifetime (Put); the client-side cache never outlives it.
//
// # Decoding
//
// A cache hit returns the same bytes every time, so the store keeps the
// profile decoded from them, up to WithProfileDecoded profiles, and hands
// it out again for as long as the bytes are the same: a hit then costs a
// lookup and a string comparison that stops at the first pointer, not a
// JSON decode. The profiles returned are shared by every caller and must
// not be modified (see gavel.Profile).
//
// The store does not own the client: closing it is the caller's job.
// A ProfileStore is safe for concurrent use. The zero value is not usable;
// create one with NewProfileStore.
type ProfileStore struct {
	client   rueidis.Client
	prefix   string // P:profile:
	cacheTTL time.Duration
	decoded  *decodedProfiles // nil: decode every time

	lookups, cacheHits, decodes, misses, errs atomic.Int64
}

var _ gavel.ProfileStore = (*ProfileStore)(nil)

// A ProfileOption configures a ProfileStore. NewProfileStore applies
// options in order; a later option overrides an earlier one of the same
// kind. WithKeyPrefix is a ProfileOption too.
type ProfileOption interface {
	applyProfile(*profileConfig)
}

type profileConfig struct {
	prefix   string
	cacheTTL time.Duration
	decoded  int
	errs     []error
}

func (c *profileConfig) fail(format string, args ...any) {
	c.errs = append(c.errs, invalidOption(profileWhat, format, args...))
}

type profileOptionFunc func(*profileConfig)

func (f profileOptionFunc) applyProfile(c *profileConfig) { f(c) }

// WithProfileCacheTTL sets how long a profile may stay in the client-side
// cache, at most; the key's own TTL in Redis, and any change to the key,
// end it sooner. 0 turns client-side caching off: every lookup is a round
// trip. Default DefaultProfileCacheTTL (30s).
func WithProfileCacheTTL(d time.Duration) ProfileOption {
	return profileOptionFunc(func(c *profileConfig) {
		if d < 0 {
			c.fail("cache ttl must not be negative, got %v", d)
			return
		}
		c.cacheTTL = d
	})
}

// WithProfileDecoded sets how many decoded profiles the store keeps for
// cache hits (see ProfileStore). Past that, the oldest decoded are dropped
// first and decoded again when next looked up. 0 decodes every lookup.
// Default DefaultProfileDecoded (65,536).
func WithProfileDecoded(n int) ProfileOption {
	return profileOptionFunc(func(c *profileConfig) {
		if n < 0 {
			c.fail("decoded profiles must not be negative, got %d", n)
			return
		}
		c.decoded = n
	})
}

// NewProfileStore returns a ProfileStore reading and writing through
// client. It does no I/O. It returns an error wrapping gavel.ErrInvalidOption
// for a nil client or an option out of range, all such problems at once.
func NewProfileStore(client rueidis.Client, opts ...ProfileOption) (*ProfileStore, error) {
	cfg := profileConfig{prefix: DefaultKeyPrefix, cacheTTL: DefaultProfileCacheTTL, decoded: DefaultProfileDecoded}
	for _, o := range opts {
		o.applyProfile(&cfg)
	}
	if client == nil {
		cfg.fail("nil client")
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	s := &ProfileStore{client: client, prefix: cfg.prefix + ":profile:", cacheTTL: cfg.cacheTTL}
	if cfg.decoded > 0 {
		s.decoded = newDecodedProfiles(cfg.decoded)
	}
	return s, nil
}

// Key returns the Redis key that holds the profile stored under key.
func (s *ProfileStore) Key(key string) string { return s.prefix + key }

// Profile implements gavel.ProfileStore. It returns gavel.ErrNoProfile when
// Redis has no profile under key, ctx.Err() when ctx is done before it
// starts, and otherwise the error of Redis or of decoding, wrapped; an error
// of a lookup that ctx ended matches ctx.Err() with errors.Is. A lookup
// served from the client-side cache makes no round trip.
func (s *ProfileStore) Profile(ctx context.Context, key string) (*gavel.Profile, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.lookups.Add(1)
	rkey := s.prefix + key
	var res rueidis.RedisResult
	if s.cacheTTL > 0 {
		res = s.client.DoCache(ctx, s.client.B().Get().Key(rkey).Cache(), s.cacheTTL)
	} else {
		res = s.client.Do(ctx, s.client.B().Get().Key(rkey).Build())
	}
	raw, err := res.ToString()
	if res.IsCacheHit() {
		s.cacheHits.Add(1)
	}
	if err != nil {
		if rueidis.IsRedisNil(err) {
			s.misses.Add(1)
			if s.decoded != nil {
				s.decoded.drop(rkey)
			}
			return nil, gavel.ErrNoProfile
		}
		s.errs.Add(1)
		return nil, fmt.Errorf("gavel: redis profile lookup: %w", err)
	}
	if s.decoded != nil {
		if p := s.decoded.get(rkey, raw); p != nil {
			return p, nil
		}
	}
	s.decodes.Add(1)
	p, err := decodeProfile(raw)
	if err != nil {
		s.errs.Add(1)
		return nil, fmt.Errorf("gavel: redis profile %q: %w", key, err)
	}
	if s.decoded != nil {
		s.decoded.put(rkey, raw, p)
	}
	return p, nil
}

// Put stores p under key for ttl (0: until deleted), replacing what was
// there; every client that caches the old profile is told to drop it. It
// returns an error for a nil profile, a negative ttl or a failed write.
func (s *ProfileStore) Put(ctx context.Context, key string, p *gavel.Profile, ttl time.Duration) error {
	if p == nil || ttl < 0 {
		return fmt.Errorf("gavel: redis profile %q: nil profile or negative ttl %v", key, ttl)
	}
	raw, err := encodeProfile(p)
	if err != nil {
		return fmt.Errorf("gavel: redis profile %q: %w", key, err)
	}
	set := s.client.B().Set().Key(s.prefix + key).Value(raw)
	var cmd rueidis.Completed
	if ttl > 0 {
		cmd = set.PxMilliseconds(max(ttl.Milliseconds(), 1)).Build()
	} else {
		cmd = set.Build()
	}
	if err := s.client.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("gavel: redis profile put: %w", err)
	}
	return nil
}

// Delete removes the profile stored under key, if any; every client that
// caches it is told to drop it.
func (s *ProfileStore) Delete(ctx context.Context, key string) error {
	if err := s.client.Do(ctx, s.client.B().Del().Key(s.prefix+key).Build()).Error(); err != nil {
		return fmt.Errorf("gavel: redis profile delete: %w", err)
	}
	return nil
}

// ProfileStats are a ProfileStore's counters since NewProfileStore.
type ProfileStats struct {
	Lookups   int64 // calls of Profile that reached the client
	CacheHits int64 // lookups served from the client-side cache, no round trip
	Decodes   int64 // JSON decodes: lookups the decoded profiles did not serve
	Misses    int64 // lookups that found no profile (gavel.ErrNoProfile)
	Errors    int64 // lookups that failed: Redis, the network, ctx, or decoding
}

// Stats returns the store's counters.
func (s *ProfileStore) Stats() ProfileStats {
	return ProfileStats{
		Lookups:   s.lookups.Load(),
		CacheHits: s.cacheHits.Load(),
		Decodes:   s.decodes.Load(),
		Misses:    s.misses.Load(),
		Errors:    s.errs.Load(),
	}
}

// profileRecord is the stored form of a gavel.Profile (schema version 1).
type profileRecord struct {
	V          int               `json:"v"`
	UserID     string            `json:"uid,omitempty"`
	Segments   []openrtb2.Data   `json:"segments,omitempty"`
	EIDs       []openrtb2.EID    `json:"eids,omitempty"`
	Keywords   []string          `json:"kw,omitempty"`
	Attributes map[string]string `json:"attrs,omitempty"`
}

func encodeProfile(p *gavel.Profile) (string, error) {
	b, err := json.Marshal(profileRecord{
		V:          ProfileSchemaVersion,
		UserID:     p.UserID,
		Segments:   p.Segments,
		EIDs:       p.EIDs,
		Keywords:   p.Keywords,
		Attributes: p.Attributes,
	})
	return string(b), err
}

func decodeProfile(raw string) (*gavel.Profile, error) {
	var r profileRecord
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return nil, err
	}
	if r.V != ProfileSchemaVersion {
		return nil, fmt.Errorf("schema version %d, want %d", r.V, ProfileSchemaVersion)
	}
	return &gavel.Profile{
		UserID:     r.UserID,
		Segments:   r.Segments,
		EIDs:       r.EIDs,
		Keywords:   r.Keywords,
		Attributes: r.Attributes,
	}, nil
}
