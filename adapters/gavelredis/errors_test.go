package gavelredis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gavelrtb/gavel/internal/modtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// The errors of the package name gavel once: a wrapped sentinel already
// says it.
func TestErrorsSayGavelOnce(t *testing.T) {
	c, prefix := profileClient(t)
	ctx := context.Background()
	// Each constructor reports every problem, one a line.
	lines := map[string]int{
		"ledger option": 1, "ledger options": 4, "pacer option": 1, "pacer controller option": 2,
		"pacer options": 4, "profile options": 3,
	}
	constructors := map[string]error{}
	_, constructors["ledger option"] = NewLedger(c, WithLeaseSlice(0))
	_, constructors["ledger options"] = NewLedger(nil, WithKeyPrefix("a:"), WithLedgerHooks(42), WithLedgerClock(nil))
	_, constructors["pacer option"] = NewPacer(c, WithLockTTL(0))
	_, constructors["pacer controller option"] = NewPacer(c, WithPacerStep(0), WithMinRate(-1))
	_, constructors["pacer options"] = NewPacer(nil, WithPacerHooks(42), WithPacerClock(nil), WithTrafficShape([]float64{-1}))
	_, constructors["profile options"] = NewProfileStore(nil, WithProfileDecoded(-1), WithKeyPrefix("{a}"))
	for name, err := range constructors {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, err, gavel.ErrInvalidOption)
			modtest.PrefixedOnce(t, err)
			assert.Len(t, strings.Split(err.Error(), "\n"), lines[name], "%v", err)
		})
	}

	t.Run("ledger", func(t *testing.T) {
		l := newTestLedgerAt(t, c, ledgerPrefix(t, c))
		err := l.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: 1, Period: gavel.DailyPeriod(time.FixedZone("nowhere", 3600), 0)})
		assert.ErrorIs(t, err, gavel.ErrInvalidBudget)
		modtest.PrefixedOnce(t, err)
		require.NoError(t, l.Close(ctx))
		_, err = l.Reserve(ctx, "acme", 1, time.Second)
		modtest.PrefixedOnce(t, err)
	})
	t.Run("pacer", func(t *testing.T) {
		p := newTestPacer(t, c, prefix)
		require.NoError(t, p.SetBudget(ctx, gavel.Budget{Account: "acme", Amount: 1_000, Period: pacerDay}))
		require.NoError(t, c.Do(ctx, c.B().Set().Key(prefix+"pacer:{acme}:state").Value("junk").Build()).Error())
		modtest.PrefixedOnce(t, p.Sync(ctx))
	})
	t.Run("profile", func(t *testing.T) {
		s := newTestProfileStore(t, c, prefix)
		require.NoError(t, c.Do(ctx, c.B().Set().Key(s.Key("u1")).Value(`{"v":9}`).Build()).Error())
		_, err := s.Profile(ctx, "u1")
		modtest.PrefixedOnce(t, err)
		modtest.PrefixedOnce(t, s.Put(ctx, "u1", nil, 0))
	})
}
