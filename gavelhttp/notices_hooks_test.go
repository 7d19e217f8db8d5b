package gavelhttp_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// hookRecorder is a BilledHook and a ReleasedHook.
type hookRecorder struct {
	mu       sync.Mutex
	billed   map[string]int64 // imp id: cost
	calls    int
	released []string // imp ids
}

func (h *hookRecorder) Billed(b gavel.Billing, cost int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.billed == nil {
		h.billed = map[string]int64{}
	}
	h.billed[b.ImpID] += cost
	h.calls++
}

func (h *hookRecorder) Released(b gavel.Billing) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.released = append(h.released, b.ImpID)
}

// The billed hook is told once per impression, with the cost committed,
// however many times its burl is called; the released hook once per loss
// notice.
func TestNoticesHooksOncePerImpression(t *testing.T) {
	rec := &hookRecorder{}
	r := newBillingRig(t, gavelhttp.WithNoticesHooks(rec))
	burls := r.win(t, "auction-1")
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { assert.Equal(t, http.StatusNoContent, get(t, burls[0])) })
	}
	wg.Wait()
	loss := strings.Replace(burls[1], "/notice/billing", "/notice/loss", 1)
	for range 3 {
		require.Equal(t, http.StatusNoContent, get(t, loss))
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Equal(t, 1, rec.calls)
	assert.Equal(t, map[string]int64{"1": 1010}, rec.billed, "imp 1 cleared at 1.01 CPM: 1010 micros")
	assert.Equal(t, []string{"2"}, rec.released)
	assert.Equal(t, int64(1010), r.balance(t).Committed)
}

func TestNoticesHooksRefuseOtherValues(t *testing.T) {
	_, err := gavelhttp.NewNotices(nil, nil, "", nil, gavelhttp.WithNoticesHooks(42))
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	assert.Contains(t, err.Error(), "hook int implements neither")
}
