package campaign

import "sync/atomic"

// Stats counts what a Bidder did since it was built.
type Stats struct {
	Requests int64 // calls of Bid
	Bids     int64 // bids made
	// Campaigns held back from an auction: by the Pacer (per account), by
	// their account's balance, by a frequency cap.
	Paced, Unaffordable, FrequencyCapped int64
	// FrequencySkips counts campaigns that skipped an imp because the
	// FrequencyStore failed or did not answer in time (fail closed).
	FrequencySkips int64
	// PredictorErrors counts failed predictions (see Goal.OnPredictorError
	// and PredictorErrorHook), of which PredictorTimeouts ended with the
	// bidder's ctx (the Predictor ran out of time).
	PredictorErrors, PredictorTimeouts int64
	// RecordErrors counts impressions Billed could not count.
	RecordErrors int64
}

type counters struct {
	requests, bids                       atomic.Int64
	paced, unaffordable, frequencyCapped atomic.Int64
	frequencySkips, predictorErrors      atomic.Int64
	predictorTimeouts                    atomic.Int64
	recordErrors                         atomic.Int64
}

// Stats returns the Bidder's counts so far.
func (b *Bidder) Stats() Stats {
	c := &b.stats
	return Stats{
		Requests: c.requests.Load(), Bids: c.bids.Load(),
		Paced: c.paced.Load(), Unaffordable: c.unaffordable.Load(), FrequencyCapped: c.frequencyCapped.Load(),
		FrequencySkips: c.frequencySkips.Load(), PredictorErrors: c.predictorErrors.Load(),
		PredictorTimeouts: c.predictorTimeouts.Load(), RecordErrors: c.recordErrors.Load(),
	}
}
