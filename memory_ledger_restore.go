package gavel

import (
	"context"
	"fmt"
	"time"
)

var _ Restorer = (*MemoryLedger)(nil)

// Restore implements Restorer: it sets the committed spend of account in
// its current period to committed, if periodStart is that period's start
// (the zero time for a total budget or a flight), and otherwise changes
// nothing and returns nil. What is reserved stays as it is. It returns
// ErrUnknownAccount for an account without a budget, an error for a
// negative committed, and ctx.Err() if ctx is done; on error nothing
// changes.
func (l *MemoryLedger) Restore(ctx context.Context, account string, periodStart time.Time, committed int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if committed < 0 {
		return fmt.Errorf("gavel: restore %q: negative committed %d", account, committed)
	}
	now := l.clock.Now()
	s := l.shard(account)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[account]
	if a == nil {
		return ErrUnknownAccount
	}
	nanos := now.UnixNano()
	s.expire(nanos)
	a.turn(now, nanos)
	if a.start.Equal(periodStart) {
		a.committed = committed
	}
	return nil
}
