package predict_test

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gavelrtb/gavel/predict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// truth is a known logistic model over categorical features: a bias
// (coordinate 0) and one of values coordinates of each of groups groups.
type truth struct {
	groups, values int
	w              []float64
}

func newTruth(seed uint64, groups, values int, bias float64) *truth {
	r := rand.New(rand.NewPCG(seed, 1))
	t := &truth{groups: groups, values: values, w: make([]float64, 1+groups*values)}
	t.w[0] = bias
	for i := 1; i < len(t.w); i++ {
		t.w[i] = r.NormFloat64() * 0.7
	}
	return t
}

// draw appends an example's features to x and returns them with the true
// probability and the label drawn from it.
func (t *truth) draw(r *rand.Rand, x []uint32) ([]uint32, float64, bool) {
	x = append(x[:0], 0)
	s := t.w[0]
	for g := range t.groups {
		i := 1 + g*t.values + r.IntN(t.values)
		x = append(x, uint32(i))
		s += t.w[i]
	}
	p := 1 / (1 + math.Exp(-s))
	return x, p, r.Float64() < p
}

func logLoss(p float64, y bool) float64 {
	if y {
		return -math.Log(p)
	}
	return -math.Log(1 - p)
}

func testConfig() predict.Config {
	cfg := predict.DefaultConfig()
	cfg.Bits, cfg.Alpha, cfg.L1, cfg.L2 = 10, 0.3, 0, 0
	return cfg
}

func TestLearnsKnownModel(t *testing.T) {
	tr := newTruth(1, 5, 8, -1)
	m, err := predict.NewModel(testConfig())
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(2, 2))
	var x []uint32
	for range 300_000 {
		var y bool
		x, _, y = tr.draw(r, x)
		m.Learn(x, y)
	}
	// Weights are identified up to a constant per group moved into the
	// bias: compare each group's weights centred on their mean.
	for g := range tr.groups {
		var mt, mm float64
		for v := range tr.values {
			i := 1 + g*tr.values + v
			mt += tr.w[i] / float64(tr.values)
			mm += m.Weight(uint32(i)) / float64(tr.values)
		}
		for v := range tr.values {
			i := 1 + g*tr.values + v
			assert.InDelta(t, tr.w[i]-mt, m.Weight(uint32(i))-mm, 0.1, "group %d value %d", g, v)
		}
	}
	var lossModel, lossTruth float64
	for range 50_000 {
		var p float64
		var y bool
		x, p, y = tr.draw(r, x)
		lossModel += logLoss(m.Predict(x), y)
		lossTruth += logLoss(p, y)
	}
	t.Logf("held-out log loss: model %.5f, truth %.5f", lossModel/50_000, lossTruth/50_000)
	assert.Less(t, lossModel/lossTruth, 1.005)
}

// With 95% of the negatives dropped and the kept ones weighted 20, the
// predictions stay calibrated: their mean is the base rate.
func TestCalibratedUnderNegativeSubsampling(t *testing.T) {
	tr := newTruth(3, 4, 6, -4)
	cfg := testConfig()
	cfg.NegativeRate, cfg.Alpha, cfg.Seed = 0.05, 0.03, 7
	m, err := predict.NewModel(cfg)
	require.NoError(t, err)
	// unweighted keeps the same negatives without their weight.
	cfg.NegativeRate = 1
	unweighted, err := predict.NewModel(cfg)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(4, 4))
	var x []uint32
	kept := 0
	for range 400_000 {
		var y bool
		x, _, y = tr.draw(r, x)
		if _, k := m.Learn(x, y); k {
			kept++
			unweighted.Update(x, y, 1)
		}
	}
	var sumP, sumU, sumTrue float64
	const held = 200_000
	for range held {
		var p float64
		x, p, _ = tr.draw(r, x)
		sumP += m.Predict(x)
		sumU += unweighted.Predict(x)
		sumTrue += p
	}
	t.Logf("kept %d of 400000; base rate %.5f, mean prediction %.5f (unweighted %.5f)", kept, sumTrue/held, sumP/held, sumU/held)
	assert.Less(t, kept, 60_000)
	assert.InEpsilon(t, sumTrue/held, sumP/held, 0.03)
	assert.Greater(t, sumU/held, 5*sumTrue/held, "without importance weights the model overpredicts")
}

func TestPredictWhileLearning(t *testing.T) {
	defer goleak.VerifyNone(t)
	tr := newTruth(5, 5, 8, -1)
	m, err := predict.NewModel(testConfig())
	require.NoError(t, err)
	var wg sync.WaitGroup
	done := make(chan struct{})
	for k := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(k), 9))
			var x []uint32
			for {
				select {
				case <-done:
					return
				default:
				}
				x, _, _ = tr.draw(r, x)
				p := m.Predict(x)
				if !(p > 0 && p < 1) {
					t.Errorf("prediction %v", p)
					return
				}
			}
		})
	}
	r := rand.New(rand.NewPCG(6, 6))
	var x []uint32
	for i := range 50_000 {
		var y bool
		x, _, y = tr.draw(r, x)
		if i%2 == 0 {
			m.Learn(x, y)
		} else {
			m.Update(x, y, 1)
		}
	}
	close(done)
	wg.Wait()
	assert.Positive(t, m.NonZero())
}

func TestPredictDoesNotAllocate(t *testing.T) {
	m, err := predict.NewModel(testConfig())
	require.NoError(t, err)
	x := []uint32{0, 3, 17, 1023}
	m.Update(x, true, 1)
	var p float64
	allocs := testing.AllocsPerRun(1000, func() { p = m.Predict(x) })
	assert.Zero(t, allocs)
	assert.Greater(t, p, 0.5)
}

func TestUpdateIgnoresInvalidWeight(t *testing.T) {
	m, err := predict.NewModel(testConfig())
	require.NoError(t, err)
	x := []uint32{1, 2}
	for _, w := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		assert.Equal(t, 0.5, m.Update(x, true, w))
	}
	assert.Zero(t, m.NonZero())
}

func TestConfigNamesEveryProblem(t *testing.T) {
	_, err := predict.NewModel(predict.Config{Bits: 40, Alpha: -1, Beta: math.NaN(), L1: -1, L2: math.Inf(1), NegativeRate: 2})
	require.Error(t, err)
	for _, s := range []string{"bits 40", "alpha -1", "beta NaN", "l1 -1", "l2 +Inf", "negative rate 2"} {
		assert.Contains(t, err.Error(), s)
	}
	_, err = predict.NewModel(predict.DefaultConfig())
	assert.NoError(t, err)
}
