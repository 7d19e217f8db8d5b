package predict_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/predict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func learner(t *testing.T, opts ...predict.LearnerOption) (*predict.Learner, *predict.Model, *predict.Model) {
	t.Helper()
	ctr, err := predict.NewModel(testConfig())
	require.NoError(t, err)
	cvr, err := predict.NewModel(testConfig())
	require.NoError(t, err)
	l, err := predict.NewLearner(ctr, cvr, opts...)
	require.NoError(t, err)
	return l, ctr, cvr
}

func TestLearnerLabelsOnce(t *testing.T) {
	l, ctr, cvr := learner(t, predict.WithClickWindow(time.Hour), predict.WithConversionWindow(24*time.Hour))
	f := []uint32{0, 1, 2}
	l.Shown("clicked", f, noon)
	l.Shown("late", f, noon)
	l.Shown("ignored", f, noon.Add(30*time.Minute))
	l.Shown("clicked", f, noon) // a replayed billing
	assert.Equal(t, 0.5, ctr.Predict(f), "nothing learned before a label")

	l.Clicked(gavel.Event{Type: gavel.EventClick, BidID: "clicked", Time: noon.Add(10 * time.Minute).UnixMilli()})
	assert.Greater(t, ctr.Predict(f), 0.5, "a click is learned at once")
	assert.False(t, l.Click("nobody", noon), "unmatched")
	assert.True(t, l.Click("late", noon.Add(2*time.Hour)), "a late click is a negative")

	assert.Equal(t, 0, l.Advance(noon.Add(time.Hour)))
	assert.Equal(t, 1, l.Advance(noon.Add(90*time.Minute)), "the window of the third closed")

	assert.False(t, l.Conversion("late", noon.Add(3*time.Hour)), "no click waits")
	l.Converted(gavel.Event{Type: gavel.EventConversion, BidID: "clicked", Time: noon.Add(5 * time.Hour).UnixMilli()})
	assert.Greater(t, cvr.Predict(f), 0.5)
	assert.Equal(t, 0, l.Advance(noon.Add(48*time.Hour)), "nothing left")

	assert.Equal(t, predict.LearnerStats{
		Impressions: 3, Clicks: 1, Negatives: 2, Conversions: 1, Late: 1, Unmatched: 2,
	}, l.Stats())
}

func TestLearnerConversionWindow(t *testing.T) {
	l, _, _ := learner(t, predict.WithConversionWindow(time.Hour))
	f := []uint32{5}
	for i := range 3 {
		id := fmt.Sprint(i)
		l.Shown(id, f, noon)
		l.Click(id, noon.Add(time.Minute))
	}
	assert.Equal(t, 3, l.Stats().PendingClicks)
	assert.True(t, l.Conversion("0", noon.Add(2*time.Hour)), "late")
	assert.Equal(t, 2, l.Advance(noon.Add(time.Hour+time.Minute)), "the windows of 1 and 2 closed")
	l.Conversion("2", noon.Add(2*time.Hour))
	s := l.Stats()
	assert.Equal(t, int64(0), s.Conversions)
	assert.Equal(t, int64(3), s.ClickNoConv)
	assert.Equal(t, int64(1), s.Late)
	assert.Equal(t, int64(1), s.Unmatched)
}

func TestLearnerMaxPending(t *testing.T) {
	l, _, _ := learner(t, predict.WithMaxPending(100))
	for i := range 1000 {
		l.Shown(fmt.Sprint(i), []uint32{1}, noon.Add(time.Duration(i)*time.Second))
	}
	s := l.Stats()
	assert.Equal(t, 100, s.Pending)
	assert.Equal(t, int64(900), s.Evicted)
	assert.True(t, l.Click("999", noon.Add(1000*time.Second)), "the newest still waits")
	assert.False(t, l.Click("0", noon.Add(1000*time.Second)), "the oldest was labelled")
	assert.Equal(t, 99, l.Advance(noon.Add(24*time.Hour)))
}

// Impressions with delayed clicks, labelled through a Learner: the model
// ends calibrated on the base rate.
func TestLearnerDelayedClicksCalibrated(t *testing.T) {
	tr := newTruth(11, 4, 6, -3)
	l, ctr, _ := learner(t, predict.WithClickWindow(time.Hour))
	r := rand.New(rand.NewPCG(12, 12))
	type click struct {
		id string
		at time.Time
	}
	var clicks []click
	now := noon
	var x []uint32
	for i := range 200_000 {
		now = now.Add(time.Second)
		var y bool
		x, _, y = tr.draw(r, x)
		id := fmt.Sprint(i)
		l.Shown(id, x, now)
		if y {
			clicks = append(clicks, click{id, now.Add(time.Duration(r.IntN(3000)) * time.Second)})
		}
		for len(clicks) > 0 && !clicks[0].at.After(now) {
			l.Click(clicks[0].id, clicks[0].at)
			clicks = clicks[1:]
		}
		if i%100 == 0 {
			l.Advance(now)
		}
	}
	var sumP, sumTrue float64
	for range 50_000 {
		var p float64
		x, p, _ = tr.draw(r, x)
		sumP += ctr.Predict(x)
		sumTrue += p
	}
	s := l.Stats()
	t.Logf("%+v; base rate %.5f, mean prediction %.5f", s, sumTrue/50_000, sumP/50_000)
	assert.InEpsilon(t, sumTrue/50_000, sumP/50_000, 0.1)
	assert.Zero(t, s.Late)
}

func TestNewLearnerNamesEveryProblem(t *testing.T) {
	_, err := predict.NewLearner(nil, nil, predict.WithClickWindow(0), predict.WithConversionWindow(-time.Second), predict.WithMaxPending(0))
	require.Error(t, err)
	for _, s := range []string{"nil click model", "click window 0s", "conversion window -1s", "max pending 0"} {
		assert.ErrorContains(t, err, s)
	}
}

func TestLearnerConcurrentEvents(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, ctr, _ := learner(t) // no eviction: each goroutine clicks its own impression
	var wg sync.WaitGroup
	for k := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				id := fmt.Sprint(k, ".", i)
				at := noon.Add(time.Duration(i) * time.Second)
				l.Shown(id, []uint32{0, uint32(k)}, at)
				if i%10 == 0 {
					l.Click(id, at)
				}
				if i%100 == 0 {
					l.Advance(at.Add(-time.Hour))
				}
				ctr.Predict([]uint32{0, uint32(k)})
			}
		})
	}
	wg.Wait()
	s := l.Stats()
	assert.Equal(t, int64(8000), s.Impressions)
	assert.Equal(t, int64(800), s.Clicks)
	assert.Equal(t, int64(8000), s.Clicks+s.Negatives+int64(s.Pending))
}
