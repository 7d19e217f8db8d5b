package gavelredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// ledgerClient returns a client of the test server, closed when the test
// ends. It skips the test when no server answers.
func ledgerClient(t testing.TB) rueidis.Client {
	t.Helper()
	return ledgerClientAt(t, redisAddr())
}

func ledgerClientAt(t testing.TB, addr string) rueidis.Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		noRedis(t, addr, err)
	}
	_ = conn.Close()
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{addr},
		DisableCache:      true,
		ForceSingleClient: true,
	})
	if err != nil {
		noRedis(t, addr, err)
	}
	t.Cleanup(c.Close)
	return c
}

// ledgerPrefix returns a key prefix of its own for one test, and deletes
// the keys under it when the test ends.
func ledgerPrefix(t testing.TB, c rueidis.Client) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "gavel-test-" + hex.EncodeToString(b[:])
	t.Cleanup(func() { ledgerDeleteKeys(t, c, "{"+prefix+":*") })
	return prefix
}

func ledgerDeleteKeys(t testing.TB, c rueidis.Client, pattern string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
		if err != nil {
			t.Errorf("deleting the test's keys: %v", err)
			return
		}
		if len(e.Elements) > 0 {
			if err := c.Do(ctx, c.B().Del().Key(e.Elements...).Build()).Error(); err != nil {
				t.Errorf("deleting the test's keys: %v", err)
				return
			}
		}
		if cursor = e.Cursor; cursor == 0 {
			return
		}
	}
}

// newTestLedger returns a Ledger on c with a prefix of its own, closed
// when the test ends.
func newTestLedger(t testing.TB, c rueidis.Client, opts ...LedgerOption) *Ledger {
	t.Helper()
	return newTestLedgerAt(t, c, ledgerPrefix(t, c), opts...)
}

// newTestLedgerAt returns a Ledger on c with prefix, closed when the test
// ends.
func newTestLedgerAt(t testing.TB, c rueidis.Client, prefix string, opts ...LedgerOption) *Ledger {
	t.Helper()
	l, err := NewLedger(c, append([]LedgerOption{WithKeyPrefix(prefix)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

func ledgerBalanceOf(t testing.TB, l *Ledger, account string) gavel.Balance {
	t.Helper()
	b, err := l.Balance(context.Background(), account)
	require.NoError(t, err)
	return b
}

// ledgerErrors is a LedgerErrorHook that keeps what it is told.
type ledgerErrors struct {
	mu       sync.Mutex
	ops      []LedgerOp
	accounts []string
	errs     []error
}

func (r *ledgerErrors) OnLedgerError(op LedgerOp, account string, err error) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.accounts = append(r.accounts, account)
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *ledgerErrors) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs)
}

func (r *ledgerErrors) has(target error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.errs {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
