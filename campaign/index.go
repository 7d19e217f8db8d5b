package campaign

import (
	"slices"
	"strconv"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// postings is one targeting dimension's inverted index: for each value,
// the positions of the campaigns that target it, ascending; any holds the
// campaigns that do not target the dimension.
type postings[K comparable] struct {
	by  map[K][]int32
	any []int32
}

func (p *postings[K]) add(pos int32, keys []K) {
	if len(keys) == 0 {
		p.any = append(p.any, pos)
		return
	}
	if p.by == nil {
		p.by = make(map[K][]int32)
	}
	for _, k := range keys {
		if l := p.by[k]; len(l) == 0 || l[len(l)-1] != pos {
			p.by[k] = append(l, pos)
		}
	}
}

// formatKey is the media dimension: a banner size, or just the media type.
type formatKey struct {
	mtype openrtb2.MarkupType
	w, h  int64
}

// index holds the postings of every indexed dimension. Blocks (blocked
// inventory, badv, bcat, battr, wlang), the flight and the finer media
// checks (durations, protocols) are not indexed: they are checked on the
// candidates the index gives.
type index struct {
	country, region, os, devType, segment postings[string]
	domain, bundle                        map[string][]int32
	inventoryAny                          []int32 // neither Domains nor Bundles
	deal                                  postings[string]
	format                                postings[formatKey]
}

func (x *index) add(e *entry, p int32) {
	k := &e.keys
	x.country.add(p, k.country)
	x.region.add(p, k.region)
	x.os.add(p, k.os)
	x.segment.add(p, k.segment)
	x.deal.add(p, k.deal)
	x.devType.add(p, k.devType)
	if len(k.domain) == 0 && len(k.bundle) == 0 {
		x.inventoryAny = append(x.inventoryAny, p)
	}
	x.domain = addAll(x.domain, p, k.domain)
	x.bundle = addAll(x.bundle, p, k.bundle)
	x.format.add(p, k.format)
}

// indexKeys returns the values e is indexed under.
func (e *entry) indexKeys() entryKeys {
	k := entryKeys{
		country: keys(e.countries), region: keys(e.regions), os: keys(e.os), segment: keys(e.segments),
		deal: keys(e.deals), domain: keys(e.domains), bundle: keys(e.bundles),
	}
	for _, d := range e.devTypes {
		k.devType = append(k.devType, strconv.Itoa(int(d)))
	}
	for _, ce := range e.creatives {
		f := formatKey{mtype: ce.cr.MType}
		if f.mtype == openrtb2.MarkupBanner {
			f.w, f.h = ce.cr.W, ce.cr.H
		}
		if !slices.Contains(k.format, f) {
			k.format = append(k.format, f)
		}
	}
	return k
}

func addAll(m map[string][]int32, pos int32, ks []string) map[string][]int32 {
	if len(ks) > 0 && m == nil {
		m = make(map[string][]int32)
	}
	for _, k := range ks {
		m[k] = append(m[k], pos)
	}
	return m
}

func keys(s set) []string {
	if len(s) == 0 {
		return nil
	}
	ks := make([]string, 0, len(s))
	for k := range s {
		ks = append(ks, k)
	}
	return ks
}

// lists is a union of posting lists: the candidates of one dimension.
type lists struct {
	l [][]int32
	n int
}

func (u *lists) reset() { u.l, u.n = u.l[:0], 0 }

func (u *lists) add(l []int32) {
	if len(l) > 0 {
		u.l = append(u.l, l)
		u.n += len(l)
	}
}

// probe holds the per-call state of a lookup; probes are pooled.
type probe struct {
	dims   [numDims]lists
	out    []int32
	fit    []*creativeEntry
	cands  []cand
	paced  []pacedAccount
	wins   []win
	keys   []CapKey
	counts []int64
	user   string
	v      view
}

const (
	dimCountry = iota
	dimRegion
	dimOS
	dimDevType
	dimSegment
	dimInventory
	dimDeal
	dimFormat
	numDims
)

// requestDims fills the request-wide dimensions of p for v.
func (x *index) requestDims(p *probe, v *view) {
	for i := range dimDeal {
		p.dims[i].reset()
	}
	single(&p.dims[dimCountry], &x.country, v.country)
	single(&p.dims[dimRegion], &x.region, v.region)
	single(&p.dims[dimOS], &x.os, v.os)
	single(&p.dims[dimDevType], &x.devType, strconv.Itoa(int(v.devType)))
	seg := &p.dims[dimSegment]
	seg.add(x.segment.any)
	for _, s := range v.segments {
		seg.add(x.segment.by[s])
	}
	inv := &p.dims[dimInventory]
	inv.add(x.inventoryAny)
	if v.site {
		inv.add(x.domain[v.domain])
	}
	if v.app {
		inv.add(x.bundle[v.bundle])
	}
}

func single(u *lists, p *postings[string], k string) {
	u.add(p.any)
	u.add(p.by[k])
}

// impDims fills the dimensions of p that depend on the imp.
func (x *index) impDims(p *probe, imp *openrtb2.Imp) {
	d := &p.dims[dimDeal]
	d.reset()
	if imp.PMP == nil || imp.PMP.PrivateAuction == 0 {
		d.add(x.deal.any)
	}
	if imp.PMP != nil {
		for i := range imp.PMP.Deals {
			d.add(x.deal.by[imp.PMP.Deals[i].ID])
		}
	}
	f := &p.dims[dimFormat]
	f.reset()
	if b := imp.Banner; b != nil {
		if b.W != nil && b.H != nil {
			f.add(x.format.by[formatKey{openrtb2.MarkupBanner, *b.W, *b.H}])
		}
		for _, fm := range b.Format {
			f.add(x.format.by[formatKey{openrtb2.MarkupBanner, fm.W, fm.H}])
		}
	}
	for _, m := range [...]struct {
		ok bool
		t  openrtb2.MarkupType
	}{{imp.Video != nil, openrtb2.MarkupVideo}, {imp.Audio != nil, openrtb2.MarkupAudio}, {imp.Native != nil, openrtb2.MarkupNative}} {
		if m.ok {
			f.add(x.format.by[formatKey{mtype: m.t}])
		}
	}
}

// filterMin is the number of candidates below which the other
// dimensions are left to the full check, which costs about what a few
// binary searches do.
const filterMin = 64

// candidates returns in p.out the positions of the campaigns found in
// every dimension that narrows them, ascending and distinct: it takes the
// smallest dimension's candidates of the total campaigns, then, while at
// least filterMin remain, keeps those found in the next smallest dimension
// if it holds at most half of them all, and so on. The result is a
// superset of the campaigns that match, which the caller checks one by one.
func (p *probe) candidates(total int) []int32 {
	var order [numDims]uint8
	for i := range order {
		order[i] = uint8(i)
	}
	slices.SortFunc(order[:], func(a, b uint8) int { return p.dims[a].n - p.dims[b].n })
	u := &p.dims[order[0]]
	p.out = p.out[:0]
	for _, l := range u.l {
		p.out = append(p.out, l...)
	}
	if len(u.l) > 1 {
		slices.Sort(p.out)
		p.out = slices.Compact(p.out)
	}
	for _, d := range order[1:] {
		if len(p.out) < filterMin || p.dims[d].n > total/2 {
			break
		}
		p.out = p.dims[d].filter(p.out)
	}
	return p.out
}

// filter keeps, in place, the positions of out found in one of u's lists.
func (u *lists) filter(out []int32) []int32 {
	kept := out[:0]
	for _, pos := range out {
		for _, l := range u.l {
			if _, ok := slices.BinarySearch(l, pos); ok {
				kept = append(kept, pos)
				break
			}
		}
	}
	return kept
}
