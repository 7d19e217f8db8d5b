package auctiontest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func events(ids ...string) []gavel.Event {
	out := make([]gavel.Event, len(ids))
	for i, id := range ids {
		out[i] = gavel.Event{Version: gavel.EventSchemaVersion, Type: gavel.EventAuction, AuctionID: id}
	}
	return out
}

func TestEventRecorder(t *testing.T) {
	var rec auctiontest.EventRecorder
	ctx := context.Background()
	batch := events("a", "b")
	require.NoError(t, rec.Write(ctx, batch))
	batch[0].AuctionID = "changed"
	assert.Equal(t, events("a", "b"), rec.Events(), "Write keeps a copy")

	got := rec.Events()
	got[1].AuctionID = "changed"
	assert.Equal(t, events("a", "b"), rec.Events(), "Events returns a copy")

	boom := errors.New("boom")
	rec.FailNext(2, boom)
	assert.ErrorIs(t, rec.Write(ctx, events("c")), boom)
	assert.ErrorIs(t, rec.Write(ctx, events("c")), boom)
	require.NoError(t, rec.Write(ctx, events("c")))
	assert.Equal(t, 3, rec.Len())

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, rec.Write(canceled, events("d")), context.Canceled)

	rec.FailNext(1, boom)
	rec.Reset()
	assert.Zero(t, rec.Len())
	require.NoError(t, rec.Write(ctx, events("e")), "Reset forgets pending failures")
	assert.Equal(t, events("e"), rec.Events())
}

func TestEventRecorderWaitFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec auctiontest.EventRecorder
		ctx := context.Background()
		require.NoError(t, rec.WaitFor(ctx, 0))

		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range 10 {
				assert.NoError(t, rec.Write(ctx, events(string(rune('a'+i)))))
			}
		})
		require.NoError(t, rec.WaitFor(ctx, 10))
		assert.Equal(t, 10, rec.Len())
		wg.Wait()

		short, cancelShort := context.WithTimeout(ctx, 5*time.Millisecond)
		defer cancelShort()
		start := time.Now()
		assert.ErrorIs(t, rec.WaitFor(short, 11), context.DeadlineExceeded)
		assert.Equal(t, 5*time.Millisecond, time.Since(start), "WaitFor returns when ctx ends")
	})
}
