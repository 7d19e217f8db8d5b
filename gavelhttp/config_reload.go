package gavelhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// ErrNotReloadable is wrapped by the error of Config.Reloadable for a
// change that needs a restart.
var ErrNotReloadable = errors.New("gavelhttp: config change needs a restart")

// Reloadable reports whether the process running c can take next by a
// reload: a new gavel.Auction built from next's AuctionOptions (with the
// same stores, sink and hooks), swapped in by AuctionHandler.Swap and
// Notices.Swap. A reload may change the auction section, the bidders (add,
// remove, change endpoint, timeout, seats, gzip, headers, response cap)
// and the budgets (set again on the shared ledger and pacer by
// gavel.WithBudgets; a budget removed from the config keeps its last
// amount there). Everything else is built once at start and needs a
// restart: stores, events, notices (keys, base URL, notifier), server, and
// a bidder's notice_hosts (the Notifier's guard). Reloadable returns nil,
// or an error wrapping ErrNotReloadable that names the JSON path of every
// field that needs a restart.
func (c *Config) Reloadable(next *Config) error {
	var paths []string
	for _, s := range []struct {
		name string
		a, b any
	}{
		{"stores", c.Stores, next.Stores},
		{"events", c.Events, next.Events},
		{"notices", c.Notices, next.Notices},
		{"server", c.Server, next.Server},
	} {
		diff(s.name, generic(s.a), generic(s.b), &paths)
	}
	hosts := noticeHosts(c.Bidders)
	for i, b := range next.Bidders {
		if !slices.Equal(hosts[b.Name], b.NoticeHosts) {
			paths = append(paths, fmt.Sprintf("bidders[%d].notice_hosts", i))
		}
	}
	if len(paths) > 0 {
		return fmt.Errorf("%w: %s", ErrNotReloadable, strings.Join(paths, ", "))
	}
	return nil
}

func noticeHosts(bidders []BidderConfig) map[string][]string {
	m := make(map[string][]string, len(bidders))
	for _, b := range bidders {
		m[b.Name] = b.NoticeHosts
	}
	return m
}

// generic returns v as encoding/json reads its JSON into an any.
func generic(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v) // not reached: a config always marshals
	}
	var out any
	_ = json.Unmarshal(data, &out)
	return out
}

// diff appends the path of every leaf where a and b differ.
func diff(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := slices.Sorted(maps.Keys(am))
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			diff(join(path, k), am[k], bm[k], out)
		}
		return
	}
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok && len(as) == len(bs) {
		for i := range as {
			diff(fmt.Sprintf("%s[%d]", path, i), as[i], bs[i], out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) && !(empty(a) && empty(b)) {
		*out = append(*out, path)
	}
}

// empty reports whether v is null, [] or {}.
func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}
