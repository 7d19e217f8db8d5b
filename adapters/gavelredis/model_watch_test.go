package gavelredis

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/predict"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const watchBits = 10

// watchClient is a client as a process would make one, with
// ClientOption: a poll that times out leaves the connection open.
func watchClient(t *testing.T) rueidis.Client {
	t.Helper()
	addr := redisAddr()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		noRedis(t, addr, err)
	}
	_ = conn.Close()
	opt := ClientOption(addr)
	opt.DisableCache = true
	opt.ForceSingleClient = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		noRedis(t, addr, err)
	}
	t.Cleanup(c.Close)
	return c
}

func watchModel(t *testing.T) *predict.Model {
	t.Helper()
	cfg := predict.DefaultConfig()
	cfg.Bits = watchBits
	m, err := predict.NewModel(cfg)
	require.NoError(t, err)
	return m
}

func watchPredictor(t *testing.T) *predict.Predictor {
	t.Helper()
	x, err := predict.NewExtractor(predict.WithBits(watchBits))
	require.NoError(t, err)
	p, err := predict.NewPredictor(watchModel(t), nil, x)
	require.NoError(t, err)
	return p
}

// Two processes, each with its own client: one learns and publishes every
// 50 ms (a ModelPublisher), the other's predictor serves each new version
// through a ModelWatcher polling every 50 ms. A poll or publish times out
// after its interval, which happens on a loaded machine: they are retried
// at the next interval, so errors are logged, not failed on.
func TestModelWatcherServesPublishedModels(t *testing.T) {
	learnerClient, servingClient := watchClient(t), watchClient(t)
	prefix := modelPrefix(t, learnerClient)
	pubStore, err := NewModelStore(learnerClient, WithKeyPrefix(prefix))
	require.NoError(t, err)
	subStore, err := NewModelStore(servingClient, WithKeyPrefix(prefix))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	serving := watchPredictor(t)
	before, _ := serving.Models()
	w, err := subStore.Watch(ctx, serving, "ctr", "cvr", 50*time.Millisecond)
	require.NoError(t, err)
	defer w.Close()
	s := w.Stats()
	assert.Equal(t, int64(1), s.Polls, "Watch polls once before it returns")
	assert.Zero(t, s.Loads, "nothing published yet")
	assert.NoError(t, s.LastError)

	ctr, cvr := watchModel(t), watchModel(t)
	x := []uint32{0, 7, 300}
	for i := range 2000 {
		ctr.Learn(x, i%10 == 0)
		cvr.Learn(x, i%3 == 0)
	}
	pubCTR, err := pubStore.PublishEvery(ctx, "ctr", ctr, 50*time.Millisecond)
	require.NoError(t, err)
	defer pubCTR.Close()

	// The click model arrives; the conversion model stays the target's
	// (none) until it is published.
	require.Eventually(t, func() bool {
		got, _ := serving.Models()
		return got != before && got.Predict(x) == ctr.Predict(x)
	}, 10*time.Second, 5*time.Millisecond)
	_, gotCVR := serving.Models()
	assert.Nil(t, gotCVR)

	_, err = pubStore.Publish(ctx, "cvr", cvr)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, got := serving.Models()
		return got != nil && got.Predict(x) == cvr.Predict(x)
	}, 10*time.Second, 5*time.Millisecond)

	// The learner learns on; a later version is served.
	for range 2000 {
		ctr.Learn(x, true)
	}
	want := ctr.Predict(x)
	require.Eventually(t, func() bool {
		got, _ := serving.Models()
		return got.Predict(x) == want
	}, 10*time.Second, 5*time.Millisecond)
	ws, ps := w.Stats(), pubCTR.Stats()
	assert.GreaterOrEqual(t, ws.Loads, int64(3))
	assert.GreaterOrEqual(t, ws.CTRVersion, int64(2))
	assert.Equal(t, int64(1), ws.CVRVersion)
	assert.Positive(t, ps.Published)
	t.Logf("watcher %+v, publisher %+v", ws, ps)

	// Both stop with their context (goleak checks in TestMain).
	cancel()
	w.Close()
	pubCTR.Close()
}

// A snapshot Load refuses and a model SetModels refuses are counted; the
// target keeps its model, and a refused version is not fetched again.
func TestModelWatcherCountsErrors(t *testing.T) {
	c := watchClient(t)
	prefix := modelPrefix(t, c)
	store, err := NewModelStore(c, WithKeyPrefix(prefix))
	require.NoError(t, err)
	ctx := context.Background()
	serving := watchPredictor(t)
	before, _ := serving.Models()
	var loaded [][2]int64
	w, err := store.Watch(ctx, serving, "ctr", "", time.Hour, OnModelsLoaded(func(ctr, cvr int64) {
		loaded = append(loaded, [2]int64{ctr, cvr})
	}))
	require.NoError(t, err)
	defer w.Close()

	key := prefix + ":model:{ctr}"
	require.NoError(t, c.Do(ctx, c.B().Hset().Key(key).FieldValue().FieldValue("snapshot", "garbage").FieldValue("version", "1").Build()).Error())
	assert.ErrorIs(t, w.Poll(ctx), predict.ErrSnapshot)
	s := w.Stats()
	assert.Equal(t, int64(1), s.Errors)
	assert.ErrorIs(t, s.LastError, predict.ErrSnapshot)

	cfg := predict.DefaultConfig()
	cfg.Bits = watchBits + 1
	wrong, err := predict.NewModel(cfg)
	require.NoError(t, err)
	_, err = store.Publish(ctx, "ctr", wrong)
	require.NoError(t, err)
	err = w.Poll(ctx)
	assert.ErrorIs(t, err, gavel.ErrInvalidOption)
	assert.ErrorContains(t, err, "apply ctr v2")
	assert.NoError(t, w.Poll(ctx), "version 2 is not fetched again")
	s = w.Stats()
	assert.Equal(t, int64(2), s.Errors)
	assert.Zero(t, s.Loads)
	assert.NoError(t, s.LastError)
	got, _ := serving.Models()
	assert.Same(t, before, got)

	_, err = store.Publish(ctx, "ctr", watchModel(t))
	require.NoError(t, err)
	require.NoError(t, w.Poll(ctx))
	s = w.Stats()
	assert.Equal(t, int64(1), s.Loads)
	assert.Equal(t, int64(3), s.CTRVersion)
	assert.Equal(t, [][2]int64{{3, 0}}, loaded, "called once, for the models applied")
}

func TestModelWatchNamesEveryProblem(t *testing.T) {
	c := watchClient(t)
	store, err := NewModelStore(c, WithKeyPrefix(modelPrefix(t, c)))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = store.Watch(ctx, nil, "", "c{v}", 0)
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, want := range []string{"nil target", "interval 0s", `click model name ""`, `conversion model name "c{v}"`} {
		assert.ErrorContains(t, err, want)
	}
	_, err = store.PublishEvery(ctx, "", nil, -time.Second)
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	for _, want := range []string{"nil model", "interval -1s", `model name ""`} {
		assert.ErrorContains(t, err, want)
	}
}
