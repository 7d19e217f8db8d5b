package httpwire

// StackRoom is about the stack an HTTP bidder's call needs below its Bid
// method: the client's round trip and the decoding of the answer. With it,
// the profiles of BenchmarkPerBidder show no stack growth below Bid, on
// net/http with encoding/json as on fasthttp with goccy/go-json.
const StackRoom = 8 << 10

// GrowStack grows the goroutine's stack, at once, to room for StackRoom
// bytes more, when it has less. A bidder of an auction runs on a goroutine
// of its own, whose stack starts small: it would grow it by doubling it,
// deep in the HTTP client and the decoder, each time copying and adjusting
// all of its frames (a quarter of a net/http call's CPU in the profile of
// BenchmarkPerBidder); grown here, it copies the few frames above Bid,
// once. The work on buf keeps it a frame of StackRoom bytes.
//
//go:noinline
func GrowStack(i int) byte {
	var buf [StackRoom]byte
	buf[i] = 1
	return buf[StackRoom-1-i]
}
