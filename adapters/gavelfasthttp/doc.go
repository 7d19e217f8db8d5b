// Package gavelfasthttp runs gavel over fasthttp
// (github.com/valyala/fasthttp): an HTTP bidder on fasthttp's client, and
// the exchange's auction and notice endpoints as fasthttp request handlers.
//
// Bidder keeps the contract of gavel.HTTPBidder and shares its code: the
// request body of gavel.EncodeBidRequest, the answers read by
// gavel.ReadHTTPAnswer. Both pass one conformance suite.
//
// AuctionHandler, BillingHandler and LossHandler serve gavelhttp's
// AuctionHandler and Notices: the decoding, size caps, shedding, status
// mapping and notices are gavelhttp's own, called through its
// transport-neutral entry points (gavelhttp.AuctionHandler.ServeRequest,
// gavelhttp.Notices.ServeNotice); this package only moves bytes between
// fasthttp and them.
package gavelfasthttp
