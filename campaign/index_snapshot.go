package campaign

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// A snapshot is one immutable state of a Bidder's campaigns with their
// index. Changes build a new snapshot.
type snapshot struct {
	all     map[string]*Campaign // every campaign, paused ones included
	entries []*entry             // the campaigns that may bid, by ID; entry.pos is the place
	x       index
}

func build(all map[string]*Campaign) *snapshot {
	s := &snapshot{all: all}
	for _, c := range all {
		if !c.Paused {
			s.entries = append(s.entries, compile(c))
		}
	}
	slices.SortFunc(s.entries, func(a, b *entry) int { return cmpString(a.c.ID, b.c.ID) })
	for i, e := range s.entries {
		e.pos = int32(i)
		s.x.add(e)
	}
	return s
}

func (s *snapshot) copyAll() map[string]*Campaign {
	all := make(map[string]*Campaign, len(s.all))
	maps.Copy(all, s.all)
	return all
}

func cmpString(a, b string) int { return strings.Compare(a, b) }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
