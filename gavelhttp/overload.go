package gavelhttp

import (
	"net/http"
	"strconv"
	"sync/atomic"
)

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
	if h.cfg.shedStatus == http.StatusServiceUnavailable {
		hdr.Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	hdr.Set(HeaderNBR, strconv.Itoa(ShedNBR))
	w.WriteHeader(http.StatusNoContent)
}
