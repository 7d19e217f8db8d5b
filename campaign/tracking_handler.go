package campaign

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// ClickHandler returns the click endpoint, to mount at base + "/click": it
// takes the token of ClickURL (query parameter "t"), records a
// gavel.EventClick (once per dedupe window) and redirects to the landing
// URL with the conversion token added. See Tracker for the answers.
func (t *Tracker) ClickHandler() http.Handler {
	return http.HandlerFunc(t.serveClick)
}

// maxPostbackBytes caps the form body of a conversion postback.
const maxPostbackBytes = 64 << 10

// ConversionHandler returns the conversion postback endpoint, to mount at
// base + "/conversion": it takes the conversion token that the landing URL
// received (parameter "gavel_click", or "t") and an optional "order_id",
// in the query or, for a POST, in a form body of at most 64 KiB, and
// records a gavel.EventConversion once per click and
// order id. See Tracker for the answers.
func (t *Tracker) ConversionHandler() http.Handler {
	return http.HandlerFunc(t.serveConversion)
}

func (t *Tracker) serveClick(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		t.stats.method.Add(1)
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	now := t.cfg.now()
	raw := r.URL.Query().Get("t")
	tk, err := t.signer.verify(raw, kindClick, now)
	if err == nil && CheckLanding(tk.info.Landing) != nil {
		err = gavelhttp.ErrTokenMalformed // signed by a key holder that is not ClickURL
	}
	if err != nil {
		t.refuse(w, err)
		return
	}
	id, key := clickID(raw)
	if r.Method == http.MethodGet {
		if t.clicks.add(key, now, now.Add(t.cfg.dedupe)) {
			t.stats.clicks.Add(1)
			e := event(gavel.EventClick, now, &tk.info, id, "")
			t.record(r.Context(), e)
			for _, h := range t.cfg.clicked {
				h.Clicked(e)
			}
		} else {
			t.stats.dupClicks.Add(1)
		}
	}
	conv := token{kind: kindConversion, issued: now, expires: now.Add(t.cfg.window), info: tk.info, clickID: id}
	conv.info.Landing = ""
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, addParam(tk.info.Landing, t.cfg.param, t.signer.sign(&conv)), http.StatusFound)
}

func (t *Tracker) serveConversion(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		t.stats.method.Add(1)
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	now := t.cfg.now()
	r.Body = http.MaxBytesReader(w, r.Body, maxPostbackBytes)
	if err := r.ParseForm(); err != nil {
		t.stats.malformed.Add(1)
		http.Error(w, "campaign: bad postback form", http.StatusBadRequest)
		return
	}
	raw := r.Form.Get(t.cfg.param)
	if raw == "" {
		raw = r.Form.Get("t")
	}
	order := r.Form.Get("order_id")
	if len(order) > MaxOrderIDBytes {
		t.stats.malformed.Add(1)
		http.Error(w, "campaign: order_id longer than 256 bytes", http.StatusBadRequest)
		return
	}
	tk, err := t.signer.verify(raw, kindConversion, now)
	if err != nil {
		t.refuse(w, err)
		return
	}
	if t.convs.add(conversionKey(tk.clickID, order), now, tk.expires) {
		t.stats.convs.Add(1)
		e := event(gavel.EventConversion, now, &tk.info, tk.clickID, order)
		t.record(r.Context(), e)
		for _, h := range t.cfg.converted {
			h.Converted(e)
		}
	} else {
		t.stats.dupConvs.Add(1)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// refuse answers a token that verify refused, and counts it.
func (t *Tracker) refuse(w http.ResponseWriter, err error) {
	s := &t.stats
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, gavelhttp.ErrTokenExpired):
		s.expired.Add(1)
		status = http.StatusGone
	case errors.Is(err, gavelhttp.ErrTokenSignature):
		s.signature.Add(1)
		status = http.StatusForbidden
	case errors.Is(err, gavelhttp.ErrTokenUnknownKey):
		s.unknownKey.Add(1)
		status = http.StatusForbidden
	case errors.Is(err, ErrWrongToken):
		s.wrongKind.Add(1)
	default:
		s.malformed.Add(1)
	}
	http.Error(w, err.Error(), status)
}

// record writes e to the sink, bounded by the sink timeout and apart from
// the request's cancellation; a failure is counted and the event lost.
func (t *Tracker) record(ctx context.Context, e gavel.Event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.cfg.sinkTimeout)
	defer cancel()
	if err := t.sink.Write(ctx, []gavel.Event{e}); err != nil {
		t.stats.sink.Add(1)
	}
}

func event(typ gavel.EventType, now time.Time, c *ClickInfo, clickID, orderID string) gavel.Event {
	return gavel.Event{
		Version: gavel.EventSchemaVersion, Type: typ, Time: now.UnixMilli(),
		AuctionID: c.AuctionID, ImpID: c.ImpID, BidID: c.BidID, Account: c.Account,
		Currency: c.Currency, PriceMicros: c.PriceMicros, Campaign: c.CampaignID, Creative: c.CreativeID,
		ClickID: clickID, OrderID: orderID,
	}
}

// addParam returns landing with name=value added to its query, the rest
// of it (order of parameters, fragment) as it was.
func addParam(landing, name, value string) string {
	u, err := url.Parse(landing)
	if err != nil {
		return landing // CheckLanding passed, so this does not happen
	}
	p := url.QueryEscape(name) + "=" + url.QueryEscape(value)
	if u.RawQuery == "" {
		u.RawQuery = p
	} else {
		u.RawQuery += "&" + p
	}
	u.ForceQuery = false
	return u.String()
}
