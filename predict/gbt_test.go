package predict_test

import (
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gavelrtb/gavel/predict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gbtTolerance is how far gavel's predictions may be from XGBoost's: both
// compute in float32, so they agree to a few float32 roundings (about 6e-8
// each near 1), well inside 1e-6.
const gbtTolerance = 1e-6

// loadGBT loads the model that testdata/gbt/train.py trained.
func loadGBT(t testing.TB) *predict.GBTModel {
	t.Helper()
	f, err := os.Open("testdata/gbt/model.json")
	require.NoError(t, err)
	defer f.Close()
	m, err := predict.LoadXGBoost(f)
	require.NoError(t, err)
	return m
}

// gbtCase is a row of testdata/gbt/cases.csv: features and what XGBoost
// predicted for them.
type gbtCase struct {
	x            []float64
	prob, margin float64
}

func loadGBTCases(t testing.TB) (names []string, cases []gbtCase) {
	t.Helper()
	f, err := os.Open("testdata/gbt/cases.csv")
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(rows), 1)
	nf := len(rows[0]) - 2
	num := func(s string) float64 {
		if s == "" {
			return math.NaN()
		}
		v, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		return v
	}
	for _, r := range rows[1:] {
		c := gbtCase{x: make([]float64, nf), prob: num(r[nf]), margin: num(r[nf+1])}
		for i := range nf {
			c.x[i] = num(r[i])
		}
		cases = append(cases, c)
	}
	return rows[0][:nf], cases
}

// TestGBTMatchesXGBoost checks every prediction of the committed test set
// against XGBoost's own, within gbtTolerance.
func TestGBTMatchesXGBoost(t *testing.T) {
	m := loadGBT(t)
	names, cases := loadGBTCases(t)
	assert.Equal(t, names, m.FeatureNames())
	assert.Equal(t, len(names), m.NumFeature())
	assert.Equal(t, 60, m.Trees())
	assert.Equal(t, "binary:logistic", m.Objective())
	var worstP, worstM float64
	missing := 0
	for i, c := range cases {
		p, z := m.Predict(c.x), m.Margin(c.x)
		require.InDelta(t, c.prob, p, gbtTolerance, "case %d", i)
		require.InDelta(t, c.margin, z, gbtTolerance*10, "case %d margin", i)
		worstP, worstM = max(worstP, math.Abs(p-c.prob)), max(worstM, math.Abs(z-c.margin))
		for _, v := range c.x {
			if math.IsNaN(v) {
				missing++
				break
			}
		}
	}
	assert.Greater(t, missing, len(cases)/4, "cases with a missing feature")
	t.Logf("%d cases (%d with a missing feature): largest difference %.3g in probability, %.3g in margin", len(cases), missing, worstP, worstM)
}

// TestGBTShortVector: features beyond the vector are missing.
func TestGBTShortVector(t *testing.T) {
	m := loadGBT(t)
	nan := make([]float64, m.NumFeature())
	for i := range nan {
		nan[i] = math.NaN()
	}
	assert.Equal(t, m.Predict(nan), m.Predict(nil))
}

func TestLoadXGBoostRefuses(t *testing.T) {
	good, err := os.ReadFile("testdata/gbt/model.json")
	require.NoError(t, err)
	cases := map[string]struct{ old, new string }{
		"not json":         {`{`, `[`},
		"objective":        {`"binary:logistic"`, `"reg:squarederror"`},
		"booster":          {`"name":"gbtree"`, `"name":"dart"`},
		"multi-class":      {`"num_class":"0"`, `"num_class":"3"`},
		"base score":       {`"base_score":"2E-1"`, `"base_score":"2"`},
		"num feature":      {`"num_class":"0","num_feature":"10"`, `"num_class":"0","num_feature":"x"`},
		"feature index":    {`"split_indices":[5,`, `"split_indices":[50,`},
		"child":            {`"left_children":[1,`, `"left_children":[900,`},
		"cycle":            {`"left_children":[1,`, `"left_children":[0,`},
		"lengths":          {`"split_indices":[5,`, `"split_indices":[`},
		"categorical":      {`"split_type":[0,`, `"split_type":[1,`},
		"default left":     {`"default_left":[1,`, `"default_left":["a",`},
		"feature names":    {`"feature_names":["bidfloor",`, `"feature_names":[`},
		"num target":       {`"num_target":"1"`, `"num_target":"2"`},
		"tree of class 1":  {`"tree_info":[0,`, `"tree_info":[1,`},
		"no nodes in tree": {`"left_children":[1,3,5,7,9`, `"left_children":[`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := string(good)
			require.Contains(t, s, c.old)
			s = strings.Replace(s, c.old, c.new, 1)
			_, err := predict.LoadXGBoost(strings.NewReader(s))
			require.ErrorIs(t, err, predict.ErrGBTModel)
			t.Log(err)
		})
	}
}

// FuzzLoadXGBoost: no input makes LoadXGBoost panic, and a model it
// accepts predicts a probability for any vector.
func FuzzLoadXGBoost(f *testing.F) {
	good, err := os.ReadFile("testdata/gbt/model.json")
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte(`{"learner":{"learner_model_param":{"base_score":"5E-1","num_feature":"2"},"objective":{"name":"binary:logistic"},` +
		`"gradient_booster":{"name":"gbtree","model":{"trees":[{"left_children":[1,-1,-1],"right_children":[2,-1,-1],` +
		`"split_indices":[1,0,0],"split_conditions":[0.5,-1,1],"default_left":[0,0,0]}]}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := predict.LoadXGBoost(strings.NewReader(string(data)))
		if err != nil {
			require.ErrorIs(t, err, predict.ErrGBTModel)
			return
		}
		x := make([]float64, m.NumFeature())
		for i := range x {
			x[i] = float64(i%3) - 1
		}
		if p := m.Predict(x); !(p >= 0 && p <= 1) {
			t.Fatalf("probability %v", p)
		}
		m.Predict(nil)
	})
}
