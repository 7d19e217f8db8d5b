package gavel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

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
		return profileOf(ctx, store, key)
	}
	lctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	pl := &r.profile
	r.refs.Add(1)
	go func() {
		defer r.release()
		defer func() {
			if p := recover(); p != nil {
				pl.p, pl.err = nil, profilePanic(p)
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

// profileOf calls a store that never blocks, on Run's goroutine: a panic
// in it fails the lookup, never the auction.
func profileOf(ctx context.Context, store ProfileStore, key string) (p *Profile, err error) {
	defer func() {
		if v := recover(); v != nil {
			p, err = nil, profilePanic(v)
		}
	}()
	return store.Profile(ctx, key)
}

// profilePanic is the error of a lookup whose store panicked with v.
func profilePanic(v any) error { return fmt.Errorf("gavel: profile store panicked: %v", v) }
