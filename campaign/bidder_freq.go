package campaign

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gavelrtb/gavel"
)

// DefaultRecordTimeout is the default of WithRecordTimeout.
const DefaultRecordTimeout = 50 * time.Millisecond

// WithFrequencyStore sets the store of frequency caps. The Bidder asks it
// once per auction for the counts of every candidate campaign's caps, under
// the bidder's deadline; if it fails or does not answer in time, those
// campaigns skip the auction (Stats.FrequencySkips). Billed counts the
// impressions. Default: none, and campaigns with caps are refused.
func WithFrequencyStore(s FrequencyStore) Option {
	return optionFunc(func(c *config) { c.freq = s })
}

// WithRecordTimeout bounds each FrequencyStore.Record that Billed makes.
// Default DefaultRecordTimeout.
func WithRecordTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.fail("record timeout must be positive, got %v", d)
			return
		}
		c.recordTimeout = d
	})
}

// capFrequency marks the candidates at a frequency cap: one Counts call
// for every key of every capped candidate. No user, an error or a timeout
// makes every capped candidate skip.
func (b *Bidder) capFrequency(ctx context.Context, p *probe, now time.Time) {
	p.keys = p.keys[:0]
	for i := range p.cands {
		c := &p.cands[i]
		if c.skip {
			continue
		}
		for _, fc := range c.e.c.Caps {
			if k := fc.Key(c.e.c.ID, c.e.c.Advertiser); !slices.Contains(p.keys, k) {
				p.keys = append(p.keys, k)
			}
		}
	}
	if len(p.keys) == 0 {
		return
	}
	var counts []int64
	err := errNoUser
	if p.user != NoUser {
		if a, ok := b.cfg.freq.(countsAppender); ok {
			p.counts, err = a.AppendCounts(ctx, p.counts[:0], p.user, p.keys, now)
			counts = p.counts
		} else {
			counts, err = b.cfg.freq.Counts(ctx, p.user, p.keys, now)
		}
		if err == nil && len(counts) != len(p.keys) {
			err = fmt.Errorf("campaign: frequency store returned %d counts for %d keys", len(counts), len(p.keys))
		}
	}
	for i := range p.cands {
		c := &p.cands[i]
		if c.skip || len(c.e.c.Caps) == 0 {
			continue
		}
		switch {
		case err != nil:
			c.skip = true
			b.stats.frequencySkips.Add(1)
		case atCap(c.e.c, p.keys, counts):
			c.skip = true
			b.stats.frequencyCapped.Add(1)
		}
	}
}

var errNoUser = fmt.Errorf("campaign: no user")

// countsAppender is a FrequencyStore that can append its counts to a
// slice, as MemoryFrequencyStore can: the Bidder then reuses its slice.
type countsAppender interface {
	AppendCounts(ctx context.Context, dst []int64, user string, keys []CapKey, now time.Time) ([]int64, error)
}

func atCap(c *Campaign, keys []CapKey, counts []int64) bool {
	for _, fc := range c.Caps {
		k := slices.Index(keys, fc.Key(c.ID, c.Advertiser))
		if counts[k] >= fc.Max {
			return true
		}
	}
	return false
}

// Billed counts a billed impression against the frequency caps of the
// campaign that made the bid (gavelhttp.BilledHook): register the Bidder
// with gavelhttp.WithNoticesHooks. It ignores the bids of other bidders,
// bids of campaigns without caps or since removed, and bids without a
// user; the Record it makes is bounded by WithRecordTimeout, and a failure
// is counted (Stats.RecordErrors).
func (b *Bidder) Billed(bl gavel.Billing, _ int64) {
	if bl.Bidder != b.name || b.cfg.freq == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.recordTimeout)
	defer cancel()
	if err := b.Record(ctx, bl.BidID); err != nil {
		b.stats.recordErrors.Add(1)
	}
}

// Record counts one impression of the bid with the given id (a BidID)
// against its campaign's frequency caps, at the Bidder's clock's now. It
// returns an error wrapping ErrBidID for an id the Bidder did not make,
// and the store's error; nil when there is nothing to count (no store,
// no caps, no user, or the campaign is gone).
func (b *Bidder) Record(ctx context.Context, bidID string) error {
	id, err := ParseBidID(bidID)
	if err != nil {
		return err
	}
	c := b.snap.Load().all[id.Campaign]
	if b.cfg.freq == nil || c == nil || len(c.Caps) == 0 || id.User == NoUser {
		return nil
	}
	keys := make([]CapKey, 0, len(c.Caps))
	for _, fc := range c.Caps {
		keys = append(keys, fc.Key(c.ID, c.Advertiser))
	}
	return b.cfg.freq.Record(ctx, id.User, keys, b.cfg.clock.Now())
}
