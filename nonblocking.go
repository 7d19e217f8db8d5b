package gavel

// NonBlocking is an optional capability of the stores and bidders Run
// calls: a ProfileStore, Ledger, EventSink or Bidder whose methods never
// wait on I/O or on other goroutines (beyond a short lock) marks itself
// with a NonBlocking method. Run then calls it directly, without the
// goroutine or the deadline context it otherwise spends so that a slow
// store or bidder cannot hold the auction past its deadline.
// MemoryProfileStore, MemoryLedger and AsyncSink have it; a store or bidder
// that has it and blocks all the same delays Run.
//
// A NonBlocking Bidder, such as one that answers from memory, is called on
// Run's goroutine once the calls of the other bidders are under way, one
// after another: no goroutine to start, and no idle thread to wake, which
// on a lightly loaded machine costs more than the call itself. Its answer
// is checked there too, and timed out like any other when it comes past
// the bidder's deadline; its panic is recovered like any other.
type NonBlocking interface {
	NonBlocking()
}

// A NonBlockingSink is an EventSink whose Write never waits on I/O: it
// queues or refuses the events and returns. WithEventSink hands events to
// such a sink directly instead of putting an AsyncSink in front of it.
type NonBlockingSink interface {
	EventSink
	NonBlocking
}
