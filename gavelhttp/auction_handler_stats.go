package gavelhttp

import "sync/atomic"

// HandlerStats counts an AuctionHandler's requests by outcome, since it was made.
// Each request is counted once among BadMethod, Shed, TooLarge,
// BadEncoding, Malformed, Canceled (a body that could not be read) and
// Decoded; each decoded one once more among Invalid, NoBid, Won, Canceled
// and Errors. Errors also counts a response that could not be encoded.
type HandlerStats struct {
	Decoded     int64 // bodies decoded into a bid request and given to Run
	Invalid     int64 // requests Run refused (400, nbr 2)
	NoBid       int64 // auctions nothing won, currency no-bids included (204)
	Won         int64 // auctions with a winner (200)
	TooLarge    int64 // bodies past the size cap, as sent or inflated (413)
	BadEncoding int64 // unsupported Content-Encoding (415) or malformed gzip (400)
	Malformed   int64 // empty or malformed JSON, or trailing data (400)
	BadMethod   int64 // methods other than POST (405)
	Shed        int64 // requests refused for want of room (204 or 503)
	Canceled    int64 // clients gone while the body was read or the auction ran
	Errors      int64 // other errors: a closed Auction, an encoding failure (5xx)
	InFlight    int64 // auctions running now
}

type counters struct {
	decoded, invalid, noBid, won, tooLarge, badEncoding, malformed,
	badMethod, shed, canceled, errors atomic.Int64
}

// Stats returns the handler's counters. Each is read atomically, the set
// is not a snapshot taken at one instant.
func (h *AuctionHandler) Stats() HandlerStats {
	c := &h.stats
	return HandlerStats{
		Decoded:     c.decoded.Load(),
		Invalid:     c.invalid.Load(),
		NoBid:       c.noBid.Load(),
		Won:         c.won.Load(),
		TooLarge:    c.tooLarge.Load(),
		BadEncoding: c.badEncoding.Load(),
		Malformed:   c.malformed.Load(),
		BadMethod:   c.badMethod.Load(),
		Shed:        c.shed.Load(),
		Canceled:    c.canceled.Load(),
		Errors:      c.errors.Load(),
		InFlight:    h.limit.inFlight.Load(),
	}
}
