package predict

import (
	"math"
	"sync/atomic"
)

// Learn trains the model on one example: features x, positive or not.
// A negative is kept with probability Config.NegativeRate, and then
// weighs 1/NegativeRate (see the package doc); positives are always kept.
// It returns the prediction for x before the update and whether the
// example was used.
func (m *Model) Learn(x []uint32, positive bool) (p float64, kept bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	weight := 1.0
	if !positive && m.cfg.NegativeRate < 1 {
		if m.rng.Float64() >= m.cfg.NegativeRate {
			return m.Predict(x), false
		}
		weight = 1 / m.cfg.NegativeRate
	}
	return m.update(x, positive, weight), true
}

// Update trains the model on one example of the given importance weight
// (positive and finite; 1 for an example that stands for itself), without
// subsampling. It returns the prediction for x before the update. An
// invalid weight changes nothing.
func (m *Model) Update(x []uint32, positive bool, weight float64) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !(weight > 0) || math.IsInf(weight, 0) {
		return m.Predict(x)
	}
	return m.update(x, positive, weight)
}

// update is one step of FTRL-Proximal (McMahan et al. 2013, algorithm 1)
// on the log loss, its gradient scaled by weight. Every feature of x has
// value 1, so the gradient of coordinate i is weight × (p − y). m.mu is
// held: it guards z and n; the new weight is stored atomically, whole.
func (m *Model) update(x []uint32, positive bool, weight float64) float64 {
	p := m.Predict(x)
	y := 0.0
	if positive {
		y = 1
	}
	g := weight * (p - y)
	g2 := g * g
	for _, i := range x {
		n := m.n[i]
		nn := n + g2
		sigma := (math.Sqrt(nn) - math.Sqrt(n)) / m.cfg.Alpha
		z := m.z[i] + g - sigma*m.weight(i)
		m.z[i], m.n[i] = z, nn
		atomic.StoreUint64(&m.w[i], math.Float64bits(m.cfg.ftrlWeight(z, nn)))
	}
	return p
}
