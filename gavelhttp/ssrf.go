package gavelhttp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// Refusals of the notifier's SSRF guard. Notice URLs come from bidders, so
// the notifier does not let them reach into the embedder's network.
var (
	// ErrForbiddenAddress is returned for a notice whose host resolves to
	// a loopback, private (RFC 1918, fc00::/7), link-local (169.254/16,
	// among them the 169.254.169.254 metadata address, fe80::/10),
	// unspecified or multicast address, unless WithAllowPrivateNetworks or
	// WithAllowedAddresses lets it through. The address checked is the one
	// dialled, after resolution, so DNS rebinding cannot get around it.
	ErrForbiddenAddress = errors.New("gavelhttp: notice to a forbidden address")
	// ErrHostNotAllowed is returned for a notice to a host that is not
	// among those WithBidderHosts lists for its bidder.
	ErrHostNotAllowed = errors.New("gavelhttp: notice host not allowed for bidder")
	// ErrRedirect is returned for a notice answered with a redirect: the
	// notifier follows none.
	ErrRedirect = errors.New("gavelhttp: notice redirect not followed")
	// ErrBadNoticeURL is returned for a notice URL that is not an absolute
	// http or https URL.
	ErrBadNoticeURL = errors.New("gavelhttp: bad notice url")
)

// guard decides which addresses and hosts notices may reach.
type guard struct {
	allowPrivate bool
	allowed      []netip.Prefix
	hosts        map[string]map[string]bool // bidder -> lower-case hosts
}

// forbidden reports whether ip is one of the addresses that the guard
// refuses by default.
func forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsValid()
}

// allows reports whether notices may be sent to ip.
func (g *guard) allows(ip netip.Addr) bool {
	if g.allowPrivate || !forbidden(ip) {
		return true
	}
	ip = ip.Unmap()
	for _, p := range g.allowed {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// control is the net.Dialer Control of the notifier: it runs after the
// name is resolved, on the very address about to be dialled.
func (g *guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	if !g.allows(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
	}
	return nil
}

// check parses raw and checks it against the bidder's hosts. It refuses
// literal addresses that control would refuse too, before anything is
// queued.
func (g *guard) check(bidder, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: %q", ErrBadNoticeURL, raw)
	}
	host := strings.ToLower(u.Hostname())
	if hs, ok := g.hosts[bidder]; ok && !hs[host] {
		return nil, fmt.Errorf("%w: %s for %s", ErrHostNotAllowed, host, bidder)
	}
	if ip, err := netip.ParseAddr(host); err == nil && !g.allows(ip) {
		return nil, fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
	}
	return u, nil
}

// dialer returns a net.Dialer that refuses what the guard forbids.
func (g *guard) dialer(n *net.Dialer) *net.Dialer {
	n.Control = g.control
	return n
}
