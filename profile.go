package gavel

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// A Profile is what the exchange knows about a user beyond the request:
// audience segments, extra identifiers and keywords. Run merges it into the
// copy of req.user that bidders see. A Profile returned by a ProfileStore is
// shared by concurrent auctions and must not be modified.
type Profile struct {
	UserID string

	// Segments are added to user.data: each Data whose id is not already in
	// the request is appended; the request's own entries win.
	Segments []openrtb2.Data
	// EIDs are added to user.eids when their source is not already there.
	EIDs []openrtb2.EID
	// Keywords are added to user.kwarray, without duplicates.
	Keywords []string
	// Attributes are free key-value pairs, sent to bidders as the object
	// "profile_attrs" in user.ext (left out when user.ext already has it).
	Attributes map[string]string
}

// A ProfileStore looks up user profiles. Profile returns ErrNoProfile when it
// has none for the key; it must honour ctx, since Run gives it only a few
// milliseconds (WithProfileTimeout), and be safe for concurrent use. A store
// that answers from memory may mark itself NonBlocking.
type ProfileStore interface {
	Profile(ctx context.Context, key string) (*Profile, error)
}

// ProfileStoreFunc adapts a function to a ProfileStore.
type ProfileStoreFunc func(ctx context.Context, key string) (*Profile, error)

// Profile returns f(ctx, key).
func (f ProfileStoreFunc) Profile(ctx context.Context, key string) (*Profile, error) {
	return f(ctx, key)
}

// A ProfileKey picks the key to look a request's user up by; "" means the
// request has none. See WithProfileKeys.
type ProfileKey func(req *openrtb2.BidRequest) string

// ProfileKeyUserID keys profiles by user.id, the exchange's own user id.
func ProfileKeyUserID(req *openrtb2.BidRequest) string {
	if req.User == nil {
		return ""
	}
	return req.User.ID
}

// ProfileKeyBuyerUID keys profiles by user.buyeruid.
func ProfileKeyBuyerUID(req *openrtb2.BidRequest) string {
	if req.User == nil {
		return ""
	}
	return req.User.BuyerUID
}

// ProfileKeyEID keys profiles by the first id of the user's EID from source,
// e.g. "liveramp.com".
func ProfileKeyEID(source string) ProfileKey {
	return func(req *openrtb2.BidRequest) string {
		if req.User == nil {
			return ""
		}
		for i := range req.User.EIDs {
			if e := &req.User.EIDs[i]; e.Source == source && len(e.UIDs) > 0 {
				return e.UIDs[0].ID
			}
		}
		return ""
	}
}

// ProfileOutcome says how a profile lookup went.
type ProfileOutcome uint8

// The profile outcomes.
const (
	ProfileHit     ProfileOutcome = iota + 1 // found and merged
	ProfileMiss                              // the store has no profile (ErrNoProfile)
	ProfileNoKey                             // the request has no key to look up
	ProfileError                             // the store failed
	ProfileTimeout                           // the store did not answer in time
)

var profileOutcomeNames = [...]string{"", "hit", "miss", "no_key", "error", "timeout"}

// String returns the outcome in snake case.
func (o ProfileOutcome) String() string {
	if int(o) < len(profileOutcomeNames) && o != 0 {
		return profileOutcomeNames[o]
	}
	return "unknown"
}

// ProfileHook is called after every profile lookup of Run, including the
// ones that found nothing or failed; a failed lookup never fails the auction.
type ProfileHook interface {
	OnProfile(ctx context.Context, auctionID string, outcome ProfileOutcome, latency time.Duration, err error)
}

// WithProfileStore enriches every request from store before the fan-out.
// Default: no enrichment.
func WithProfileStore(store ProfileStore) Option {
	return optionFunc(func(c *config) { c.profiles = store })
}

// WithProfileTimeout bounds a profile lookup; the fan-out waits for it at
// most d (and never past the auction's own deadline), then goes on without
// the profile. Default DefaultProfileTimeout (3ms).
func WithProfileTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.fail("profile timeout must be positive, got %v", d)
			return
		}
		c.profileTimeout = d
	})
}

// WithProfileKeys sets how a request's user is looked up: the first key
// that is not empty is used. Default: ProfileKeyUserID.
func WithProfileKeys(keys ...ProfileKey) Option {
	return optionFunc(func(c *config) { c.profileKeys = keys })
}

// DefaultProfileTimeout is the default of WithProfileTimeout.
const DefaultProfileTimeout = 3 * time.Millisecond

// profileLookup is the state of one lookup in a round. The goroutine that
// runs a lookup for a store other than the MemoryProfileStore writes p and
// err, then signals done; Run reads them only after the signal.
type profileLookup struct {
	done chan struct{} // capacity 1
	p    *Profile
	err  error

	user   openrtb2.User // the merged user bidders see
	data   []openrtb2.Data
	eids   []openrtb2.EID
	kw     []string
	merged bool
}

// enrich looks the request's user up and, on a hit, prepares the merged
// user that requestFor puts in the bidders' copies.
func (r *round) enrich(ctx context.Context, req *openrtb2.BidRequest, until time.Time) {
	a := r.a
	pl := &r.profile
	pl.merged = false
	key := ""
	for _, k := range a.cfg.profileKeys {
		if key = k(req); key != "" {
			break
		}
	}
	start := time.Now()
	outcome, err := ProfileNoKey, error(nil)
	if key != "" {
		var p *Profile
		deadline := start.Add(a.cfg.profileTimeout)
		if until.Before(deadline) {
			deadline = until
		}
		p, err = r.lookup(ctx, key, deadline)
		switch {
		case err == nil && p != nil:
			outcome = ProfileHit
			pl.mergeUser(req.User, p)
		case err == nil || errors.Is(err, ErrNoProfile):
			outcome, err = ProfileMiss, nil
		case errors.Is(err, context.DeadlineExceeded):
			outcome = ProfileTimeout
		default:
			outcome = ProfileError
		}
	}
	a.stats.profile(outcome)
	for _, h := range a.hooks.profile {
		h.OnProfile(ctx, req.ID, outcome, time.Since(start), err)
	}
}

// lookup calls the store directly when it is NonBlocking, and otherwise in
// a goroutine, so that a store that ignores its ctx cannot hold the auction
// past the lookup's deadline.
func (r *round) lookup(ctx context.Context, key string, deadline time.Time) (*Profile, error) {
	store := r.a.cfg.profiles
	if _, ok := store.(NonBlocking); ok {
		return store.Profile(ctx, key)
	}
	lctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	pl := &r.profile
	r.refs.Add(1)
	go func() {
		defer r.release()
		defer func() {
			if p := recover(); p != nil {
				pl.p, pl.err = nil, &PanicError{Bidder: "profile store", Value: p}
			}
			pl.done <- struct{}{}
		}()
		pl.p, pl.err = store.Profile(lctx, key)
	}()
	select {
	case <-pl.done:
		return pl.p, pl.err
	case <-lctx.Done():
		return nil, context.DeadlineExceeded
	}
}

// mergeUser builds the user bidders see: a copy of the request's user with
// the profile added. Slices are the round's own, so the caller's request is
// never touched.
func (pl *profileLookup) mergeUser(u *openrtb2.User, p *Profile) {
	if u != nil {
		pl.user = *u
	} else {
		pl.user = openrtb2.User{ID: p.UserID}
	}
	pl.data = append(pl.data[:0], pl.user.Data...)
	for _, d := range p.Segments {
		if !hasData(pl.data, d.ID, d.Name) {
			pl.data = append(pl.data, d)
		}
	}
	pl.eids = append(pl.eids[:0], pl.user.EIDs...)
	for _, e := range p.EIDs {
		if !hasEIDSource(pl.eids, e.Source) {
			pl.eids = append(pl.eids, e)
		}
	}
	pl.kw = append(pl.kw[:0], pl.user.KwArray...)
	for _, k := range p.Keywords {
		if !contains(pl.kw, k) {
			pl.kw = append(pl.kw, k)
		}
	}
	pl.user.Data, pl.user.EIDs, pl.user.KwArray = pl.data, pl.eids, pl.kw
	if len(p.Attributes) > 0 {
		pl.user.Ext = extWithAttributes(pl.user.Ext, p.Attributes)
	}
	pl.merged = true
}

func hasData(list []openrtb2.Data, id, name string) bool {
	for i := range list {
		if list[i].ID == id && list[i].Name == name {
			return true
		}
	}
	return false
}

func hasEIDSource(list []openrtb2.EID, source string) bool {
	for i := range list {
		if list[i].Source == source {
			return true
		}
	}
	return false
}

// extWithAttributes returns ext with "profile_attrs" set to attrs, or ext
// unchanged when it is not a JSON object or already has the key.
func extWithAttributes(ext json.RawMessage, attrs map[string]string) json.RawMessage {
	obj := map[string]json.RawMessage{}
	if len(ext) > 0 {
		if err := json.Unmarshal(ext, &obj); err != nil {
			return ext
		}
	}
	if _, ok := obj["profile_attrs"]; ok {
		return ext
	}
	a, err := json.Marshal(attrs)
	if err != nil {
		return ext
	}
	obj["profile_attrs"] = a
	out, err := json.Marshal(obj)
	if err != nil {
		return ext
	}
	return out
}

// MemoryProfileStore is an in-memory ProfileStore bounded in size and age:
// profiles expire after their TTL and, past the capacity, the least recently
// used are evicted. It is sharded by key so that lookups on many goroutines
// seldom contend. Lookups do not allocate. Create one with
// NewMemoryProfileStore; the zero value is not usable.
type MemoryProfileStore struct {
	shards []profileShard
	ttl    time.Duration
	clock  Clock
}

type profileShard struct {
	mu       sync.Mutex
	entries  map[string]*profileEntry
	head     profileEntry // sentinel of the LRU list: head.next is the most recent
	capacity int
}

type profileEntry struct {
	key        string
	p          *Profile
	expires    time.Time
	prev, next *profileEntry
}

// A ProfileStoreOption configures a MemoryProfileStore.
type ProfileStoreOption interface {
	applyProfileStore(*MemoryProfileStore, *int)
}

type profileStoreOption func(*MemoryProfileStore, *int)

func (f profileStoreOption) applyProfileStore(s *MemoryProfileStore, capacity *int) { f(s, capacity) }

// WithProfileTTL sets how long a stored profile lives. Default 1 hour.
func WithProfileTTL(d time.Duration) ProfileStoreOption {
	return profileStoreOption(func(s *MemoryProfileStore, _ *int) { s.ttl = d })
}

// WithProfileCapacity bounds the number of stored profiles; past it the
// least recently used are evicted (per shard, so the bound is met
// approximately, never exceeded). Default 100,000.
func WithProfileCapacity(n int) ProfileStoreOption {
	return profileStoreOption(func(_ *MemoryProfileStore, c *int) { *c = n })
}

// WithProfileClock sets the clock that ages profiles. Default: system clock.
func WithProfileClock(c Clock) ProfileStoreOption {
	return profileStoreOption(func(s *MemoryProfileStore, _ *int) { s.clock = c })
}

const profileShards = 32

// NewMemoryProfileStore returns an empty store. It returns an error wrapping
// ErrInvalidOption for a TTL or capacity that is not positive.
func NewMemoryProfileStore(opts ...ProfileStoreOption) (*MemoryProfileStore, error) {
	s := &MemoryProfileStore{ttl: time.Hour, clock: systemClock{}}
	capacity := 100_000
	for _, o := range opts {
		o.applyProfileStore(s, &capacity)
	}
	if s.ttl <= 0 || capacity <= 0 || s.clock == nil {
		return nil, errors.Join(ErrInvalidOption, errors.New("gavel: profile store ttl and capacity must be positive, clock non-nil"))
	}
	n := min(profileShards, capacity)
	s.shards = make([]profileShard, n)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.entries = make(map[string]*profileEntry)
		sh.head.prev, sh.head.next = &sh.head, &sh.head
		sh.capacity = capacity / n
		if i < capacity%n {
			sh.capacity++
		}
	}
	return s, nil
}

func (s *MemoryProfileStore) shard(key string) *profileShard {
	return &s.shards[hashString(key)%uint64(len(s.shards))]
}

// Put stores p under key, replacing what was there, for the store's TTL.
// The store keeps p: do not modify it afterwards.
func (s *MemoryProfileStore) Put(key string, p *Profile) {
	sh := s.shard(key)
	expires := s.clock.Now().Add(s.ttl)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.entries[key]; ok {
		e.p, e.expires = p, expires
		sh.touch(e)
		return
	}
	if len(sh.entries) >= sh.capacity {
		sh.remove(sh.head.prev) // the least recently used
	}
	e := &profileEntry{key: key, p: p, expires: expires}
	sh.entries[key] = e
	sh.link(e)
}

// Delete removes the profile stored under key, if any.
func (s *MemoryProfileStore) Delete(key string) {
	sh := s.shard(key)
	sh.mu.Lock()
	if e, ok := sh.entries[key]; ok {
		sh.remove(e)
	}
	sh.mu.Unlock()
}

// NonBlocking marks the store as NonBlocking: Run looks profiles up in it
// directly.
func (s *MemoryProfileStore) NonBlocking() {}

// Len returns the number of stored profiles, expired ones not yet evicted
// included.
func (s *MemoryProfileStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
}

// Profile returns the profile stored under key, or ErrNoProfile when there
// is none or it expired. It returns ctx.Err() if ctx is done.
func (s *MemoryProfileStore) Profile(ctx context.Context, key string) (*Profile, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sh := s.shard(key)
	now := s.clock.Now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.entries[key]
	if !ok {
		return nil, ErrNoProfile
	}
	if !now.Before(e.expires) {
		sh.remove(e)
		return nil, ErrNoProfile
	}
	sh.touch(e)
	return e.p, nil
}

func (sh *profileShard) link(e *profileEntry) {
	e.prev, e.next = &sh.head, sh.head.next
	sh.head.next.prev = e
	sh.head.next = e
}

func (sh *profileShard) unlink(e *profileEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
}

func (sh *profileShard) touch(e *profileEntry) {
	sh.unlink(e)
	sh.link(e)
}

func (sh *profileShard) remove(e *profileEntry) {
	sh.unlink(e)
	delete(sh.entries, e.key)
}
