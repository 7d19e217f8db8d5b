package gavelredis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelrtb/gavel"
)

// lease is the process's lease on one account's budget: money moved in
// Redis from the account to this ledger's lease record, which local
// reservations draw on. The holds live in the ledger's MemoryLedger (see
// localFlag), on an account whose budget is reported + amount, so that
//
//	amount (in Redis) = free + held + committed but not yet reported
//
// (Remaining, Reserved and Committed − reported of that account), except
// while a refresh is in flight. The holds taken from a lease that is lost
// count against the next lease of the process.
type lease struct {
	account string

	reported   atomic.Int64 // what the local account had committed at the last report
	amount     atomic.Int64 // the lease's amount in Redis, as of the last reply
	grant      atomic.Int64 // what the last refresh added to the free money (<= 0: nothing)
	spare      atomic.Int64 // at most what is free beyond half the slice, or 0 (see topUp)
	valid      atomic.Bool  // refreshed lately: Reserve may take from the lease
	dry        atomic.Bool  // the last refresh found nothing left to lease...
	dryUntil   atomic.Int64 // ...in the period that ends then (Unix ns by the ledger's clock)
	wanted     atomic.Bool  // a reservation was refused since the last refresh
	retry      atomic.Bool  // the last refresh failed
	lastUse    atomic.Int64 // loop tick of the last reservation
	validUntil atomic.Int64 // mono time from which the lease may have expired in Redis
	renewAt    atomic.Int64 // mono time from which the loop renews the lease
	retryAt    atomic.Int64 // mono time before which a failed refresh is not retried on demand
	busy       atomic.Bool  // a refresh is running; changed under mu
	inflight   atomic.Int64 // the spend of the pending report, for Stats

	mu   sync.Mutex
	done chan struct{} // closed when the running (or last) refresh ends; guarded by mu
	err  error         // what the last refresh failed with, nil if it succeeded; guarded by mu

	// Owned by the running refresh.
	seq     int64
	pending report // the report last sent, while its reply is unknown: sent again as is
	budget  int64  // of the local account: reported + amount, less what is being given back
}

// report is what one refresh tells Redis; Redis applies a report once.
type report struct {
	seq   int64 // 0 for none
	spend int64 // committed from the lease since the last report
	back  int64 // given back to the account
}

func newLease(account string) *lease {
	ls := &lease{account: account, done: make(chan struct{})}
	close(ls.done)
	return ls
}

// ErrLeaseShort is returned by a lease-mode Reserve that the lease could
// not cover while the account may still have money: the slice is held by
// the process's holds and its refill has not come (or the reservation
// waited for maxLeaseWaits refreshes). Unlike gavel.ErrBudgetExhausted,
// which a lease-mode Reserve returns only when Redis had nothing more to
// lease, it says nothing of the account's budget: it wraps
// gavel.ErrBudgetPending, and a gavel.Auction loses the bid with
// gavel.LossBudgetPending. Counted in LedgerStats.LeaseShort; a larger
// WithLeaseSlice makes it rarer.
var ErrLeaseShort = fmt.Errorf("%w: redis ledger: lease slice not refilled yet", gavel.ErrBudgetPending)

// maxLeaseWaits is how many refreshes a Reserve waits for before it gives
// up on a lease that others keep draining.
const maxLeaseWaits = 64

func (l *Ledger) reserveLease(ctx context.Context, a *account, amount int64, ttl time.Duration) (gavel.Hold, error) {
	ls := a.lease
	if t := l.ticks.Load(); ls.lastUse.Load() != t {
		ls.lastUse.Store(t)
	}
	// Wait for refreshes while they may bring money; refuse when the
	// account had nothing more to lease in this period, or when a refresh
	// brought nothing and no commit waits to be reported (the slice is all
	// held).
	for waits := 0; ; waits++ {
		h, err := l.take(ctx, ls, amount, ttl)
		if err != errShort {
			return l.taken(a, amount, h, err)
		}
		if l.leaseExhausted(ls, waits) {
			ls.wanted.Store(true)
			if !l.leaseDry(ls) {
				l.stats.leaseShort.Add(1)
				return gavel.Hold{}, ErrLeaseShort
			}
			l.stats.refusals.Add(1)
			return gavel.Hold{}, gavel.ErrBudgetExhausted
		}
		if err := l.awaitRefresh(ctx, a); err != nil {
			if errors.Is(err, gavel.ErrUnknownAccount) {
				l.stats.unknown.Add(1)
			} else {
				l.failed(err)
			}
			return gavel.Hold{}, err
		}
	}
}

// taken counts what take answered for a reservation of amount from a's
// lease, other than errShort, and returns it.
func (l *Ledger) taken(a *account, amount int64, h gavel.Hold, err error) (gavel.Hold, error) {
	if err != nil {
		if errors.Is(err, gavel.ErrBudgetExhausted) {
			l.stats.refusals.Add(1)
		}
		return gavel.Hold{}, err
	}
	l.stats.reserves.Add(1)
	l.topUp(a, amount)
	return h, nil
}

// leaseExhausted reports whether a reservation that ls could not cover,
// after waits refreshes, is refused rather than waiting for another: the
// lease is valid and dry or stuck, or the reservation waited long enough.
func (l *Ledger) leaseExhausted(ls *lease, waits int) bool {
	return waits == maxLeaseWaits || ls.valid.Load() && (l.leaseDry(ls) || l.leaseStuck(ls, waits))
}

// leaseDry reports whether the last refresh of ls found nothing left to
// lease in the period that holds now.
func (l *Ledger) leaseDry(ls *lease) bool {
	return ls.dry.Load() && l.cfg.clock.Now().UnixNano() < ls.dryUntil.Load()
}

// leaseStuck reports whether no refresh can bring ls money: the last one
// brought nothing, none runs, and no commit waits to be reported. Stuck
// only after a refresh that this reservation started (waits > 1): the
// first one waited for may have begun before the period turned over, and
// then says nothing about what the account has now.
func (l *Ledger) leaseStuck(ls *lease, waits int) bool {
	return waits > 1 && ls.grant.Load() <= 0 && l.unreported(ls) == 0 && !ls.busy.Load()
}

// topUp starts a refresh of a's lease before it runs dry (below half the
// slice free), unless one is running, the account has nothing more, or a
// refresh would bring nothing (no commit to report, and the last brought
// nothing); amount was just reserved from it.
//
// Reading the local balance costs a lock, so topUp reads it only when
// spare falls below zero, and then sets spare from it: reservations lower
// spare, holds that end do not raise it, so until a refresh (which sets it
// to 0) it stays at most what is free beyond half the slice.
func (l *Ledger) topUp(a *account, amount int64) {
	ls := a.lease
	if ls.spare.Add(-amount) >= 0 || ls.busy.Load() || ls.dry.Load() {
		return
	}
	b, _ := l.localBalance(ls)
	spare := b.Remaining() - l.cfg.slice/2
	ls.spare.Store(spare)
	if spare < 0 && (b.Committed > ls.reported.Load() || ls.grant.Load() > 0) {
		l.kick(a, true)
	}
}

// awaitRefresh waits for a refresh of a's lease, started now unless one is
// running, and returns what it failed with. During a failure's back-off it
// returns that failure at once.
func (l *Ledger) awaitRefresh(ctx context.Context, a *account) error {
	select {
	case <-l.refreshing(a, true):
	case <-ctx.Done():
		return ctx.Err()
	}
	if l.closed.Load() {
		return ErrLedgerClosed
	}
	ls := a.lease
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.err
}

// kick starts a refresh of a's lease unless one is running.
func (l *Ledger) kick(a *account, demand bool) {
	if !a.lease.busy.Load() {
		l.refreshing(a, demand)
	}
}

// refreshing returns a channel closed when the running refresh of a's
// lease ends, starting one in its own goroutine if none is running. It
// starts none (and returns a closed channel) when the ledger is closing,
// or on demand (a Reserve asks) before the back-off of a failed refresh
// ends.
func (l *Ledger) refreshing(a *account, demand bool) <-chan struct{} {
	ls := a.lease
	ls.mu.Lock()
	if ls.busy.Load() || (demand && l.mono() < ls.retryAt.Load()) {
		done := ls.done
		ls.mu.Unlock()
		return done
	}
	ls.busy.Store(true)
	done := make(chan struct{})
	ls.done = done
	ls.mu.Unlock()
	end := func(err error) {
		ls.mu.Lock()
		ls.err = err
		ls.busy.Store(false)
		close(done)
		ls.mu.Unlock()
	}
	if !l.start(func() { end(l.refresh(l.bg, a, false)) }) {
		end(ErrLedgerClosed)
	}
	return done
}

// refresh runs the lease script once for a: it reports what was committed
// from the lease, gives back the free money of an idle lease (the whole
// lease and its record when final), renews the lease and tops it up to
// the slice. The caller makes sure that only one refresh of a runs at a
// time.
func (l *Ledger) refresh(ctx context.Context, a *account, final bool) error {
	ls := a.lease
	ls.wanted.Store(false)
	if l.failClosed(a.name) {
		// Redis lost its state: what was committed stays to report until
		// the account is restored (see Ledger, Epoch).
		ls.valid.Store(false)
		ls.retry.Store(true)
		ls.retryAt.Store(l.mono() + int64(l.cfg.interval))
		l.suspect() // adopts a rearm by another process
		return fmt.Errorf("%w: account %q", ErrLedgerLost, a.name)
	}
	idle := final || l.ticks.Load()-ls.lastUse.Load() > l.idleTicks()
	if ls.pending.seq == 0 {
		ls.pending = l.nextReport(ls, idle)
		ls.inflight.Store(ls.pending.spend)
	}
	r := ls.pending
	sent := l.mono()
	rep, code, used, err := l.sendReport(ctx, a, r, idle, final)
	if err == nil && code == replyUnknown {
		return l.leaseUnknown(ctx, a)
	}
	var got leaseReply
	if err == nil {
		got, err = l.parseLease(a, rep, code)
	}
	if err != nil {
		ls.retry.Store(true)
		ls.retryAt.Store(l.mono() + int64(l.cfg.interval))
		return err
	}
	l.applyLease(a, r, got, used, sent, final)
	l.known(a, rep, 5)
	return nil
}

// leaseReply is what the lease script answers when it applied a report.
type leaseReply struct {
	existed int64 // 0: the lease had expired in Redis (or never existed)
	amount  int64 // the lease's amount now
	expiry  int64 // its expiry, Unix ms by the Redis server's clock
	left    int64 // what the account has left to lease in the period
}

// sendReport runs the lease script for a with the report r, asking for a
// lease of the slice, or of nothing when idle; final ends the lease. It
// returns the reply, its code, and the configuration the call used.
func (l *Ledger) sendReport(ctx context.Context, a *account, r report, idle, final bool) (reply, int64, *accountConfig, error) {
	target, end := l.cfg.slice, "0"
	if idle {
		target = 0
	}
	if final {
		end = "1"
	}
	var used *accountConfig
	rep, code, err := l.call(ctx, LedgerLease, l.scripts.lease, a, func(c *accountConfig) []string {
		used = c
		return []string{c.version, c.startMs, l.owner, strconv.FormatInt(r.seq, 10),
			strconv.FormatInt(r.spend, 10), strconv.FormatInt(r.back, 10), strconv.FormatInt(target, 10),
			strconv.FormatInt(l.cfg.leaseTTL.Milliseconds(), 10), end}
	})
	return rep, code, used, err
}

// parseLease reads the lease script's reply rep, of code, for a.
func (l *Ledger) parseLease(a *account, rep reply, code int64) (leaseReply, error) {
	var got leaseReply
	err := fmt.Errorf("%w: code %d", errBadReply, code)
	if code == replyOK {
		err = rep.ints(&got.existed, &got.amount, &got.expiry, &got.left)
	}
	if err != nil {
		return leaseReply{}, l.redisError(LedgerLease, a.name, err)
	}
	return got, nil
}

// leaseUnknown handles a lease refresh that Redis answered UNKNOWN: the
// account's budget was deleted, and the lease is dropped with what it
// had to report; or Redis lost its state, which the epoch marker tells,
// and what the lease has to report is kept until the account is restored.
func (l *Ledger) leaseUnknown(ctx context.Context, a *account) error {
	if l.epoch.mark.Load() != nil {
		_ = l.checkEpoch(ctx)
	}
	if l.failClosed(a.name) {
		ls := a.lease
		ls.valid.Store(false)
		ls.retry.Store(true)
		ls.retryAt.Store(l.mono() + int64(l.cfg.interval))
		return fmt.Errorf("%w: account %q", ErrLedgerLost, a.name)
	}
	l.dropLease(a)
	return gavel.ErrUnknownAccount
}

// unconfirmed returns what was committed from ls that Redis has not
// confirmed: not yet reported, or reported without a reply.
func (l *Ledger) unconfirmed(ls *lease) int64 {
	return l.unreported(ls) + ls.inflight.Load()
}

// dropLease forgets a's lease and a itself: the account's budget is gone
// from Redis, and its leases with it.
func (l *Ledger) dropLease(a *account) {
	ls := a.lease
	ls.pending = report{}
	ls.inflight.Store(0)
	ls.valid.Store(false)
	ls.amount.Store(0)
	if ls.budget > 0 {
		l.setBudget(ls, ls.reported.Load()) // nothing free
	}
	l.forget(a)
}

// applyLease takes in what the lease script answered to the report r, sent
// at mono time sent with the account configuration used.
func (l *Ledger) applyLease(a *account, r report, got leaseReply, used *accountConfig, sent int64, final bool) {
	ls := a.lease
	ls.pending = report{}
	ls.inflight.Store(0)
	ls.retry.Store(false)
	if r.spend > 0 {
		l.stats.reports.Add(1)
	}
	if got.existed == 0 && ls.amount.Load() > 0 {
		l.leaseLost(a)
	}
	// > 0: a grant, with any lost in a reply that never came.
	d := got.amount - (ls.budget - ls.reported.Load())
	l.setBudget(ls, ls.reported.Load()+got.amount)
	ls.spare.Store(0) // the next reservation reads the balance
	if d > 0 {
		l.stats.refills.Add(1)
	}
	ls.grant.Store(d)
	ls.amount.Store(got.amount)
	ls.dry.Store(got.left <= 0)
	ls.dryUntil.Store(math.MaxInt64)
	if used.period.Daily {
		ls.dryUntil.Store(used.next.UnixNano())
	}
	ttl := int64(l.cfg.leaseTTL)
	ls.validUntil.Store(sent + ttl*3/4)
	ls.renewAt.Store(sent + ttl/4)
	ls.valid.Store(!final)
}

// leaseLost counts and reports a's lease, which expired in Redis while the
// process counted on it: its money is the account's again. Holds taken
// from it stay, and count against the new lease; what they commit is
// reported.
func (l *Ledger) leaseLost(a *account) {
	l.stats.lost.Add(1)
	lost := fmt.Errorf("%w: account %q", ErrLeaseLost, a.name)
	for _, h := range l.cfg.hooks {
		h.OnLedgerError(LedgerLease, a.name, lost)
	}
}

// nextReport takes the next report of ls from the local account: what
// was committed since the last report and, when idle is set, the free
// money, given back. On the lease's first report, what the account
// committed before (under an earlier lease of a budget since deleted) is
// taken as reported.
func (l *Ledger) nextReport(ls *lease, idle bool) report {
	b, ok := l.localBalance(ls)
	if ls.seq == 0 && ok {
		ls.reported.Store(b.Committed)
		l.setBudget(ls, b.Committed)
	}
	ls.seq++
	r := report{seq: ls.seq}
	if idle && ls.budget > 0 {
		// Stop reservations first, so that what is free stays free.
		_ = l.local.SetBudget(context.Background(), gavel.Budget{Account: ls.account, Amount: 0})
		b, _ = l.localBalance(ls)
		r.back = max(ls.budget-b.Committed-b.Reserved, 0)
		l.setBudget(ls, ls.budget-r.back)
	}
	r.spend = b.Committed - ls.reported.Load()
	ls.reported.Store(b.Committed)
	return r
}

// idleTicks is how many loop ticks without a reservation make a lease
// idle: half the lease TTL.
func (l *Ledger) idleTicks() int64 {
	return max(int64(l.cfg.leaseTTL/l.cfg.interval/2), 1)
}

// loop runs every lease interval until Close: it stops reservations from
// leases that may have expired, and starts the refreshes that are due.
func (l *Ledger) loop() {
	defer close(l.loopDone)
	t := time.NewTicker(l.cfg.interval)
	defer t.Stop()
	for {
		select {
		case <-l.bg.Done():
			return
		case <-t.C:
		}
		tick := l.ticks.Add(1)
		now := l.mono()
		l.accounts.Range(func(_, v any) bool {
			if a := v.(*account); a.lease != nil && l.due(a.lease, tick, now) {
				l.kick(a, false)
			}
			return true
		})
	}
}

// due reports whether ls needs a refresh now, and stops reservations from
// it if it may have expired in Redis.
func (l *Ledger) due(ls *lease, tick, now int64) bool {
	if now >= ls.validUntil.Load() {
		ls.valid.Store(false)
	}
	if ls.retry.Load() || ls.wanted.Load() || ls.amount.Load() > 0 && now >= ls.renewAt.Load() {
		return true
	}
	b, _ := l.localBalance(ls) // returns the holds that expired
	switch {
	case b.Committed > ls.reported.Load(): // to report
		return true
	case tick-ls.lastUse.Load() > l.idleTicks():
		return b.Remaining() > 0 // give it back
	}
	// Top up a lease that runs low (Reserve asks first; this retries).
	return ls.amount.Load() > 0 && b.Remaining() < l.cfg.slice/2 && !ls.dry.Load()
}

// giveBack ends a's lease for Close: it reports what is left to report and
// returns the lease to the account, trying again while ctx allows (a
// report is applied once however often it is sent).
func (l *Ledger) giveBack(ctx context.Context, a *account) error {
	ls := a.lease
	var err error
	for range 3 {
		if ls.pending.seq == 0 && l.unreported(ls) == 0 && ls.amount.Load() == 0 {
			return nil
		}
		// A report left pending by a refresh that Close canceled carries
		// only what was committed when it was made: send it as it is,
		// without ending the lease, so that the final report, made anew,
		// carries the rest. Ending the lease with it would leave the rest
		// nowhere to go.
		final := ls.pending.seq == 0
		switch err = l.refresh(ctx, a, final); {
		case errors.Is(err, gavel.ErrUnknownAccount):
			return nil
		case err != nil && (ctx.Err() != nil || errIsLost(err)):
			return l.unconfirmedError(a, err)
		}
	}
	if err != nil {
		return l.unconfirmedError(a, err)
	}
	return nil
}

// unconfirmedError names, for Close, what a's lease committed that Redis
// did not confirm, and why.
func (l *Ledger) unconfirmedError(a *account, err error) error {
	return fmt.Errorf("%w (account %q: %d micros committed from the lease not confirmed by redis)",
		err, a.name, l.unconfirmed(a.lease))
}
