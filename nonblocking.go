package gavel

// NonBlocking is an optional capability of the stores Run calls: a
// ProfileStore, Ledger or EventSink whose methods never wait on I/O or on
// other goroutines (beyond a short lock) marks itself with a NonBlocking
// method. Run then calls it directly, without the goroutine or the deadline
// context it otherwise spends so that a slow store cannot hold the auction
// past its deadline. MemoryProfileStore, MemoryLedger and AsyncSink have it;
// a store that has it and blocks all the same delays Run.
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
