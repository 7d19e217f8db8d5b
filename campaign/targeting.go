package campaign

import (
	"slices"
	"strings"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// set is a set of strings; a nil set is empty.
type set map[string]struct{}

func newSet(vals []string, fold bool) set {
	if len(vals) == 0 {
		return nil
	}
	s := make(set, len(vals))
	for _, v := range vals {
		if fold {
			v = strings.ToLower(v)
		}
		s[v] = struct{}{}
	}
	return s
}

func (s set) has(v string) bool {
	_, ok := s[v]
	return ok
}

// entry is a campaign compiled for matching: its lists as sets, case
// folded where Targeting says so. Entries are immutable.
type entry struct {
	c *Campaign

	countries, regions, os set
	domains, bundles       set
	blockedDomains         set
	blockedBundles         set
	segments, deals        set
	devTypes               []adcom1.DeviceType
	creatives              []creativeEntry
	keys                   entryKeys
}

// entryKeys are the values an entry is indexed under, per dimension.
type entryKeys struct {
	country, region, os, devType, segment, deal, domain, bundle []string
	format                                                      []formatKey
}

type creativeEntry struct {
	cr       *Creative
	adomain  []string // lower case
	lang     string   // lower case
	insecure bool     // the markup loads an http:// URL
}

func compile(c *Campaign) *entry {
	t := &c.Targeting
	e := &entry{
		c:              c,
		countries:      newSet(t.Countries, true),
		regions:        newSet(t.Regions, true),
		os:             newSet(t.OS, true),
		domains:        newSet(t.Domains, true),
		bundles:        newSet(t.Bundles, true),
		blockedDomains: newSet(t.BlockedDomains, true),
		blockedBundles: newSet(t.BlockedBundles, true),
		segments:       newSet(t.Segments, false),
		deals:          newSet(t.Deals, false),
		devTypes:       t.DeviceTypes,
	}
	for i := range c.Creatives {
		cr := &c.Creatives[i]
		ce := creativeEntry{cr: cr, lang: strings.ToLower(cr.Lang), insecure: insecureURL(cr.Markup)}
		for _, d := range cr.ADomain {
			ce.adomain = append(ce.adomain, strings.ToLower(d))
		}
		e.creatives = append(e.creatives, ce)
	}
	e.keys = e.indexKeys()
	return e
}

// view is what matching reads of a request, taken once per request.
type view struct {
	req             *openrtb2.BidRequest
	country, region string
	os              string
	devType         adcom1.DeviceType
	site, app       bool
	domain, bundle  string
	segments        []string
	badv, bcat      []string // lower case
	wlang           []string // lower case
}

func (v *view) reset(req *openrtb2.BidRequest) {
	*v = view{req: req, segments: v.segments[:0], badv: v.badv[:0], bcat: v.bcat[:0], wlang: v.wlang[:0]}
	var geo *openrtb2.Geo
	if d := req.Device; d != nil {
		geo = d.Geo
		v.os = strings.ToLower(d.OS)
		v.devType = d.DeviceType
	}
	if u := req.User; u != nil {
		if geo == nil {
			geo = u.Geo
		}
		for i := range u.Data {
			for j := range u.Data[i].Segment {
				if id := u.Data[i].Segment[j].ID; id != "" {
					v.segments = append(v.segments, id)
				}
			}
		}
	}
	if geo != nil {
		v.country, v.region = strings.ToLower(geo.Country), strings.ToLower(geo.Region)
	}
	switch {
	case req.Site != nil:
		v.site, v.domain = true, strings.ToLower(req.Site.Domain)
	case req.App != nil:
		v.app, v.bundle = true, strings.ToLower(req.App.Bundle)
	}
	v.badv = appendLower(v.badv, req.BAdv)
	v.bcat = appendLower(v.bcat, req.BCat)
	v.wlang = appendLower(v.wlang, req.WLang)
}

func appendLower(dst, src []string) []string {
	for _, s := range src {
		dst = append(dst, strings.ToLower(s))
	}
	return dst
}

// matchesRequest reports whether the request-wide targeting of e allows
// the request: geo, device, inventory and segments.
func (e *entry) matchesRequest(v *view) bool {
	return e.matchesGeoDevice(v) && e.matchesInventory(v) && e.matchesSegments(v)
}

func (e *entry) matchesGeoDevice(v *view) bool {
	return (e.countries == nil || e.countries.has(v.country)) &&
		(e.regions == nil || e.regions.has(v.region)) &&
		(e.os == nil || e.os.has(v.os)) &&
		(e.devTypes == nil || slices.Contains(e.devTypes, v.devType))
}

func (e *entry) matchesInventory(v *view) bool {
	if (v.site && e.blockedDomains.has(v.domain)) || (v.app && e.blockedBundles.has(v.bundle)) {
		return false
	}
	return (e.domains == nil && e.bundles == nil) ||
		(v.site && e.domains.has(v.domain)) || (v.app && e.bundles.has(v.bundle))
}

func (e *entry) matchesSegments(v *view) bool {
	if e.segments == nil {
		return true
	}
	for _, s := range v.segments {
		if e.segments.has(s) {
			return true
		}
	}
	return false
}

// deal returns the deal of imp that e bids on, nil for the open auction,
// and whether e may bid on imp at all.
func (e *entry) deal(imp *openrtb2.Imp) (*openrtb2.Deal, bool) {
	pmp := imp.PMP
	if e.deals == nil {
		return nil, pmp == nil || pmp.PrivateAuction == 0
	}
	if pmp == nil {
		return nil, false
	}
	for i := range pmp.Deals {
		d := &pmp.Deals[i]
		if e.deals.has(d.ID) && (len(d.WSeat) == 0 || slices.Contains(d.WSeat, e.c.Account)) {
			return d, true
		}
	}
	return nil, false
}

// fits reports whether creative ce may serve imp under the request's
// blocks (badv, bcat, wlang), the imp's (battr) and the deal's (wadomain).
func (ce *creativeEntry) fits(v *view, imp *openrtb2.Imp, deal *openrtb2.Deal) bool {
	if ce.insecure && imp.Secure != nil && *imp.Secure == 1 {
		return false
	}
	battr, ok := ce.media(imp)
	return ok && ce.allowed(v, battr, deal)
}

// media reports whether the creative's media type and size fit imp, and
// the attributes the imp blocks for that media.
func (ce *creativeEntry) media(imp *openrtb2.Imp) ([]adcom1.CreativeAttribute, bool) {
	cr := ce.cr
	switch cr.MType {
	case openrtb2.MarkupBanner:
		if b := imp.Banner; b != nil && bannerFits(b, cr.W, cr.H) {
			return b.BAttr, true
		}
	case openrtb2.MarkupVideo:
		if vd := imp.Video; vd != nil && durationFits(cr.Duration, vd.MinDuration, vd.MaxDuration, vd.RqdDurs) &&
			protocolFits(cr.Protocol, vd.Protocols, vd.Protocol) {
			return vd.BAttr, true
		}
	case openrtb2.MarkupAudio:
		if a := imp.Audio; a != nil && durationFits(cr.Duration, a.MinDuration, a.MaxDuration, a.RqdDurs) &&
			protocolFits(cr.Protocol, a.Protocols, 0) {
			return a.BAttr, true
		}
	case openrtb2.MarkupNative:
		if n := imp.Native; n != nil {
			return n.BAttr, true
		}
	}
	return nil, false
}

func (ce *creativeEntry) allowed(v *view, battr []adcom1.CreativeAttribute, deal *openrtb2.Deal) bool {
	cr := ce.cr
	for _, a := range cr.Attr {
		if slices.Contains(battr, a) {
			return false
		}
	}
	for _, d := range ce.adomain {
		if slices.Contains(v.badv, d) {
			return false
		}
	}
	for _, c := range cr.Cat {
		if slices.ContainsFunc(v.bcat, func(b string) bool { return strings.EqualFold(b, c) }) {
			return false
		}
	}
	if len(v.wlang) > 0 && ce.lang != "" && !slices.Contains(v.wlang, ce.lang) {
		return false
	}
	if deal != nil && len(deal.WADomain) > 0 {
		return slices.ContainsFunc(ce.adomain, func(d string) bool {
			return slices.ContainsFunc(deal.WADomain, func(w string) bool { return strings.EqualFold(w, d) })
		})
	}
	return true
}

func bannerFits(b *openrtb2.Banner, w, h int64) bool {
	if b.W != nil && b.H != nil && *b.W == w && *b.H == h {
		return true
	}
	for _, f := range b.Format {
		if f.W == w && f.H == h {
			return true
		}
	}
	return false
}

func durationFits(d, lo, hi int64, required []int64) bool {
	if len(required) > 0 {
		return slices.Contains(required, d)
	}
	return (lo == 0 || d >= lo) && (hi == 0 || d <= hi)
}

// protocolFits: a creative without a protocol fits any imp; one with a
// protocol fits an imp that lists it, or lists none.
func protocolFits(p adcom1.MediaCreativeSubtype, list []adcom1.MediaCreativeSubtype, one adcom1.MediaCreativeSubtype) bool {
	if p == 0 || (len(list) == 0 && one == 0) {
		return true
	}
	return one == p || slices.Contains(list, p)
}

// match is the whole targeting of e for one imp: the deal it bids on and
// the creatives that fit, appended to dst. ok is false when e may not bid.
func (e *entry) match(v *view, imp *openrtb2.Imp, dst []*creativeEntry) (deal *openrtb2.Deal, fit []*creativeEntry, ok bool) {
	if !e.matchesRequest(v) {
		return nil, dst, false
	}
	deal, ok = e.deal(imp)
	if !ok {
		return nil, dst, false
	}
	n := len(dst)
	for i := range e.creatives {
		if ce := &e.creatives[i]; ce.fits(v, imp, deal) {
			dst = append(dst, ce)
		}
	}
	return deal, dst, len(dst) > n
}

// insecureURL reports whether markup holds an http:// URL, ignoring case;
// XML namespace names under www.w3.org, never fetched, do not count.
func insecureURL(markup string) bool {
	s := strings.ToLower(markup)
	for {
		i := strings.Index(s, "http://")
		if i < 0 {
			return false
		}
		s = s[i+len("http://"):]
		if !strings.HasPrefix(s, "www.w3.org/") {
			return true
		}
	}
}
