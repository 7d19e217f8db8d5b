package gavelredis

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// A flush whose answer was lost (Redis applied it, the call timed out) is
// sent again with the same id and amount, and counts once; what was spent
// meanwhile follows in the next flush. Before flush ids, the retry added
// the spend a second time (seen as 2100 for 700 spent under load).
func TestPacerFlushCountsOnce(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	p := newTestPacer(t, c, prefix)
	require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: 1_000_000_000, Period: pacerDay}))
	spent := func() int64 {
		key := prefix + "pacer:{acme}:spent:" + strconv.FormatInt(pacerDay.Start(time.Now()).Unix(), 10)
		v, err := c.Do(ctx, c.B().Get().Key(key).Build()).AsInt64()
		require.NoError(t, err)
		return v
	}
	a := p.account("acme")

	p.Spend(ctx, "acme", 700)
	p.syncMu.Lock()
	require.NoError(t, p.flush(ctx, []*pacerAccount{a}))
	id := a.flushID
	// The answer was lost: the flush is still unacknowledged.
	a.unacked.Store(700)
	p.syncMu.Unlock()
	p.Spend(ctx, "acme", 300)
	assert.Equal(t, int64(1000), p.Stats().Pending, "700 unacknowledged, 300 recorded")

	require.NoError(t, p.Sync(ctx)) // sends flush id again: applied already, adds nothing
	assert.Equal(t, id, a.flushID)
	assert.Equal(t, int64(700), spent())
	assert.Equal(t, int64(300), p.Stats().Pending)
	require.NoError(t, p.Sync(ctx)) // then the 300 under a new id
	assert.NotEqual(t, id, a.flushID)
	assert.Equal(t, int64(1000), spent())
	assert.Zero(t, p.Stats().Pending)
}

// A flush that failed before reaching Redis is sent again, whole, and
// counts once.
func TestPacerFlushRetriedAfterFailure(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	p := newTestPacer(t, c, prefix)
	require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: 1_000_000_000, Period: pacerDay}))
	p.Spend(ctx, "acme", 500)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	require.Error(t, p.Sync(canceled))
	assert.Equal(t, int64(500), p.Stats().Pending)
	p.Spend(ctx, "acme", 1)
	require.NoError(t, p.Sync(ctx))
	require.NoError(t, p.Sync(ctx))
	assert.Zero(t, p.Stats().Pending)
	assert.Equal(t, int64(501), p.Stats().Flushed)
}
