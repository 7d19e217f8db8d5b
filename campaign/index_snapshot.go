package campaign

import (
	"maps"
	"slices"
	"time"
)

// A snapshot is one immutable state of a Bidder's campaigns with their
// index. Changes build a new snapshot, reusing the compiled entries of the
// campaigns that did not change.
type snapshot struct {
	all     map[string]*Campaign // every campaign, paused ones included
	ids     []string             // the keys of all, sorted
	entries []*entry             // the campaigns that may bid, by ID; the index refers to their places
	x       index
}

// build returns the snapshot of all, whose keys ids holds sorted, reusing
// the entries of prev (which may be nil) whose campaign is unchanged.
func build(all map[string]*Campaign, ids []string, prev *snapshot) *snapshot {
	s := &snapshot{all: all, ids: ids}
	var old []*entry
	if prev != nil {
		old = prev.entries
	}
	for _, id := range ids {
		c := all[id]
		if c.Paused {
			continue
		}
		for len(old) > 0 && old[0].c.ID < id {
			old = old[1:]
		}
		var e *entry
		if len(old) > 0 && old[0].c == c {
			e = old[0]
		} else {
			e = compile(c)
		}
		s.x.add(e, int32(len(s.entries)))
		s.entries = append(s.entries, e)
	}
	return s
}

// buildAll returns the snapshot of all, from scratch.
func buildAll(all map[string]*Campaign) *snapshot {
	ids := slices.Sorted(maps.Keys(all))
	return build(all, ids, nil)
}

func (s *snapshot) copyAll() map[string]*Campaign {
	all := make(map[string]*Campaign, len(s.all))
	maps.Copy(all, s.all)
	return all
}

// withIDs returns s.ids with the keys of all it lacks, sorted, or without
// those all no longer has.
func (s *snapshot) withIDs(all map[string]*Campaign) []string {
	var added []string
	for id := range all {
		if s.all[id] == nil {
			added = append(added, id)
		}
	}
	ids := make([]string, 0, len(all))
	for _, id := range s.ids {
		if all[id] != nil {
			ids = append(ids, id)
		}
	}
	if len(added) == 0 {
		return ids
	}
	slices.Sort(added)
	merged := make([]string, 0, len(all))
	for len(ids) > 0 || len(added) > 0 {
		if len(added) == 0 || (len(ids) > 0 && ids[0] < added[0]) {
			merged, ids = append(merged, ids[0]), ids[1:]
		} else {
			merged, added = append(merged, added[0]), added[1:]
		}
	}
	return merged
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
