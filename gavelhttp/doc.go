// Package gavelhttp serves a gavel.Auction over HTTP: AuctionHandler is the
// OpenRTB 2.6 auction endpoint an embedder mounts on its own server. It
// caps and inflates request bodies, decodes them strictly, runs the auction
// under the request's context and tmax, answers 200, 204 or 400 as OpenRTB
// expects, and sheds the requests it has no room for before reading them.
//
// The package will also hold the other handlers an exchange mounts:
// billing, win and loss notices, config loading and reload.
//
// An AuctionHandler is made by NewAuctionHandler; its zero value is not
// usable. It is safe for concurrent use. The decoded request belongs to the
// auction (bidders may still hold it after the response is written), so it
// is never reused; buffers and gzip readers and writers are pooled and never
// outlive the call of ServeHTTP that took them.
package gavelhttp
