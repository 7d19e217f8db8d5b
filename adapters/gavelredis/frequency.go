package gavelredis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel/campaign"
)

// FrequencyStore is a campaign.FrequencyStore on Redis: processes that
// share a Redis (and a key prefix) share the counts of frequency caps.
// Counts reads every key in one round trip (MGET) and Record counts every
// key in one round trip (a Lua script that increments each key and sets
// its expiry when it creates it).
//
// # Key schema
//
// With the key prefix P (WithKeyPrefix, default DefaultKeyPrefix, "gavel"),
// each count is one string key:
//
//	P:freq:{<user>}:<scope>:<period>:<start>:<id>   hour and day
//	P:freq:{<user>}:<scope>:l:<id>                  lifetime
//
// scope is c (campaign) or a (advertiser), period h (hour), d (day) or l
// (lifetime), start the period's start in Unix seconds, id the campaign
// id or advertiser. The user, which the campaign bidder makes a 16-hex
// hash (it must not contain braces), is the Redis Cluster hash tag, so
// that all the keys of one call are in one slot.
//
// An hour or day key holds the count as an integer and expires at the end
// of its period plus a margin (WithFrequencyMargin). A lifetime key holds
// "<end>:<count>", end in Unix milliseconds, WithFrequencyLifetime after
// the impression that created it: the count ends when the now given to
// Counts or Record reaches end, and the key expires in Redis then. Expiry
// is measured from the now that Record is given, so counts end on the
// callers' clock, not Redis's, and a test can move time by passing it.
//
// # Races
//
// A bidder reads the counts, bids, and records the impression when it is
// billed; nothing holds the count in between. So when several auctions
// for one user are in flight at once (in one process or many), each may
// read a count under the cap, and the user can exceed the cap by up to
// the number of those auctions less one, per period.
//
// A call that ctx ends returns an error matching ctx.Err() with errors.Is
// by ctx's deadline, also when Redis does not answer; a Record whose
// answer was lost may still have counted. The store does not own the
// client: closing it is the caller's job. A FrequencyStore is safe for
// concurrent use. The zero value is not usable; create one with
// NewFrequencyStore.
type FrequencyStore struct {
	client   rueidis.Client
	prefix   string // P:freq:{
	loc      *time.Location
	lifetime time.Duration
	margin   time.Duration
}

var _ campaign.FrequencyStore = (*FrequencyStore)(nil)

// recordScript counts one impression under each key. ARGV holds two
// arguments per key: the milliseconds the key lives if the call creates
// it, and 0 for an hour or day key or the caller's now in Unix
// milliseconds for a lifetime key. An hour or day key is a counter; a
// lifetime key holds "<end>:<count>", end in Unix milliseconds by the
// callers' clock, and starts again from 1 once the caller's now reaches
// its end.
var recordScript = rueidis.NewLuaScript(`
for i, k in ipairs(KEYS) do
  local ttl, now = tonumber(ARGV[2*i-1]), tonumber(ARGV[2*i])
  if now == 0 then
    if redis.call('INCR', k) == 1 then
      redis.call('PEXPIRE', k, ttl)
    end
  else
    local v = redis.call('GET', k)
    local e, n = 0, 0
    if v then
      e, n = string.match(v, '^(%d+):(%d+)$')
      e, n = tonumber(e) or 0, tonumber(n) or 0
    end
    if e <= now then
      redis.call('SET', k, string.format('%.0f:1', now + ttl), 'PX', ttl)
    else
      redis.call('SET', k, string.format('%.0f:%.0f', e, n + 1), 'KEEPTTL')
    end
  end
end
return 0
`)

// A FrequencyOption configures a FrequencyStore. NewFrequencyStore applies
// options in order; a later option overrides an earlier one of the same
// kind. WithKeyPrefix is a FrequencyOption too.
type FrequencyOption interface {
	applyFrequency(*frequencyConfig)
}

type frequencyConfig struct {
	prefix   string
	loc      *time.Location
	lifetime time.Duration
	margin   time.Duration
	errs     []error
}

func (c *frequencyConfig) fail(format string, args ...any) {
	c.errs = append(c.errs, invalidOption(frequencyWhat, format, args...))
}

func (p keyPrefix) applyFrequency(c *frequencyConfig) {
	c.prefix = string(p)
	if msg := checkPrefix(c.prefix); msg != "" {
		c.fail("%s", msg)
	}
}

const frequencyWhat = "redis frequency store"

type frequencyOptionFunc func(*frequencyConfig)

func (f frequencyOptionFunc) applyFrequency(c *frequencyConfig) { f(c) }

// Defaults of the FrequencyStore options.
const (
	DefaultFrequencyLifetime = campaign.DefaultLifetimeTTL
	DefaultFrequencyMargin   = 5 * time.Minute
)

// WithFrequencyLocation sets the time zone whose wall clock starts hours
// and days (see campaign.Period.Bounds); it must not be nil, and every
// process sharing the counts must use the same. Default UTC.
func WithFrequencyLocation(loc *time.Location) FrequencyOption {
	return frequencyOptionFunc(func(c *frequencyConfig) {
		if loc == nil {
			c.fail("location must not be nil")
			return
		}
		c.loc = loc
	})
}

// WithFrequencyLifetime sets how long a lifetime count lives after the
// first impression it counts; then it starts again from 0. It must be at
// least a second. Default DefaultFrequencyLifetime (30 days).
func WithFrequencyLifetime(d time.Duration) FrequencyOption {
	return frequencyOptionFunc(func(c *frequencyConfig) {
		if d < time.Second {
			c.fail("lifetime ttl must be at least 1s, got %v", d)
			return
		}
		c.lifetime = d
	})
}

// WithFrequencyMargin sets how long an hour or day count outlives its
// period in Redis, for processes whose clocks lag. It must not be
// negative. Default DefaultFrequencyMargin (5 minutes).
func WithFrequencyMargin(d time.Duration) FrequencyOption {
	return frequencyOptionFunc(func(c *frequencyConfig) {
		if d < 0 {
			c.fail("margin must not be negative, got %v", d)
			return
		}
		c.margin = d
	})
}

// NewFrequencyStore returns a FrequencyStore counting through client. It
// does no I/O. It returns an error wrapping gavel.ErrInvalidOption for a
// nil client or an option out of range, all such problems at once.
func NewFrequencyStore(client rueidis.Client, opts ...FrequencyOption) (*FrequencyStore, error) {
	cfg := frequencyConfig{prefix: DefaultKeyPrefix, loc: time.UTC, lifetime: DefaultFrequencyLifetime, margin: DefaultFrequencyMargin}
	for _, o := range opts {
		o.applyFrequency(&cfg)
	}
	if client == nil {
		cfg.fail("nil client")
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	return &FrequencyStore{client: client, prefix: cfg.prefix + ":freq:{", loc: cfg.loc, lifetime: cfg.lifetime, margin: cfg.margin}, nil
}

// redisKeys returns the Redis keys of user's counts of keys at now, and
// stores in ttls, if not nil, how long each lives if Record creates it.
// The keys share one allocation.
func (s *FrequencyStore) redisKeys(user string, keys []campaign.CapKey, now time.Time, ttls []time.Duration) []string {
	size := 0
	for _, k := range keys {
		size += len(s.prefix) + len(user) + len(k.ID) + 20
	}
	buf := make([]byte, 0, size)
	ends := make([]int, len(keys))
	for i, k := range keys {
		var ttl time.Duration
		buf, ttl = s.appendKey(buf, user, k, now)
		ends[i] = len(buf)
		if ttls != nil {
			ttls[i] = ttl
		}
	}
	all := string(buf)
	rkeys := make([]string, len(keys))
	start := 0
	for i, end := range ends {
		rkeys[i], start = all[start:end], end
	}
	return rkeys
}

// appendKey appends the Redis key of user's count of k at now to b, and
// returns how long the key lives if Record creates it.
func (s *FrequencyStore) appendKey(b []byte, user string, k campaign.CapKey, now time.Time) ([]byte, time.Duration) {
	b = append(append(append(b, s.prefix...), user...), "}:"...)
	if k.Scope == campaign.ScopeAdvertiser {
		b = append(b, "a:"...)
	} else {
		b = append(b, "c:"...)
	}
	if k.Period == campaign.PeriodLifetime {
		return append(append(b, "l:"...), k.ID...), s.lifetime
	}
	start, end := k.Period.Bounds(now, s.loc)
	if k.Period == campaign.PeriodHour {
		b = append(b, "h:"...)
	} else {
		b = append(b, "d:"...)
	}
	b = append(strconv.AppendInt(b, start.Unix(), 10), ':')
	return append(b, k.ID...), end.Sub(now) + s.margin
}

// Counts returns user's count under each key in the period that holds
// now, reading them all in one round trip. It returns an error wrapping
// campaign.ErrInvalidCap for an invalid key, and one matching ctx.Err()
// if ctx ends first.
func (s *FrequencyStore) Counts(ctx context.Context, user string, keys []campaign.CapKey, now time.Time) ([]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := campaign.CheckKeys(keys); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return []int64{}, nil
	}
	rkeys := s.redisKeys(user, keys, now, nil)
	vals, err := s.client.Do(ctx, s.client.B().Mget().Key(rkeys...).Build()).ToArray()
	if err != nil {
		return nil, fmt.Errorf("gavel: %s: counts: %w", frequencyWhat, err)
	}
	if len(vals) != len(keys) {
		return nil, fmt.Errorf("gavel: %s: counts: %d values for %d keys", frequencyWhat, len(vals), len(keys))
	}
	counts := make([]int64, len(keys))
	for i, v := range vals {
		n, err := s.count(v, keys[i].Period, now)
		if err != nil {
			return nil, fmt.Errorf("gavel: %s: counts: key %s: %w", frequencyWhat, rkeys[i], err)
		}
		counts[i] = n
	}
	return counts, nil
}

// count returns the count that v, the value of a key of period p, holds
// at now.
func (s *FrequencyStore) count(v rueidis.RedisMessage, p campaign.Period, now time.Time) (int64, error) {
	str, err := v.ToString()
	switch {
	case rueidis.IsRedisNil(err):
		return 0, nil
	case err != nil:
		return 0, err
	case p != campaign.PeriodLifetime:
		return strconv.ParseInt(str, 10, 64)
	}
	e, n, ok := strings.Cut(str, ":")
	end, err1 := strconv.ParseInt(e, 10, 64)
	count, err2 := strconv.ParseInt(n, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("lifetime count %q is not <end>:<count>", str)
	}
	if now.UnixMilli() >= end {
		return 0, nil
	}
	return count, nil
}

// Record counts one impression for user under each key at now, in one
// round trip. It returns an error wrapping campaign.ErrInvalidCap for an
// invalid key, and one matching ctx.Err() if ctx ends first; a Record
// whose answer was lost may still have counted.
func (s *FrequencyStore) Record(ctx context.Context, user string, keys []campaign.CapKey, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := campaign.CheckKeys(keys); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	ttls := make([]time.Duration, len(keys))
	rkeys := s.redisKeys(user, keys, now, ttls)
	args := make([]string, 2*len(keys))
	nowMilli := strconv.FormatInt(now.UnixMilli(), 10)
	for i, k := range keys {
		args[2*i], args[2*i+1] = strconv.FormatInt(max(ttls[i].Milliseconds(), 1), 10), "0"
		if k.Period == campaign.PeriodLifetime {
			args[2*i+1] = nowMilli
		}
	}
	if err := recordScript.Exec(ctx, s.client, rkeys, args).Error(); err != nil {
		return fmt.Errorf("gavel: %s: record: %w", frequencyWhat, err)
	}
	return nil
}
