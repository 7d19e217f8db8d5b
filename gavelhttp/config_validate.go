package gavelhttp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gavelrtb/gavel"
)

// The values each enumerated field accepts; the schema's enums match them
// (a test checks).
var configEnums = map[string][]string{
	"auction.pod_separation[]": {"advertisers", "categories"},
	"auction.accounts":         {"bidder", "seat"},
	"auction.unknown_accounts": {"refuse", "allow"},
	"auction.profile_keys[]":   {"user.id", "user.buyeruid"}, // and eid:SOURCE
	"budgets[].period":         {"daily", "total"},
	"budgets[].pacing":         {"even", "asap"},
	"stores.ledger.kind":       {"memory", "redis"},
	"stores.profiles.kind":     {"none", "memory", "redis"},
	"stores.pacer.kind":        {"none", "memory", "redis"},
	"events.kind":              {"none", "jsonl", "kafka"},
	"server.shed_status":       {"204", "503"},
}

// eidPrefix starts a profile key that reads a user's EID from a source.
const eidPrefix = "eid:"

// validate records every bad value of c, with its path.
func (c *Config) validate(w *walker) {
	p := &problems{w: w}
	c.Auction.validate(p)
	if len(w.problems) == 0 {
		c.Auction.validateTogether(p) // only once each field is right
	}
	c.validateBidders(p)
	c.validateBudgets(p)
	c.Stores.validate(p)
	c.Events.validate(p)
	c.Notices.validate(p)
	c.Server.validate(p)
}

type problems struct{ w *walker }

// add records a problem at path, unless the value there could not be
// read: that is told already.
func (p *problems) add(path, format string, args ...any) {
	if p.w.failed[path] {
		return
	}
	p.w.add("%s: %s", path, fmt.Sprintf(format, args...))
}

// check records msg at path unless ok.
func (p *problems) check(ok bool, path, format string, args ...any) {
	if !ok {
		p.add(path, format, args...)
	}
}

// enum checks that v is one of the values configEnums holds for key.
func (p *problems) enum(key, path, v string) {
	want := configEnums[key]
	if !slices.Contains(want, v) {
		p.add(path, "%q: want %s", v, orList(want))
	}
}

func orList(vs []string) string {
	if len(vs) == 1 {
		return vs[0]
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}

func (p *problems) positive(d Duration, path string) {
	p.check(d > 0, path, "%v: want > 0", d)
}

func (p *problems) notNegative(d Duration, path string) {
	p.check(d >= 0, path, "%v: want >= 0", d)
}

func (a *AuctionConfig) validate(p *problems) {
	p.positive(a.DefaultTMax, "auction.default_tmax")
	p.positive(a.MaxTMax, "auction.max_tmax")
	p.check(a.DefaultTMax <= a.MaxTMax, "auction.default_tmax", "%v: more than max_tmax %v", a.DefaultTMax, a.MaxTMax)
	p.notNegative(a.Reserve, "auction.reserve")
	p.notNegative(a.ClearingTime, "auction.clearing_time")
	p.notNegative(a.MinBidderTime, "auction.min_bidder_time")
	p.notNegative(a.BidderTimeout, "auction.bidder_timeout")
	p.check(a.PriceIncrement >= 0, "auction.price_increment", "%v: want >= 0", a.PriceIncrement)
	p.check(a.MaxPrice > 0 && a.MaxPrice <= gavel.MaxPriceLimit, "auction.max_price", "%v: want > 0 and at most %v", a.MaxPrice, Micros(gavel.MaxPriceLimit))
	for i, s := range a.PodSeparation {
		p.enum("auction.pod_separation[]", fmt.Sprintf("auction.pod_separation[%d]", i), s)
	}
	p.check(a.HealthWindow >= Duration(gavel.MinHealthWindow), "auction.health_window", "%v: want at least %v", a.HealthWindow, gavel.MinHealthWindow)
	if t := a.Throttle; t != nil {
		p.check(t.MaxFailureRate > 0 && t.MaxFailureRate < 1, "auction.throttle.max_failure_rate", "%v: want in (0, 1)", t.MaxFailureRate)
		p.check(t.MinCalls >= 1, "auction.throttle.min_calls", "%d: want >= 1", t.MinCalls)
		p.check(t.MinCallRate > 0 && t.MinCallRate <= 1, "auction.throttle.min_call_rate", "%v: want in (0, 1]", t.MinCallRate)
	}
	p.positive(a.HoldTTL, "auction.hold_ttl")
	p.enum("auction.accounts", "auction.accounts", a.Accounts)
	p.enum("auction.unknown_accounts", "auction.unknown_accounts", a.UnknownAccounts)
	p.positive(a.ProfileTimeout, "auction.profile_timeout")
	for i, k := range a.ProfileKeys {
		path := fmt.Sprintf("auction.profile_keys[%d]", i)
		if src, ok := strings.CutPrefix(k, eidPrefix); ok {
			p.check(src != "", path, "%q: want eid:SOURCE with a source", k)
			continue
		}
		p.check(slices.Contains(configEnums["auction.profile_keys[]"], k), path, "%q: want user.id, user.buyeruid or eid:SOURCE", k)
	}
}

// validateTogether lets gavel.New check what the fields mean together.
func (a *AuctionConfig) validateTogether(p *problems) {
	au, err := gavel.New(a.options()...)
	if err != nil {
		p.add("auction", "%v", err)
		return
	}
	_ = au.Close(context.Background())
}

func (c *Config) validateBidders(p *problems) {
	seen := map[string]int{}
	for i, b := range c.Bidders {
		path := fmt.Sprintf("bidders[%d]", i)
		if b.Name == "" {
			p.add(path+".name", "missing")
		} else if j, dup := seen[b.Name]; dup {
			p.add(path+".name", "%q: also the name of bidders[%d]", b.Name, j)
		} else {
			seen[b.Name] = i
		}
		if u, err := url.Parse(b.Endpoint); b.Endpoint == "" {
			p.add(path+".endpoint", "missing")
		} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(path+".endpoint", "%q: want an absolute http or https url", b.Endpoint)
		}
		p.notNegative(b.Timeout, path+".timeout")
		for j, s := range b.Seats {
			p.check(s != "", fmt.Sprintf("%s.seats[%d]", path, j), "empty")
		}
		for k := range b.Headers {
			if _, err := gavel.NewHTTPBidder("h", "http://h", gavel.WithHTTPHeader(k, b.Headers[k])); err != nil {
				p.add(join(path+".headers", k), "%v", err)
			}
		}
		p.check(b.MaxResponseSize > 0, path+".max_response_size", "%d: want > 0", b.MaxResponseSize)
		for j, h := range b.NoticeHosts {
			p.check(h != "" && !strings.ContainsAny(h, ":/ "), fmt.Sprintf("%s.notice_hosts[%d]", path, j), "%q: want a host name without port", h)
		}
	}
}

func (c *Config) validateBudgets(p *problems) {
	seen := map[string]int{}
	for i := range c.Budgets {
		b := &c.Budgets[i]
		path := fmt.Sprintf("budgets[%d]", i)
		if b.Account == "" {
			p.add(path+".account", "missing")
		} else if j, dup := seen[b.Account]; dup {
			p.add(path+".account", "%q: also the account of budgets[%d]", b.Account, j)
		} else {
			seen[b.Account] = i
		}
		switch {
		case (b.Amount == nil) == (b.AmountMicros == nil):
			p.add(path+".amount", "want exactly one of amount and amount_micros")
		case b.Amount != nil && *b.Amount < 0:
			p.add(path+".amount", "%v: want >= 0", *b.Amount)
		case b.AmountMicros != nil && *b.AmountMicros < 0:
			p.add(path+".amount_micros", "%d: want >= 0", *b.AmountMicros)
		}
		p.enum("budgets[].period", path+".period", b.Period)
		p.enum("budgets[].pacing", path+".pacing", b.Pacing)
		c.validatePeriod(p, path, b)
	}
}

// validatePeriod checks a budget's period, flight and pacing together.
func (c *Config) validatePeriod(p *problems, path string, b *BudgetConfig) {
	daily := b.Period == "daily"
	if b.TimeZone != "" {
		_, err := time.LoadLocation(b.TimeZone)
		p.check(err == nil, path+".time_zone", "%q is not a known time zone", b.TimeZone)
		p.check(daily, path+".time_zone", "only for a daily period")
	}
	p.check(b.Reset >= 0 && b.Reset < Duration(24*time.Hour), path+".reset", "%v: want in [0s, 24h)", b.Reset)
	p.check(daily || b.Reset == 0, path+".reset", "only for a daily period")
	switch {
	case (b.Start == nil) != (b.End == nil):
		p.add(path, "a flight needs both start and end")
	case b.Start != nil && !b.End.After(*b.Start):
		p.add(path+".end", "%v: not after start %v", b.End.Format(time.RFC3339), b.Start.Format(time.RFC3339))
	case b.Start != nil && daily:
		p.add(path+".period", "a flight's period is total, not daily")
	}
	if b.Pacing == "even" && b.Period == "total" && b.Start == nil && c.Stores.Pacer.Kind != "none" {
		p.add(path+".pacing", "even pacing of a total budget needs a flight (start, end): give one, or pacing asap")
	}
}

func (s *StoresConfig) validate(p *problems) {
	for _, st := range []struct {
		name string
		s    *StoreConfig
	}{{"ledger", &s.Ledger}, {"profiles", &s.Profiles}, {"pacer", &s.Pacer}} {
		path := "stores." + st.name
		p.enum(path+".kind", path+".kind", st.s.Kind)
		if st.s.Kind == "redis" {
			_, _, err := net.SplitHostPort(st.s.Addr)
			p.check(err == nil, path+".addr", "%q: want host:port", st.s.Addr)
			p.check(!strings.Contains(st.s.Prefix, ":"), path+".prefix", "%q: want a name without ':'", st.s.Prefix)
			continue
		}
		p.check(st.s.Addr == "", path+".addr", "only for kind redis")
		p.check(st.s.Prefix == "", path+".prefix", "only for kind redis")
	}
}

func (e *EventsConfig) validate(p *problems) {
	p.enum("events.kind", "events.kind", e.Kind)
	jsonl, kafka := e.Kind == "jsonl", e.Kind == "kafka"
	p.check(!jsonl || e.File != "", "events.file", "missing, for kind jsonl")
	p.check(jsonl || e.File == "", "events.file", "only for kind jsonl")
	p.check(!kafka || len(e.Brokers) > 0, "events.brokers", "missing, for kind kafka")
	p.check(!kafka || e.Topic != "", "events.topic", "missing, for kind kafka")
	p.check(kafka || (len(e.Brokers) == 0 && e.Topic == ""), "events", "brokers and topic only for kind kafka")
	for i, b := range e.Brokers {
		_, _, err := net.SplitHostPort(b)
		p.check(err == nil, fmt.Sprintf("events.brokers[%d]", i), "%q: want host:port", b)
	}
}

func (n *NoticesConfig) validate(p *problems) {
	if n.BaseURL != "" {
		u, err := url.Parse(n.BaseURL)
		p.check(err == nil && u.IsAbs() && u.Host != "", "notices.base_url", "%q: want an absolute url", n.BaseURL)
	}
	seen := map[string]int{}
	for i, k := range n.Keys {
		path := fmt.Sprintf("notices.keys[%d]", i)
		if k.ID == "" {
			p.add(path+".id", "missing")
		} else if j, dup := seen[k.ID]; dup {
			p.add(path+".id", "%q: also the id of notices.keys[%d]", k.ID, j)
		} else {
			seen[k.ID] = i
		}
		given := 0
		for _, s := range []string{k.Secret, k.SecretEnv, k.SecretFile} {
			if s != "" {
				given++
			}
		}
		p.check(given == 1, path, "want exactly one of secret, secret_env and secret_file")
		p.check(k.Secret == "" || len(k.Secret) >= MinKeyBytes, path+".secret", "%d bytes: want at least %d", len(k.Secret), MinKeyBytes)
	}
	p.positive(n.TokenTTL, "notices.token_ttl")
	p.positive(n.BillingTimeout, "notices.billing_timeout")
	p.check(n.BilledMemory > 0, "notices.billed_memory", "%d: want > 0", n.BilledMemory)
	f := &n.Notifier
	p.check(f.Workers > 0, "notices.notifier.workers", "%d: want > 0", f.Workers)
	p.check(f.Queue > 0, "notices.notifier.queue", "%d: want > 0", f.Queue)
	p.check(f.PerHostLimit > 0 && f.PerHostLimit <= max(f.Workers, 1), "notices.notifier.per_host_limit", "%d: want 1 to workers (%d)", f.PerHostLimit, f.Workers)
	p.positive(f.Timeout, "notices.notifier.timeout")
	p.check(f.BillingRetries >= 0, "notices.notifier.billing_retries", "%d: want >= 0", f.BillingRetries)
	p.positive(f.RetryBackoff, "notices.notifier.retry_backoff")
	for i, a := range n.AllowedAddresses {
		_, err := parsePrefix(a)
		p.check(err == nil, fmt.Sprintf("notices.allowed_addresses[%d]", i), "%q: want an address or a prefix (10.0.0.0/8)", a)
	}
}

// parsePrefix reads a prefix, or an address as the prefix of it alone.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (s *ServerConfig) validate(p *problems) {
	_, _, err := net.SplitHostPort(s.Addr)
	p.check(err == nil, "server.addr", "%q: want host:port", s.Addr)
	p.check(s.MaxInFlight > 0, "server.max_in_flight", "%d: want > 0", s.MaxInFlight)
	p.enum("server.shed_status", "server.shed_status", strconv.Itoa(s.ShedStatus))
	p.check(s.MaxRequestSize > 0, "server.max_request_size", "%d: want > 0", s.MaxRequestSize)
}
