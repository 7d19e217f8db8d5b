package gavel_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// requireOptionErrors checks the one contract of every constructor that
// takes options: an error wrapping ErrInvalidOption that names every
// problem, one per line, each line prefixed "gavel: " once.
func requireOptionErrors(t *testing.T, err error, want ...string) {
	t.Helper()
	require.ErrorIs(t, err, gavel.ErrInvalidOption)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, len(want), "one line per problem: %q", err)
	for i, line := range lines {
		assert.True(t, strings.HasPrefix(line, "gavel: "), "line %q", line)
		assert.Equal(t, 1, strings.Count(line, "gavel:"), "line %q", line)
		assert.Contains(t, line, want[i])
	}
}

func TestConstructorsReportEveryProblemAtOnce(t *testing.T) {
	t.Run("New", func(t *testing.T) {
		a, err := gavel.New(gavel.WithMaxPrice(0), gavel.WithClock(nil), gavel.WithReserve(-1))
		assert.Nil(t, a)
		requireOptionErrors(t, err, "max price", "reserve", "clock")
	})
	t.Run("NewMemoryLedger", func(t *testing.T) {
		l, err := gavel.NewMemoryLedger(gavel.WithLedgerShards(3), gavel.WithLedgerClock(nil))
		assert.Nil(t, l)
		requireOptionErrors(t, err, "shards", "clock")
	})
	t.Run("NewEvenPacer", func(t *testing.T) {
		p, err := gavel.NewEvenPacer(gavel.WithPacerStep(0), gavel.WithMinRate(2), gavel.WithPacerClock(nil))
		assert.Nil(t, p)
		requireOptionErrors(t, err, "step", "min rate", "clock")
	})
	t.Run("NewMemoryProfileStore", func(t *testing.T) {
		s, err := gavel.NewMemoryProfileStore(gavel.WithProfileTTL(0), gavel.WithProfileCapacity(-1), gavel.WithProfileClock(nil))
		assert.Nil(t, s)
		requireOptionErrors(t, err, "ttl", "capacity", "clock")
	})
	t.Run("NewAsyncSink", func(t *testing.T) {
		s, err := gavel.NewAsyncSink(nil, gavel.WithBatchSize(0), gavel.WithLinger(-time.Second))
		assert.Nil(t, s)
		requireOptionErrors(t, err, "event sink must not be nil", "batch size", "linger")
	})
	t.Run("NewHTTPBidder", func(t *testing.T) {
		b, err := gavel.NewHTTPBidder("dsp", "http://127.0.0.1:1/", gavel.WithHTTPClient(nil), gavel.WithHTTPMaxResponseSize(0))
		assert.Nil(t, b)
		requireOptionErrors(t, err, "client", "response size")
	})
	t.Run("throttle", func(t *testing.T) {
		_, err := gavel.New(gavel.WithThrottling(gavel.Throttle{MaxFailureRate: 2, MinCalls: -1}))
		requireOptionErrors(t, err, "max failure rate", "min calls")
	})
}

func TestWrappedErrorsCarryThePrefixOnce(t *testing.T) {
	ledger := must(gavel.NewMemoryLedger())
	require.NoError(t, ledger.SetBudget(context.Background(), gavel.Budget{Account: "x", Amount: 1}))
	a := mustAuction(t, gavel.WithLedger(ledger))
	err := a.Commit(context.Background(), gavel.Billing{AuctionID: "a1", ImpID: "1", Hold: gavel.Hold{ID: 7, Account: "x", Amount: 1}}, 1)
	require.ErrorIs(t, err, gavel.ErrHoldNotFound)
	assert.Equal(t, "gavel: commit a1/1: hold not found", err.Error())

	err = a.Release(context.Background(), gavel.Billing{AuctionID: "a1", ImpID: "1", Hold: gavel.Hold{ID: 7, Account: "x", Amount: 1}})
	require.ErrorIs(t, err, gavel.ErrHoldNotFound)
	assert.Equal(t, "gavel: release a1/1: hold not found", err.Error())

	sink := gavel.NewJSONLinesSink(failingWriter{})
	err = sink.Write(context.Background(), []gavel.Event{{Type: gavel.EventAuction, AuctionID: "a1"}})
	require.Error(t, err)
	assert.Equal(t, 1, strings.Count(err.Error(), "gavel:"), "%q", err)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
