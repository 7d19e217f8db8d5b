package campaign

import (
	"context"
	"html"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// cand is a campaign that may bid on an imp, with the creatives that fit.
type cand struct {
	imp   int
	e     *entry
	deal  *openrtb2.Deal
	floor int64 // CPM micros, the deal's or the imp's
	fit   []*creativeEntry
	skip  bool // held back by pacing, balance or frequency
}

// Bid implements gavel.Bidder: for each imp, the campaign and creative
// that bid the most among those whose targeting, flight, pacing, balance
// and frequency caps allow it, at least the floor (ties go to the lowest
// campaign ID). Bids are grouped by seat, the campaign's account. It
// never returns an error: a request it cannot serve gets no bid.
func (b *Bidder) Bid(ctx context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	b.stats.requests.Add(1)
	s := b.snap.Load()
	if len(s.entries) == 0 || !b.currencyAllowed(req.Cur) {
		return nil, nil
	}
	p := b.pool.Get().(*probe)
	defer b.release(p)
	p.v.reset(req)
	p.user = b.userHash(req)
	s.x.requestDims(p, &p.v)
	now := b.cfg.clock.Now()
	for i := range req.Imp {
		b.collect(s, p, i, now)
	}
	if len(p.cands) == 0 {
		return nil, nil
	}
	b.gate(ctx, p, now)
	return b.respond(ctx, p), nil
}

func (b *Bidder) release(p *probe) {
	clear(p.fit)
	clear(p.cands)
	clear(p.wins)
	p.wins = p.wins[:0]
	p.fit, p.cands, p.paced = p.fit[:0], p.cands[:0], p.paced[:0]
	for _, l := range [...][]string{p.v.segments, p.v.badv, p.v.bcat, p.v.wlang} {
		clear(l[:cap(l)]) // drop the request's strings
	}
	p.v = view{segments: p.v.segments[:0], badv: p.v.badv[:0], bcat: p.v.bcat[:0], wlang: p.v.wlang[:0]}
	b.pool.Put(p)
}

// collect appends to p.cands the campaigns that may bid on imp i.
func (b *Bidder) collect(s *snapshot, p *probe, i int, now time.Time) {
	imp := &p.v.req.Imp[i]
	impFloor, ok := b.floorMicros(imp.BidFloor, imp.BidFloorCur)
	if !ok {
		return
	}
	s.x.impDims(p, imp)
	for _, pos := range p.candidates(len(s.entries)) {
		e := s.entries[pos]
		if !e.c.Flight.Active(now) {
			continue
		}
		start := len(p.fit)
		deal, fit, ok := e.match(&p.v, imp, p.fit)
		p.fit = fit
		if !ok {
			continue
		}
		floor := impFloor
		if deal != nil {
			if floor, ok = b.floorMicros(deal.BidFloor, deal.BidFloorCur); !ok {
				continue
			}
		}
		p.cands = append(p.cands, cand{imp: i, e: e, deal: deal, floor: floor, fit: p.fit[start:len(p.fit):len(p.fit)]})
	}
}

func (b *Bidder) currencyAllowed(cur []string) bool {
	if len(cur) == 0 {
		return b.cfg.currency == DefaultCurrency
	}
	return slices.Contains(cur, b.cfg.currency)
}

// floorMicros converts a floor to CPM micros; false when it is in another
// currency than the Bidder's.
func (b *Bidder) floorMicros(floor float64, cur string) (int64, bool) {
	if floor <= 0 {
		return 0, true
	}
	if cur == "" {
		cur = DefaultCurrency
	}
	return int64(math.Round(floor * 1e6)), cur == b.cfg.currency
}

// gate marks the candidates that may not bid: held back by the Pacer,
// unable to pay for the imp at its floor, or at a frequency cap.
func (b *Bidder) gate(ctx context.Context, p *probe, now time.Time) {
	if b.cfg.pacer != nil {
		b.pace(ctx, p)
	}
	if bc := b.cfg.balances; bc != nil {
		for i := range p.cands {
			c := &p.cands[i]
			if c.skip {
				continue
			}
			if bal, ok := bc.CachedBalance(c.e.c.Account); ok && bal.Remaining() < max((c.floor+500)/1000, 1) {
				c.skip = true
				b.stats.unaffordable.Add(1)
			}
		}
	}
	b.capFrequency(ctx, p, now)
}

// pace asks the Pacer once per account of the candidates. The draw is
// derived from the request id and the account, so that one request always
// gets one answer.
func (b *Bidder) pace(ctx context.Context, p *probe) {
	reqHash := xxhash.Sum64String(p.v.req.ID)
	for i := range p.cands {
		c := &p.cands[i]
		account := c.e.c.Account
		k := slices.IndexFunc(p.paced, func(a pacedAccount) bool { return a.account == account })
		if k < 0 {
			allow := b.cfg.pacer.Allow(ctx, account, mix64(reqHash^xxhash.Sum64String(account)))
			p.paced = append(p.paced, pacedAccount{account, allow})
			k = len(p.paced) - 1
			if !allow {
				b.stats.paced.Add(1)
			}
		}
		if !p.paced[k].allow {
			c.skip = true
		}
	}
}

type pacedAccount struct {
	account string
	allow   bool
}

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// respond picks the best bid of each imp and builds the response, with
// all its bids in one slice, grouped by seat in the order seats first win.
func (b *Bidder) respond(ctx context.Context, p *probe) *openrtb2.BidResponse {
	req := p.v.req
	p.wins = p.wins[:0]
	for i := 0; i < len(p.cands); {
		j := i
		for j < len(p.cands) && p.cands[j].imp == p.cands[i].imp {
			j++
		}
		if w := b.best(ctx, req, p.cands[i:j]); w.c != nil {
			p.wins = append(p.wins, w)
		}
		i = j
	}
	if len(p.wins) == 0 {
		return nil
	}
	resp := &openrtb2.BidResponse{ID: req.ID, Cur: b.cfg.currency}
	bids := make([]openrtb2.Bid, 0, len(p.wins))
	for k := range p.wins {
		seat := p.wins[k].c.e.c.Account
		if slices.ContainsFunc(resp.SeatBid, func(sb openrtb2.SeatBid) bool { return sb.Seat == seat }) {
			continue
		}
		start := len(bids)
		for l := k; l < len(p.wins); l++ {
			if w := &p.wins[l]; w.c.e.c.Account == seat {
				bids = append(bids, b.makeBid(req, &req.Imp[w.c.imp], w.c, w.cr, w.price, p.user))
				for _, o := range b.cfg.observers {
					o.ObserveBid(bids[len(bids)-1].ID, req, &req.Imp[w.c.imp], w.c.e.c, w.cr, w.pred)
				}
			}
		}
		resp.SeatBid = append(resp.SeatBid, openrtb2.SeatBid{Seat: seat, Bid: bids[start:len(bids):len(bids)]})
	}
	b.stats.bids.Add(int64(len(bids)))
	return resp
}

// win is the best bid of an imp, and the rates it was made from.
type win struct {
	c     *cand
	cr    *Creative
	price int64
	pred  Prediction
}

// best returns the candidate and creative that bid the most, at least the
// floor; the first one on a tie. Its c is nil when none bids. A candidate
// whose bid cap is below its floor, or not above the best bid so far,
// cannot win: it is not asked for a bid, which spares its predictions.
func (b *Bidder) best(ctx context.Context, req *openrtb2.BidRequest, cands []cand) win {
	var best win
	for k := range cands {
		c := &cands[k]
		if bidCap := c.e.c.BidCapMicros; c.skip || bidCap <= best.price || bidCap < c.floor {
			continue
		}
		for _, ce := range c.fit {
			v, pred := b.bidMicros(ctx, req, &req.Imp[c.imp], c.e.c, ce.cr)
			if v > 0 && v >= c.floor && v > best.price {
				best = win{c: c, cr: ce.cr, price: v, pred: pred}
			}
		}
	}
	return best
}

// userHash is the user key's hash as 16 hex digits, NoUser without one.
func (b *Bidder) userHash(req *openrtb2.BidRequest) string {
	k := b.cfg.userKey(req)
	if k == "" {
		return NoUser
	}
	return hex16(xxhash.Sum64String(k))
}

func (b *Bidder) makeBid(req *openrtb2.BidRequest, imp *openrtb2.Imp, c *cand, cr *Creative, price int64, user string) openrtb2.Bid {
	camp := c.e.c
	id := BidID{Campaign: camp.ID, Creative: cr.ID, User: user, Nonce: hex16(rand.Uint64())}.String()
	bid := openrtb2.Bid{
		ID: id, ImpID: imp.ID, Price: float64(price) / 1e6,
		AdM: cr.Markup, ADomain: cr.ADomain, Cat: cr.Cat, Attr: cr.Attr,
		MType: cr.MType, CrID: cr.ID, CID: camp.ID, Language: cr.Lang,
	}
	if strings.Contains(cr.Markup, ClickMacro) {
		bid.AdM = withClickURL(cr, b.clickURL(req, imp, id, camp, cr, price))
	}
	if c.deal != nil {
		bid.DealID = c.deal.ID
	}
	switch cr.MType {
	case openrtb2.MarkupBanner:
		bid.W, bid.H = cr.W, cr.H
	case openrtb2.MarkupVideo, openrtb2.MarkupAudio:
		bid.Dur, bid.Protocol = cr.Duration, cr.Protocol
	}
	if b.cfg.nurl != "" || b.cfg.burl != "" || b.cfg.lurl != "" {
		r := strings.NewReplacer(BidIDMacro, url.QueryEscape(id), CampaignIDMacro, url.QueryEscape(camp.ID),
			CreativeIDMacro, url.QueryEscape(cr.ID), AccountMacro, url.QueryEscape(camp.Account))
		bid.NURL, bid.BURL, bid.LURL = r.Replace(b.cfg.nurl), r.Replace(b.cfg.burl), r.Replace(b.cfg.lurl)
	}
	return bid
}

// hex16 formats v as 16 hex digits.
func hex16(v uint64) string {
	const digits = "0123456789abcdef"
	var s [16]byte
	for i := 15; i >= 0; i-- {
		s[i] = digits[v&0xf]
		v >>= 4
	}
	return string(s[:])
}

// withClickURL puts u in place of the ClickMacro of cr's markup, escaped
// for HTML and XML (banner, video, audio) unless the macro sits in a
// CDATA section, and as it is in native markup (JSON), since URLs hold no
// quote.
func withClickURL(cr *Creative, u string) string {
	if cr.MType != openrtb2.MarkupNative && !strings.Contains(cr.Markup, "<![CDATA["+ClickMacro) {
		u = html.EscapeString(u)
	}
	return strings.ReplaceAll(cr.Markup, ClickMacro, u)
}
