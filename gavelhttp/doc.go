// Package gavelhttp serves a gavel.Auction over HTTP, as handlers an
// embedder mounts on its own server:
//
//   - AuctionHandler, the OpenRTB 2.6 auction endpoint. It caps and inflates
//     request bodies, decodes them strictly, runs the auction under the
//     request's context and tmax, answers 200, 204 or 400 as OpenRTB
//     expects, and sheds the requests it has no room for before reading them.
//   - Notices, signed billing and loss notices (Keys), and the Notifier that
//     fires the bidders' own notice URLs with a guard against requests into
//     the embedder's network. WithNotices points the auction endpoint's
//     burls at them.
//
// Config loading and reload are to come in this package.
//
// Each type is made by its New function; the zero values are not usable.
// All are safe for concurrent use. A bid request an AuctionHandler decodes
// belongs to the auction (bidders may still hold it after the response is
// written), so it is never reused; buffers and gzip readers and writers are
// pooled and never outlive the call of ServeHTTP that took them.
package gavelhttp
