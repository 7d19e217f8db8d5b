package predict

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ErrGBTModel is wrapped by LoadXGBoost's error for a model it cannot
// read or does not support.
var ErrGBTModel = errors.New("predict: invalid or unsupported XGBoost model")

// A GBTModel is a gradient boosted tree ensemble trained by XGBoost,
// loaded from its JSON model format (LoadXGBoost), that predicts a
// probability from a dense vector of features. It is immutable and safe
// for concurrent use; Predict does not allocate.
//
// It evaluates as XGBoost's CPU predictor does: each feature is rounded to
// a float32 and goes left when below the node's split condition, a missing
// one (NaN) goes to the node's default child; the margin is the base
// score's margin plus the leaves of the trees, summed in float32 in tree
// order; the probability is the logistic function of the margin. On the
// committed test set (testdata/gbt, written by XGBoost 1.7.4 with
// train.py) its probabilities are within 1e-6 of XGBoost's (the test's
// bound; the largest difference seen was 5e-10, the CSV's rounding).
//
// Why not github.com/dmitryikh/leaves: it reads only XGBoost's old binary
// format, and not as XGBoost writes it today. Debian's XGBoost 1.7.4
// saves JSON (and UBJSON) by default, which leaves cannot read; given the
// same model in 1.7.4's deprecated binary format (save_model("x.bin")),
// leaves v0.0.0-20230708180554-25d19a787328 misreads a length and the
// process runs out of memory (leaves issue #80: formats after 1.0 fail;
// the JSON pull request #81 was never merged). XGBoost is phasing the
// binary format out. The JSON format has a schema and this evaluator
// needs the standard library only, so the core module gains no
// dependency.
type GBTModel struct {
	nodes     []gbtNode // every tree's, one after another
	roots     []int32   // each tree's root in nodes
	base      float32   // the base score, as a margin
	nFeature  int
	names     []string
	objective string
	version   string
}

// A gbtNode is a split, or a leaf when feature is negative (its value is
// then cond). Children are indexes into the model's nodes.
type gbtNode struct {
	cond              float32
	feature           int32
	left, right, miss int32
}

// xgbModel is the part of XGBoost's JSON model that prediction needs.
type xgbModel struct {
	Version []int `json:"version"`
	Learner struct {
		FeatureNames []string `json:"feature_names"`
		Param        struct {
			BaseScore  string `json:"base_score"`
			NumClass   string `json:"num_class"`
			NumFeature string `json:"num_feature"`
			NumTarget  string `json:"num_target"`
		} `json:"learner_model_param"`
		Objective struct {
			Name string `json:"name"`
		} `json:"objective"`
		Booster struct {
			Name  string `json:"name"`
			Model struct {
				TreeInfo []int     `json:"tree_info"`
				Trees    []xgbTree `json:"trees"`
			} `json:"model"`
		} `json:"gradient_booster"`
	} `json:"learner"`
}

type xgbTree struct {
	Left       []int32   `json:"left_children"`
	Right      []int32   `json:"right_children"`
	Indices    []int64   `json:"split_indices"`
	Conditions []float32 `json:"split_conditions"`
	DefaultL   xgbBools  `json:"default_left"`
	SplitType  []int     `json:"split_type"`
}

// xgbBools reads default_left, written as 0s and 1s by XGBoost 1.x and
// as booleans by some other writers.
type xgbBools []bool

func (b *xgbBools) UnmarshalJSON(data []byte) error {
	var bs []bool
	if err := json.Unmarshal(data, &bs); err == nil {
		*b = bs
		return nil
	}
	var is []int
	if err := json.Unmarshal(data, &is); err != nil {
		return errors.New("default_left is neither booleans nor integers")
	}
	*b = make(xgbBools, len(is))
	for i, v := range is {
		(*b)[i] = v != 0
	}
	return nil
}

// LoadXGBoost reads a model XGBoost saved in its JSON format
// (Booster.save_model("model.json"), XGBoost 1.0 or later) from r. It
// supports the gbtree booster with one output (no multi-class, no
// multi-target), numerical splits, and the objectives binary:logistic,
// reg:logistic and binary:logitraw, whose margins are log-odds. It returns
// an error wrapping ErrGBTModel that says why for anything else, for a
// malformed model (arrays of different lengths, a child or feature out of
// range, a node reached twice), and for data that is not JSON.
func LoadXGBoost(r io.Reader) (*GBTModel, error) {
	var doc xgbModel
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrGBTModel, err)
	}
	l := &doc.Learner
	m := &GBTModel{objective: l.Objective.Name, names: l.FeatureNames}
	for i, v := range doc.Version {
		if i > 0 {
			m.version += "."
		}
		m.version += strconv.Itoa(v)
	}
	if err := m.readParams(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrGBTModel, err)
	}
	for i := range l.Booster.Model.Trees {
		if err := m.addTree(&l.Booster.Model.Trees[i]); err != nil {
			return nil, fmt.Errorf("%w: tree %d: %v", ErrGBTModel, i, err)
		}
	}
	return m, nil
}

// readParams checks the learner's parameters and sets the base margin and
// the number of features.
func (m *GBTModel) readParams(doc *xgbModel) error {
	l := &doc.Learner
	if l.Booster.Name != "gbtree" {
		return fmt.Errorf("booster %q: only gbtree is supported", l.Booster.Name)
	}
	if err := checkOneOutput(doc); err != nil {
		return err
	}
	n, err := strconv.Atoi(l.Param.NumFeature)
	if err != nil || n <= 0 || n > math.MaxInt32 {
		return fmt.Errorf("num_feature %q: want a positive count", l.Param.NumFeature)
	}
	if len(m.names) != 0 && len(m.names) != n {
		return fmt.Errorf("%d feature names for %d features", len(m.names), n)
	}
	m.nFeature = n
	// XGBoost 2 and later may write the base score as a one-element array.
	bs, err := strconv.ParseFloat(strings.Trim(l.Param.BaseScore, "[] "), 32)
	if err != nil {
		return fmt.Errorf("base_score %q: %v", l.Param.BaseScore, err)
	}
	m.base, err = baseMargin(m.objective, float32(bs))
	return err
}

// checkOneOutput returns an error if the model has more than one output.
func checkOneOutput(doc *xgbModel) error {
	p := &doc.Learner.Param
	for _, p := range []struct{ name, v string }{{"num_class", p.NumClass}, {"num_target", p.NumTarget}} {
		if n, err := strconv.Atoi(p.v); p.v != "" && (err != nil || n > 1) {
			return fmt.Errorf("%s %q: only models of one output are supported", p.name, p.v)
		}
	}
	for _, c := range doc.Learner.Booster.Model.TreeInfo {
		if c != 0 {
			return errors.New("tree_info: a tree of another output than 0")
		}
	}
	return nil
}

// baseMargin returns the margin the trees' leaves add to, from the base
// score, as XGBoost's objective computes it.
func baseMargin(objective string, base float32) (float32, error) {
	switch objective {
	case "binary:logistic", "reg:logistic":
		// The base score is a probability; XGBoost turns it into a margin
		// in float32.
		if !(base > 0 && base < 1) {
			return 0, fmt.Errorf("base_score %v: a probability in (0, 1) for %s", base, objective)
		}
		return -float32(math.Log(float64(1/base - 1))), nil
	case "binary:logitraw":
		return base, nil
	}
	return 0, fmt.Errorf("objective %q: want binary:logistic, reg:logistic or binary:logitraw", objective)
}

// addTree checks t and appends its nodes.
func (m *GBTModel) addTree(t *xgbTree) error {
	n := len(t.Left)
	if n == 0 {
		return errors.New("no nodes")
	}
	if len(t.Right) != n || len(t.Indices) != n || len(t.Conditions) != n || len(t.DefaultL) != n ||
		(len(t.SplitType) != 0 && len(t.SplitType) != n) {
		return errors.New("node arrays of different lengths")
	}
	if len(m.nodes)+n > math.MaxInt32 {
		return errors.New("too many nodes")
	}
	off := int32(len(m.nodes))
	for i := range n {
		nd, err := m.node(t, i, off)
		if err != nil {
			return err
		}
		m.nodes = append(m.nodes, nd)
	}
	if err := checkTree(m.nodes[off:], off); err != nil {
		return err
	}
	m.roots = append(m.roots, off)
	return nil
}

// node checks node i of t, whose nodes start at off in m.nodes, and
// returns it.
func (m *GBTModel) node(t *xgbTree, i int, off int32) (gbtNode, error) {
	nd := gbtNode{cond: t.Conditions[i], feature: -1}
	l, r, n := t.Left[i], t.Right[i], int32(len(t.Left))
	switch {
	case l == -1 && r == -1: // a leaf
		return nd, nil
	case l < 0 || r < 0 || l >= n || r >= n:
		return nd, fmt.Errorf("node %d: children %d and %d", i, l, r)
	case len(t.SplitType) != 0 && t.SplitType[i] != 0:
		return nd, fmt.Errorf("node %d: a categorical split, which is not supported", i)
	case t.Indices[i] < 0 || t.Indices[i] >= int64(m.nFeature):
		return nd, fmt.Errorf("node %d: feature %d of %d", i, t.Indices[i], m.nFeature)
	}
	nd.feature = int32(t.Indices[i])
	nd.left, nd.right = off+l, off+r
	nd.miss = nd.right
	if t.DefaultL[i] {
		nd.miss = nd.left
	}
	return nd, nil
}

// checkTree makes sure every node of a tree is reached at most once from
// its root (node 0), so that evaluation ends.
func checkTree(nodes []gbtNode, off int32) error {
	seen := make([]bool, len(nodes))
	stack := []int32{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[i] {
			return fmt.Errorf("node %d is reached twice", i)
		}
		seen[i] = true
		if nd := nodes[i]; nd.feature >= 0 {
			stack = append(stack, nd.left-off, nd.right-off)
		}
	}
	return nil
}

// NumFeature returns the length of the feature vector the model reads.
func (m *GBTModel) NumFeature() int { return m.nFeature }

// FeatureNames returns the names of the features the model was trained
// with, nil if it was trained without (XGBoost's feature_names). The
// caller must not change them.
func (m *GBTModel) FeatureNames() []string { return m.names }

// Trees returns the number of trees.
func (m *GBTModel) Trees() int { return len(m.roots) }

// Objective returns XGBoost's objective, such as "binary:logistic".
func (m *GBTModel) Objective() string { return m.objective }

// Version returns the version of XGBoost that saved the model, such as
// "1.7.4".
func (m *GBTModel) Version() string { return m.version }

// Margin returns the model's margin (log-odds) for the features x: x[i]
// is feature i, NaN when missing. Features beyond len(x) are missing.
func (m *GBTModel) Margin(x []float64) float64 {
	sum := m.base
	nodes := m.nodes
	for _, i := range m.roots {
		for {
			nd := &nodes[i]
			if nd.feature < 0 {
				sum += nd.cond
				break
			}
			f := int(nd.feature)
			switch {
			case f >= len(x) || math.IsNaN(x[f]):
				i = nd.miss
			case float32(x[f]) < nd.cond:
				i = nd.left
			default:
				i = nd.right
			}
		}
	}
	return float64(sum)
}

// Predict returns the probability the model predicts for the features x
// (see Margin): the logistic function of the margin, in float32 as
// XGBoost computes it.
func (m *GBTModel) Predict(x []float64) float64 {
	z := float32(m.Margin(x))
	return float64(1 / (1 + float32(math.Exp(float64(-z)))))
}
