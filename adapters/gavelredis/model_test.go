package gavelredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/predict"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two processes, each with its own client: one learns and publishes, the
// other fetches the newest snapshot and predicts as the learner does.
func TestModelStoreSharesModels(t *testing.T) {
	addr := redisAddr()
	learnerClient := ledgerClientAt(t, addr)
	servingClient := ledgerClientAt(t, addr)
	prefix := modelPrefix(t, learnerClient)
	ctx := context.Background()
	pub, err := NewModelStore(learnerClient, WithKeyPrefix(prefix))
	require.NoError(t, err)
	sub, err := NewModelStore(servingClient, WithKeyPrefix(prefix))
	require.NoError(t, err)

	m, v, err := sub.Fetch(ctx, "ctr", 0)
	require.NoError(t, err)
	assert.Nil(t, m)
	assert.Zero(t, v, "nothing published yet")

	cfg := predict.DefaultConfig()
	cfg.Bits = 10
	model, err := predict.NewModel(cfg)
	require.NoError(t, err)
	x := []uint32{0, 7, 300}
	for i := range 1000 {
		model.Learn(x, i%10 == 0)
	}
	v1, err := pub.Publish(ctx, "ctr", model)
	require.NoError(t, err)
	assert.Equal(t, int64(1), v1)

	got, v, err := sub.Fetch(ctx, "ctr", 0)
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, int64(1), v)
	assert.Equal(t, model.Predict(x), got.Predict(x))

	again, v, err := sub.Fetch(ctx, "ctr", v)
	require.NoError(t, err)
	assert.Nil(t, again, "no newer version")
	assert.Equal(t, int64(1), v)

	for range 1000 {
		model.Learn(x, true)
	}
	v2, err := pub.Publish(ctx, "ctr", model)
	require.NoError(t, err)
	assert.Equal(t, int64(2), v2)
	got, v, err = sub.Fetch(ctx, "ctr", 1)
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, int64(2), v)
	assert.Equal(t, model.Predict(x), got.Predict(x))
}

func TestModelStoreRefusesCorruptSnapshot(t *testing.T) {
	c := ledgerClientAt(t, redisAddr())
	prefix := modelPrefix(t, c)
	ctx := context.Background()
	s, err := NewModelStore(c, WithKeyPrefix(prefix))
	require.NoError(t, err)
	key := prefix + ":model:{ctr}"
	require.NoError(t, c.Do(ctx, c.B().Hset().Key(key).FieldValue().FieldValue("snapshot", "gavelLR\x00garbage").FieldValue("version", "3").Build()).Error())
	m, _, err := s.Fetch(ctx, "ctr", 0)
	assert.Nil(t, m)
	assert.ErrorIs(t, err, predict.ErrSnapshot)
	assert.ErrorContains(t, err, "fetch ctr version 3")

	_, err = s.Publish(ctx, "c{1}", m)
	assert.ErrorContains(t, err, "must not be empty nor contain braces")
	_, _, err = s.Fetch(ctx, "", 0)
	assert.ErrorContains(t, err, "must not be empty nor contain braces")
}

func TestNewModelStoreNamesEveryProblem(t *testing.T) {
	_, err := NewModelStore(nil, WithKeyPrefix("a:"))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	assert.ErrorContains(t, err, "nil client")
	assert.ErrorContains(t, err, "must not end with ':'")
}

// modelPrefix returns a key prefix of its own for one test, and deletes
// the keys under it when the test ends.
func modelPrefix(t *testing.T, c rueidis.Client) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "gavel-model-test-" + hex.EncodeToString(b[:])
	t.Cleanup(func() { profileDeleteKeys(t, c, prefix+":") })
	return prefix
}
