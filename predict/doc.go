// Package predict predicts click and conversion rates for gavel's
// campaigns with models that learn online, in process: a feature
// Extractor, a logistic regression Model trained by FTRL-Proximal, its
// snapshots, and a Predictor that serves two models (clicks, and
// conversions given a click) as a campaign.Predictor.
//
//	x, _ := predict.NewExtractor()               // 2^20 buckets
//	ctr, _ := predict.NewModel(predict.DefaultConfig())
//	p, _ := predict.NewPredictor(ctr, nil, x)    // campaign.WithPredictor(p)
//	...
//	f := p.Features(nil, req, imp, c, cr, shownAt) // once the outcome is known:
//	ctr.Learn(f, clicked)
//
// # Features
//
// The Extractor hashes the fields of the request, the imp, the user's
// segments (user.data), the campaign and the creative, and crosses of
// them (campaign × site or app, creative × size, segment × campaign,
// device type × campaign, country × campaign, hour × campaign), with
// xxhash into 2^Bits buckets: the hashing trick. A feature is a bucket
// index with the value 1; two features that share a bucket add up. The
// hour and weekday are on the user's clock when device.geo.utcoffset says
// it. Extract appends to a caller's slice and does not allocate.
//
// # Learning
//
// A Model is a logistic regression, p = σ(Σ w_i) over the example's
// buckets, trained online by FTRL-Proximal (McMahan et al., "Ad Click
// Prediction: a View from the Trenches", KDD 2013, algorithm 1) on the log
// loss: each coordinate i keeps z_i and n_i (the sum of its squared
// gradients), and learns at its own rate Alpha / (Beta + √n_i); its
// weight is 0 when |z_i| ≤ L1, else −(z_i − sign(z_i)·L1) / ((Beta +
// √n_i)/Alpha + L2). L1 makes the model sparse: most buckets weigh 0.
//
// Clicks are rare, so most examples are negatives. Learn keeps a negative
// with probability Config.NegativeRate r and then weights its gradient by
// 1/r (positives are all kept, with weight 1). In expectation the update
// is the one over all examples, so the predictions stay calibrated, on
// the true base rate, while the model learns from a fraction of the
// negatives; without the weight it would predict the rate among the kept
// examples, too high by about 1/r. Update takes an explicit weight for
// callers that sample themselves.
//
// Learning is serialized by a mutex; it is meant for the goroutines that
// handle events, not for the auction's.
//
// # Events and delayed feedback
//
// A Learner labels examples from events: Shown (a billed impression, with
// the features its prediction used, kept from bid time), clicks and conversions by bid id (it is a
// campaign.ClickHook and ConversionHook), and Advance, which closes
// windows. An impression is a positive of the click model when its click
// arrives within the click window, a negative only once the window closed
// without one; a click is an example of the conversion model the same way,
// over the conversion window. Each example is learned once, with its
// final label; negatives are learned a window late.
//
// The features of an impression are those of its bid, at bid time. A
// Predictor built WithLearner keeps them from ObserveBid, which the
// campaign.Bidder calls once per bid, to Billed: in a bounded memory
// (WithBidMemory: a ring of fixed slots per shard, so keeping a bid
// allocates nothing), forgotten after a TTL or when newer bids need the
// room, both counted (FeedbackStats). Billed gives the billed bid's
// features to Learner.Shown, and closes the Learner's windows due, at
// most once a second, so that live traffic alone keeps the Learner going.
// (Without a Predictor, Predictor.Features gives the same features for
// Shown.) WithMonitors gives each model's Monitor every example the
// Learner learns, with the prediction the model made for it just before:
// a held-out prediction, as in progressive validation.
//
// # Lock-free reads
//
// Predict runs in the auction, in many goroutines, while the model learns.
// It takes no lock: each coordinate's weight is stored as the bits of a
// float64 in a []uint64, read by Predict with atomic.LoadUint64 and
// written by the learner with atomic.StoreUint64 after each update of
// that coordinate's z and n (which only the learner, under its mutex,
// reads and writes). The weight is thus FTRL's lazy closed form computed
// once per update of the coordinate rather than at every read, and every
// access shared between goroutines is atomic, so the race detector has
// nothing to report (TestPredictWhileLearning runs predictions against
// updates under -race). A prediction that runs during an update may see
// some of the example's coordinates updated and others not, a mix of two
// successive models; each coordinate it reads is one whole weight that
// the model had. Predictions are never torn across a float64 and never
// wait.
//
// # Snapshots
//
// Save writes a model, Load reads it back; the format, little endian:
//
//	offset size
//	0      8     magic "gavelLR\x00"
//	8      2     version, 1
//	10     1     Bits
//	11     1     reserved, 0
//	12     8     count: the coordinates that follow
//	20     40    Alpha, Beta, L1, L2, NegativeRate as float64
//	60     8     Seed
//	68     20×count  index (uint32), z, n (float64), indexes increasing
//	       4     CRC-32C (Castagnoli) of every byte before it
//
// Only the coordinates that learned something are written. Load refuses,
// with an error wrapping ErrSnapshot that says why, a wrong magic number
// or version, a truncated snapshot, a checksum that does not match, and an
// invalid configuration or coordinate; it allocates the model only after
// the checksum matched. A loaded model predicts and learns as the saved one
// did, except that its subsampling starts again from Seed.
package predict
