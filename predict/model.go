package predict

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/gavelrtb/gavel"
)

// Defaults of Config.
const (
	DefaultAlpha        = 0.1
	DefaultBeta         = 1.0
	DefaultL1           = 1.0
	DefaultL2           = 1.0
	DefaultNegativeRate = 1.0
)

// maxLogit bounds the logit before the sigmoid, so that a prediction is
// never exactly 0 or 1.
const maxLogit = 35

// Config configures a Model. The zero Config is not valid: start from
// DefaultConfig and change what differs.
type Config struct {
	// Bits: the model has 2^Bits coordinates, as many as the buckets of
	// the Extractor that feeds it. In [1, MaxBits].
	Bits int
	// Alpha and Beta set the per-coordinate learning rate of FTRL-Proximal:
	// coordinate i moves at Alpha / (Beta + sqrt(n_i)), n_i the sum of
	// its squared gradients. Both positive.
	Alpha, Beta float64
	// L1 and L2 are the regularisation strengths; not negative. L1 makes
	// the weights sparse: a coordinate whose |z| is at most L1 weighs 0.
	L1, L2 float64
	// NegativeRate is the share of negative examples Learn keeps, in
	// (0, 1]; a kept negative weighs 1/NegativeRate.
	NegativeRate float64
	// Seed seeds the subsampling of negatives.
	Seed uint64
}

// DefaultConfig returns the default configuration: DefaultBits,
// DefaultAlpha, DefaultBeta, DefaultL1, DefaultL2, DefaultNegativeRate,
// seed 0.
func DefaultConfig() Config {
	return Config{
		Bits: DefaultBits, Alpha: DefaultAlpha, Beta: DefaultBeta,
		L1: DefaultL1, L2: DefaultL2, NegativeRate: DefaultNegativeRate,
	}
}

// Validate returns every problem of c at once, each wrapping
// gavel.ErrInvalidOption; nil when c is usable.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: predict: "+format, append([]any{gavel.ErrInvalidOption}, args...)...))
	}
	if c.Bits < 1 || c.Bits > MaxBits {
		bad("bits %d not in [1, %d]", c.Bits, MaxBits)
	}
	if !(c.Alpha > 0) || math.IsInf(c.Alpha, 0) {
		bad("alpha %v not positive", c.Alpha)
	}
	if !(c.Beta > 0) || math.IsInf(c.Beta, 0) {
		bad("beta %v not positive", c.Beta)
	}
	if !(c.L1 >= 0) || math.IsInf(c.L1, 0) {
		bad("l1 %v negative", c.L1)
	}
	if !(c.L2 >= 0) || math.IsInf(c.L2, 0) {
		bad("l2 %v negative", c.L2)
	}
	if !(c.NegativeRate > 0 && c.NegativeRate <= 1) {
		bad("negative rate %v not in (0, 1]", c.NegativeRate)
	}
	return errors.Join(errs...)
}

// A Model is a logistic regression over hashed features, trained online by
// FTRL-Proximal (see the package doc). Predict takes no lock and does not
// allocate, and may run in any number of goroutines while Learn or Update
// run in others; writers are serialized by a mutex. Create one with
// NewModel or Load; the zero Model is not usable.
type Model struct {
	cfg Config
	// w holds the float64 bits of each coordinate's weight, read and
	// written with sync/atomic: readers never lock, and see each weight
	// whole.
	w []uint64

	mu   sync.Mutex // serializes writers; guards z, n and rng
	z, n []float64  // FTRL-Proximal's state per coordinate
	rng  *rand.Rand
}

// NewModel returns an untrained Model (every weight 0, every prediction
// 0.5). It returns cfg.Validate's error if cfg is invalid.
func NewModel(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	size := 1 << cfg.Bits
	return &Model{
		cfg: cfg,
		w:   make([]uint64, size),
		z:   make([]float64, size),
		n:   make([]float64, size),
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x6761_7665_6c00_0001)),
	}, nil
}

// Config returns the Model's configuration.
func (m *Model) Config() Config { return m.cfg }

// Bits returns the log2 of the number of coordinates.
func (m *Model) Bits() int { return m.cfg.Bits }

// Predict returns the probability of a positive for the features x
// (bucket indexes below 2^Bits; others panic), in (0, 1). It takes no lock
// and does not allocate.
func (m *Model) Predict(x []uint32) float64 {
	return sigmoid(m.logit(x))
}

// logit is the sum of the weights of x.
func (m *Model) logit(x []uint32) float64 {
	var s float64
	for _, i := range x {
		s += m.weight(i)
	}
	return s
}

// weight is coordinate i's weight, as the last update of i left it.
func (m *Model) weight(i uint32) float64 {
	return math.Float64frombits(atomic.LoadUint64(&m.w[i]))
}

// ftrlWeight is FTRL-Proximal's closed form of a coordinate's weight from
// its z and n.
func (c *Config) ftrlWeight(z, n float64) float64 {
	if math.Abs(z) <= c.L1 {
		return 0
	}
	return -(z - math.Copysign(c.L1, z)) / ((c.Beta+math.Sqrt(n))/c.Alpha + c.L2)
}

// Weight returns the weight of coordinate i, as Predict uses it.
func (m *Model) Weight(i uint32) float64 { return m.weight(i) }

// NonZero returns the number of coordinates with a weight other than 0.
// It reads every coordinate.
func (m *Model) NonZero() int {
	k := 0
	for i := range m.w {
		if m.weight(uint32(i)) != 0 {
			k++
		}
	}
	return k
}

func sigmoid(s float64) float64 {
	s = max(-maxLogit, min(maxLogit, s))
	return 1 / (1 + math.Exp(-s))
}
