package gavelredis

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
)

// Ledger is a gavel.Ledger, gavel.BatchLedger, gavel.BalanceReader and
// gavel.BalanceCache that keeps budgets in Redis, so that every process
// that runs auctions on an account draws on one budget. Budgets are set
// with SetBudget. The semantics are those of
// gavel.MemoryLedger; every change of money in Redis is a Lua script that
// runs atomically on the account's keys, and returns the account's
// expired holds before it decides anything, so no sweeper is needed.
//
// # Modes
//
// Each account is kept in one of two modes: the ledger's (WithLedgerMode,
// default ModeStrict) or its own (WithAccountMode).
//
// ModeStrict: every reservation is made in Redis, every Commit and Release
// is one script, one round trip. Committed + Reserved never exceeds the
// budget (unless SetBudget lowers it below them). A hold's ID is chosen by
// the ledger (a random tag of the Ledger and a counter, below 2^53), and
// any Ledger on the same keys can commit or release it.
//
// Strict-mode reservations go to Redis in batches: all those of one
// ReserveBatch (the winners of all imps of an auction, for a
// gavel.Auction), together with those of the other Reserve and ReserveBatch
// calls waiting at the time, in one round trip: one script call per
// account, which makes the account's reservations in order, pipelined
// (rueidis DoMulti). One batch is in flight at a time; a call that finds
// none in flight is sent at once, so it waits for nothing but its round
// trip, and the calls that arrive meanwhile go together in the next. Each
// reservation is made on its own: one may fail (its account cannot cover
// it, or has no budget) while others succeed, and a refusal does not stop
// the next reservations of its account, which get what is left. A script
// call is atomic on its account's keys, so the calls of a batch can go to
// different nodes of a Redis Cluster; a batch is not atomic as a whole.
//
// Why so, measured on the project's machine (2 shared cores, Redis on
// localhost): one script over every account of a batch, which only a
// standalone Redis could run, took as long as the same reservations
// pipelined one script each (3, 24 and 200 reservations: 0.22 against
// 0.25ms, 1.2 against 1.2ms, 7 to 9ms either way): what costs is Redis
// running the scripts, about 30µs each, not the round trip. Grouping by
// account is what saves it: 24 reservations on one account take 0.4ms in
// one script, 1.1ms as 24; 200 take 1.5ms against 8ms. So under load, when
// many auctions reserve on one DSP's account at once, they share one
// script per batch, and Redis keeps up.
//
// ModeLease: the process leases a slice of the account's budget
// (WithLeaseSlice) and reserves from it in memory, without a round trip. A
// background refresh tops the lease up when it runs low (below half the
// slice), reports what the process committed (every WithLeaseInterval),
// renews the lease (it expires after WithLeaseTTL, so that the lease of a
// process that dies returns to the account) and gives back the free money
// of a lease not used for half the TTL. A report is applied once in Redis,
// even when it is sent again after a lost reply. Close reports what is
// left and gives the lease back. A Reserve that the lease cannot cover
// waits (within its ctx) for a refresh; one of more than the slice is made
// in Redis as in strict mode. Money committed from a lease counts in the
// daily period in which it is reported, at most a lease interval after the
// commit.
//
// Commit and Release are idempotent, as gavel.Ledger says: a strict-mode
// hold's tombstone lives in Redis (see Keys) until the hold's expiry or
// HoldTombstone after it ended, whichever is later, so that a retry after
// a lost answer, in any process, returns the first outcome. The Ledger is
// a gavel.HoldEnder.
//
// A lease-mode hold lives in the memory of the process that reserved it (in
// a gavel.MemoryLedger of the Ledger): only that Ledger can commit or
// release it, and only that Ledger remembers its end (for as long, in its
// memory): a repeat there returns the first outcome. Another process, or this one after Close, answers
// ErrHoldNotFound (or ErrLedgerClosed), and the hold returns to the lease
// at its expiry (after Close, to the account at once). Lease-mode holds
// expire by the ledger's clock (WithLedgerClock); Hold.ID tells them apart
// (its top bit is set, and the rest is scrambled by a random key of the
// owning Ledger). A process keeps up to 67 million lease-mode holds of an
// account at once, a limit shared by the accounts whose names hash to the
// same of the MemoryLedger's 64 shards.
//
// In Redis, a lease counts as reserved money: the account's budget covers
// Committed + Reserved + Leased at every instant. A process only reserves
// from a lease it has renewed within the last three quarters of the TTL,
// so a live process never uses an expired lease. The account can only be
// overspent when a lease expires in Redis while money of it is still held
// or committed but unreported in the process: the process died, or could
// not reach Redis for the TTL. Money committed from such a lease is
// committed in Redis when it is reported, or never if the process died.
// Each lease holds at most one slice, so the overspend is at most
//
//	slice × number of leases lost
//
// and, when each process loses at most one lease (it dies, or one outage
// lasts longer than the TTL), at most processes × slice. A lost lease is
// counted (LedgerStats.LeasesLost) and reported to the LedgerErrorHooks as
// ErrLeaseLost. Without such a loss lease mode never overspends.
//
// Money committed from a lease (acknowledged to the caller) is kept in the
// process until Redis confirms its report (LedgerStats.Unconfirmed): a
// report whose reply is lost is sent again, with its sequence number, so
// that Redis applies it once, however long Redis is away, also after the
// lease expired in Redis, and after Redis lost its state once the account
// is restored (see Epoch). What is kept is bounded by the slice: a
// reservation the lease cannot cover fails (ErrLeaseShort, counted in
// LeaseShort; or, once the lease is no longer valid, the error of the
// refresh, counted in Failures and told to the LedgerErrorHooks), so the
// process cannot commit more than its slice while it cannot report. Close
// returns an error naming the accounts and micros Redis did not confirm.
//
// # Keys
//
// With the key prefix P (WithKeyPrefix, default DefaultKeyPrefix, "gavel")
// and the account A, all of an account's keys share the hash tag {P:A}, so
// that a Redis Cluster keeps them in one slot:
//
//	{P:A}:budget      hash: amount (micros per period), period ("total" or
//	                  "daily"), tz (time zone name), reset (ns after local
//	                  midnight), version (changes with the period), epoch
//	                  (the epoch marker it was set under)
//	{P:A}:state       hash: start (start of the current period, Unix ms; 0
//	                  for a total budget), committed (in the period),
//	                  reserved (sum of live holds), leased (sum of live
//	                  leases)
//	{P:A}:holds       hash: hold id -> amount
//	{P:A}:holds:exp   sorted set: hold id -> expiry, Unix ms
//	{P:A}:holds:ended:ID  string, one per ended strict-mode hold ID: its
//	                  tombstone, "c:amount:billed" or "r:amount", that
//	                  expires (PX) at the hold's expiry or HoldTombstone
//	                  after the hold ended, whichever is later
//	{P:A}:leases      hash: owner -> amount, owner:seq -> last report applied;
//	                  negative once the owner ended its lease (Close): a
//	                  tombstone, kept the lease TTL or at least a minute,
//	                  that refuses the owner's calls still in flight
//	{P:A}:leases:exp  sorted set: owner -> expiry, Unix ms
//
// and, for the whole ledger,
//
//	{P:epoch}         string: the epoch marker (see Epoch)
//
// The keys but the tombstones never expire; delete them to remove an
// account. The scripts reach the tombstones by their name, which shares
// the account's hash tag, rather than as declared keys. Amounts are
// exact up to MaxAmount (2^53-1 micros), the largest budget SetBudget
// takes, since Lua computes in doubles.
//
// # Time
//
// Holds and leases in Redis expire by the Redis server's clock (the
// scripts call TIME), so that processes whose clocks disagree still agree
// on expiry; Hold.Expires is that expiry, to the millisecond (a ttl is
// rounded up to whole milliseconds). Daily periods are computed by the
// process (gavel.Period.Start, with the ledger's clock and the time zone
// database), since Lua knows no time zones, and passed to the scripts; an
// account moves into a new period when the first process whose clock
// reaches it calls, and never back, so a process whose clock lags sees the
// new period too.
//
// # Failures
//
// The Ledger fails closed: a Reserve that cannot reach Redis (or whose
// lease cannot be renewed) returns an error and reserves nothing, and a
// gavel.Auction then declares no winner for the imp, on time, since Run
// bounds the ledger's ctx by its deadline. Every call to Redis is also
// bounded by WithLedgerTimeout. Failed calls are counted in Stats and
// passed to the LedgerErrorHooks (WithLedgerHooks); a call canceled by its
// ctx (context.Canceled) is the caller's doing and is neither.
//
// A strict-mode reservation that times out keeps the client's connection:
// the Ledger does not show rueidis its deadline, and ends the call itself,
// so that rueidis leaves the reply to be read rather than closing the
// connection that other calls share (with any client options but
// DisableAutoPipelining). ClientOption gives the options that do so for
// every call of the client. A strict-mode reservation with
// less than one round trip to Redis left before its ctx's deadline (the
// smoothed round trip, LedgerStats.RoundTrip) is not sent: it fails at
// once with an error wrapping gavel.ErrNoTime, counted in
// LedgerStats.NoTime, not as a failure.
//
// A strict-mode reservation whose reply is lost (the connection broke, the
// ledger timeout passed) may still have been made in Redis. Since the
// Ledger chose the hold's ID, it releases the hold in the background a
// ledger timeout later (LedgerStats.Orphans), and tries again, a ledger
// timeout apart, while Redis is away (up to 10 times, 1024 orphans at
// once); one it misses returns at its expiry. The release leaves the
// hold's tombstone even when the hold is not there yet, so that a
// reservation that reaches Redis after it (held up in the network, on a
// connection the client gave up) is not made. A caller whose ctx ends before the reply gets an error wrapping
// ctx.Err() at once. Its batch waits for the reply until the latest
// deadline of its callers (within the ledger timeout), and the holds made
// for a caller that gave up are released as soon as the reply arrives; if
// it does not arrive by then, they are orphans as above.
//
// # Epoch
//
// A Redis that restarts empty (no persistence, or a lost AOF) or is
// flushed has lost every budget, committed spend, hold and lease. The
// Ledger does not take it for a Redis of empty accounts: SetBudget writes
// an epoch marker ({P:epoch}) on a Redis that has none and records it in
// each budget, and a process that knew the marker finds it gone or
// replaced (the scripts answer UNKNOWN for an account it knew, or STALE
// with a budget set under another marker, and the ledger reads the marker
// again, in the background). It then fails closed: every reservation
// returns an error wrapping ErrLedgerLost (LedgerStats.Lost; a
// gavel.Auction loses the bid with LossLedgerUnavailable), as does a
// Commit or Release of a hold Redis lost; the loss is counted once
// (LedgerStats.Wipes), told to the LedgerErrorHooks (LedgerEpoch) and
// logged (WithLedgerLogger). Lease-mode money committed in the process is
// kept, not reported, until then.
//
// Recovery: set the budgets again (SetBudget, which a lost ledger accepts
// without reopening the account), restore each account's committed spend
// in its current period (Restore, from the billing events the sinks
// wrote; this reopens the account in this process), then Rearm, which
// writes a new marker: this process reopens every account, and the other
// processes adopt the marker, and reopen, at their next look at it. The
// lease-mode money committed and not reported during the loss is then
// reported on top of the restored spend: when the billing events counted
// it too, Committed is over by at most one slice per process, which makes
// the account spend less, never more.
//
// A process that starts after the loss, with nothing known, cannot tell
// the empty Redis from a new one: with WithEpochRequired its SetBudget
// refuses to write the first marker, and only Rearm does. Persistence
// (AOF) is what keeps the money across a restart; the marker makes its
// loss loud.
//
// # Balances
//
// CachedBalance (gavel.BalanceCache) answers from memory: every script
// that moves an account's money answers with its balance, and a background
// refresh reads the balances asked for lately, every WithBalanceRefresh, in
// one round trip; see CachedBalance for its staleness.
//
// A lease-mode account rides out an outage shorter than three quarters of
// the lease TTL on its lease: that is the policy to choose for accounts
// that must keep buying while Redis is away, at the price of the
// overspend bound above.
//
// The caller owns the client: Close does not close it. A Ledger is safe
// for concurrent use. The zero value is not usable; create one with
// NewLedger.
type Ledger struct {
	client     rueidis.Client
	cfg        ledgerConfig
	scripts    scripts
	owner      string // names this ledger's leases in Redis
	idBase     uint64 // strict-mode hold IDs are idBase | a counter
	nextID     atomic.Uint32
	local      *gavel.MemoryLedger // lease-mode holds (see localFlag); nil without lease mode
	localClock localClock          // l.local's
	idKey      uint64              // scrambles the IDs of lease-mode holds
	stats      counters
	rtt        atomic.Int64 // the smoothed round trip to Redis, ns; 0 until one is seen (ledger_client.go)
	timedAt    atomic.Int64 // mono time of the last round trip timed
	t0         time.Time    // the origin of mono

	accounts sync.Map   // account name -> *account
	epoch    epochState // the epoch marker (ledger_epoch.go)

	closed atomic.Bool
	ticks  atomic.Int64 // refresh loop ticks, for idle leases

	life      sync.RWMutex // orders the start of refreshes before Close's wait
	closing   bool         // guarded by life
	bg        context.Context
	stopBG    context.CancelFunc
	refreshes sync.WaitGroup // refreshes and the orphan worker
	loopDone  chan struct{}  // nil without lease mode

	orphans    chan orphan // reservations whose reply was lost, to release
	orphanOnce sync.Once
	queue      reserveQueue // strict-mode reservations waiting (ledger_batch.go)

	// The balance cache (ledger_balances.go).
	balanceOnce  sync.Once    // starts the refresh
	balanceTicks atomic.Int64 // refreshes started
	wanted       sync.Map     // names of accounts to read that the ledger does not keep
	nwanted      atomic.Int64 // entries in wanted
}

var (
	_ gavel.Ledger        = (*Ledger)(nil)
	_ gavel.BatchLedger   = (*Ledger)(nil)
	_ gavel.BalanceReader = (*Ledger)(nil)
	_ gavel.BalanceCache  = (*Ledger)(nil)
)

// Mode is how a Ledger keeps an account: see Ledger.
type Mode int

const (
	// ModeStrict makes every reservation in Redis: one round trip, never
	// overspent.
	ModeStrict Mode = iota
	// ModeLease reserves from a lease held in the process: no round trip,
	// overspent by at most one slice per lease lost.
	ModeLease
)

func (m Mode) String() string {
	switch m {
	case ModeStrict:
		return "strict"
	case ModeLease:
		return "lease"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// MaxAmount is the largest budget SetBudget takes, in micros: amounts are
// exact in the scripts' Lua numbers up to it. A larger reservation is
// refused with gavel.ErrBudgetExhausted.
const MaxAmount = 1<<53 - 1

var (
	// ErrLedgerClosed is returned by every method of a Ledger after Close.
	ErrLedgerClosed = errors.New("gavel: redis ledger closed")

	// ErrLeaseLost is given to the LedgerErrorHooks when a lease the process
	// still counted on had expired in Redis (see Ledger). The holds taken
	// from it stay, and count against the process's next lease on the
	// account; what they commit is still reported.
	ErrLeaseLost = errors.New("gavel: redis ledger: lease expired in redis")
)

// LedgerStats are a Ledger's counters since NewLedger.
type LedgerStats struct {
	Reserves     int64 // holds reserved, in Redis or from leases
	Refusals     int64 // reservations refused with gavel.ErrBudgetExhausted
	Failures     int64 // reservations that failed on Redis (fail closed: nothing reserved)
	Commits      int64
	Releases     int64
	RedisErrors  int64 // calls to Redis that failed, each also given to the LedgerErrorHooks
	LeaseRefills int64 // lease refreshes that added money to a lease
	LeaseReports int64 // lease refreshes that reported committed money
	LeasesLost   int64 // leases found expired in Redis while the process counted on them
	Orphans      int64 // reservations whose reply was lost or whose caller gave up (see Ledger)
	NoTime       int64 // strict-mode reservations not sent: less than one round trip left before their deadline
	LeaseShort   int64 // lease-mode reservations refused with ErrLeaseShort: the slice held, its refill not come
	Unknown      int64 // reservations refused with gavel.ErrUnknownAccount: the account has no budget
	Lost         int64 // reservations refused with ErrLedgerLost: Redis lost its state, the account is not restored yet
	Wipes        int64 // times the ledger found that Redis lost its state (see Epoch)
	Unconfirmed  int64 // micros committed from leases in this process that Redis has not confirmed yet, now
	LocalHolds   int64 // lease-mode holds outstanding in this process, now

	// RoundTrip is the smoothed round trip to Redis that decides NoTime
	// (see Failures); 0 until a call has been timed.
	RoundTrip time.Duration
}

type counters struct {
	reserves, refusals, failures, commits, releases  atomic.Int64
	redisErrors, refills, reports, lost, orphans     atomic.Int64
	noTime, leaseShort, unknown, wipes, lostRefusals atomic.Int64
}

// Stats returns the ledger's counters.
func (l *Ledger) Stats() LedgerStats {
	s := LedgerStats{
		Reserves:     l.stats.reserves.Load(),
		Refusals:     l.stats.refusals.Load(),
		Failures:     l.stats.failures.Load(),
		Commits:      l.stats.commits.Load(),
		Releases:     l.stats.releases.Load(),
		RedisErrors:  l.stats.redisErrors.Load(),
		LeaseRefills: l.stats.refills.Load(),
		LeaseReports: l.stats.reports.Load(),
		LeasesLost:   l.stats.lost.Load(),
		Orphans:      l.stats.orphans.Load(),
		NoTime:       l.stats.noTime.Load(),
		LeaseShort:   l.stats.leaseShort.Load(),
		Unknown:      l.stats.unknown.Load(),
		Lost:         l.stats.lostRefusals.Load(),
		Wipes:        l.stats.wipes.Load(),
		RoundTrip:    time.Duration(l.rtt.Load()),
	}
	if l.local != nil {
		s.LocalHolds = int64(l.local.Outstanding())
		l.accounts.Range(func(_, v any) bool {
			if a := v.(*account); a.lease != nil {
				s.Unconfirmed += l.unconfirmed(a.lease)
			}
			return true
		})
	}
	return s
}

// NewLedger returns a Ledger on client configured by opts. It returns an
// error wrapping gavel.ErrInvalidOption for a nil client or an option out
// of range, all such problems at once.
// It does not talk to Redis: accounts are read when first used. When an
// account may be in lease mode it starts the background refresh, which
// Close stops; call Close when done with the Ledger in any case.
func NewLedger(client rueidis.Client, opts ...LedgerOption) (*Ledger, error) {
	cfg, err := newLedgerConfig(opts)
	if client == nil {
		err = errors.Join(invalidOption(ledgerWhat, "nil client"), err)
	}
	if err != nil {
		return nil, err
	}
	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails
	seed := binary.LittleEndian.Uint64(id[:8])
	l := &Ledger{
		client:  client,
		cfg:     cfg,
		scripts: newScripts(),
		owner:   hex.EncodeToString(id[:8]),
		idBase:  max(seed>>16&(1<<21-1), 1) << 32,
		idKey:   binary.LittleEndian.Uint64(id[8:]) &^ localFlag,
		t0:      time.Now(),
		orphans: make(chan orphan, maxOrphans),
	}
	l.bg, l.stopBG = context.WithCancel(context.Background())
	if cfg.leases() {
		l.localClock.clock = cfg.clock
		local, err := gavel.NewMemoryLedger(gavel.WithLedgerClock(&l.localClock), gavel.WithHoldTombstones(HoldTombstone))
		if err != nil {
			return nil, err
		}
		l.local = local
		l.loopDone = make(chan struct{})
		go l.loop()
	}
	return l, nil
}

// Close stops the background refresh, ends the process's lease-mode holds
// (their money returns to the account as if they had expired), releases
// the orphans still waiting (see Failures), reports what was committed
// from the leases and gives the leases back, within ctx. What it cannot
// report (ctx ends, Redis fails or lost its state) it returns as an error
// that names each account and the micros Redis did not confirm; the
// leases then return to their accounts at their expiry, and the
// unreported money is missing from the accounts' Committed until a
// reconcile restores it (see Epoch). Close does not
// close the client. After Close every method returns ErrLedgerClosed; a
// call that overlaps Close may still succeed, but a lease-mode hold it
// reserves can no longer be committed. Close returns nil when called
// again.
func (l *Ledger) Close(ctx context.Context) error {
	l.life.Lock()
	if l.closing {
		l.life.Unlock()
		return nil
	}
	l.closing = true
	l.closed.Store(true)
	l.life.Unlock()
	l.stopBG() // ends the loop and the refreshes in flight
	if l.loopDone != nil {
		<-l.loopDone
	}
	l.refreshes.Wait()
	l.endLocalHolds()
	l.releaseOrphansNow(ctx)

	var errs []error
	l.accounts.Range(func(_, v any) bool {
		if a := v.(*account); a.lease != nil {
			if err := l.giveBack(ctx, a); err != nil {
				errs = append(errs, err)
			}
		}
		return true
	})
	return errors.Join(errs...)
}

// start runs f in a goroutine that Close waits for, unless the ledger is
// closing. It reports whether it started f.
func (l *Ledger) start(f func()) bool {
	l.life.RLock()
	defer l.life.RUnlock()
	if l.closing {
		return false
	}
	l.refreshes.Add(1)
	go func() {
		defer l.refreshes.Done()
		f()
	}()
	return true
}

// redisError counts and reports a failed call and returns it, wrapped. A
// call canceled by its ctx is the caller's choice, not a failure of Redis:
// it is neither counted nor reported.
func (l *Ledger) redisError(op LedgerOp, account string, err error) error {
	err = fmt.Errorf("gavel: redis ledger: %s %q: %w", op, account, err)
	if errors.Is(err, context.Canceled) {
		return err
	}
	l.stats.redisErrors.Add(1)
	for _, h := range l.cfg.hooks {
		h.OnLedgerError(op, account, err)
	}
	return err
}

// bound returns ctx bounded by the ledger's timeout.
func (l *Ledger) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= l.cfg.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, l.cfg.timeout)
}

// mono returns the time since the ledger was made, by the monotonic clock.
func (l *Ledger) mono() int64 { return int64(time.Since(l.t0)) }
