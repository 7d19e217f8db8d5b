package gavelhttp

import (
	"net/http"
	"strconv"
	"sync/atomic"
)

// HeaderShed is set to "1" on the answer to a shed request, 204 or 503, so
// that a client (a load generator, a log) tells it apart from a 204 of an
// auction that ran and found no bid, which may carry the same nbr.
const HeaderShed = "Gavel-Shed"

// limiter bounds the auctions in flight. Acquiring is one atomic add, so a
// shed request costs nothing more than its answer.
type limiter struct {
	max      int64
	inFlight atomic.Int64
}

// acquire takes a place, or reports false, leaving the count unchanged, when
// all are taken.
func (l *limiter) acquire() bool {
	if l.inFlight.Add(1) > l.max {
		l.inFlight.Add(-1)
		return false
	}
	return true
}

func (l *limiter) release() { l.inFlight.Add(-1) }

// shed answers a request the handler has no room for, without reading its
// body.
func (h *AuctionHandler) shed(w http.ResponseWriter) {
	h.stats.shed.Add(1)
	hdr := w.Header()
	hdr.Set(HeaderOpenRTBVersion, OpenRTBVersion)
	hdr.Set(HeaderShed, "1")
	if h.cfg.shedStatus == http.StatusServiceUnavailable {
		hdr.Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	hdr.Set(HeaderNBR, strconv.Itoa(ShedNBR))
	w.WriteHeader(http.StatusNoContent)
}
