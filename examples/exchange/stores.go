package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelprom"
	"github.com/gavelrtb/gavel/adapters/gavelredis"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// Kinds of stores, as gavelhttp.StoreConfig names them.
const (
	storeNone   = "none"
	storeMemory = "memory"
	storeRedis  = "redis"
)

// stores are what every Auction of an exchange shares, across reloads:
// the ledger, the pacer that paces its budgets, the profile store, and
// what closes them. The pacer and the profile store may be nil.
type stores struct {
	ledger   gavel.Ledger
	balances gavel.BalanceReader // the ledger, for the metrics
	pacer    gavel.Pacer
	rates    gavelprom.RateReader // the pacer, for the metrics
	profiles gavel.ProfileStore

	clients map[string]rueidis.Client // by use and address: see client
	closers []func(context.Context) error
}

// newMemoryStores returns the demo's stores: a memory ledger paced evenly
// and the demo users' profiles in memory.
func newMemoryStores() (*stores, error) {
	s := &stores{}
	var c gavelhttp.StoreConfig
	return s, errors.Join(s.memoryLedger(c), s.memoryPacer(c), s.memoryProfiles(c))
}

// openStores returns the stores of c: the ledger, the pacer (none: no
// pacer) and the profiles (none: no profile store), each in memory or in
// Redis. It connects to each Redis address once for the ledger and the
// pacer, and once for the profiles. On error, it closes what
// it opened and names each store that failed.
func openStores(c gavelhttp.StoresConfig) (*stores, error) {
	s := &stores{clients: map[string]rueidis.Client{}}
	err := errors.Join(
		s.open("ledger", c.Ledger, s.memoryLedger, s.redisLedger, false),
		s.open("pacer", c.Pacer, s.memoryPacer, s.redisPacer, true),
		s.open("profiles", c.Profiles, s.memoryProfiles, s.redisProfiles, true),
	)
	if err != nil {
		return nil, errors.Join(err, s.close(context.Background()))
	}
	return s, nil
}

// open opens the store called name as c's kind says, with memory or
// redis; kind none leaves it nil when orNone allows it.
func (s *stores) open(name string, c gavelhttp.StoreConfig, memory, redis func(gavelhttp.StoreConfig) error, orNone bool) error {
	var err error
	switch {
	case c.Kind == storeMemory:
		err = memory(c)
	case c.Kind == storeRedis:
		err = redis(c)
	case c.Kind == storeNone && orNone:
	default:
		err = fmt.Errorf("unknown kind %q", c.Kind)
	}
	if err != nil {
		return fmt.Errorf("stores.%s: %w", name, err)
	}
	return nil
}

func (s *stores) memoryLedger(gavelhttp.StoreConfig) error {
	ledger, err := gavel.NewMemoryLedger()
	if err != nil {
		return err
	}
	s.ledger, s.balances = ledger, ledger
	return nil
}

func (s *stores) memoryPacer(gavelhttp.StoreConfig) error {
	pacer, err := gavel.NewEvenPacer()
	if err != nil {
		return err
	}
	s.pacer, s.rates = pacer, pacer
	return nil
}

// memoryProfiles makes a memory profile store that holds the demo users.
func (s *stores) memoryProfiles(gavelhttp.StoreConfig) error {
	profiles, err := newProfiles()
	if err != nil {
		return err
	}
	s.profiles = profiles
	return nil
}

// redisLedger makes the Redis ledger, in strict mode. Closing it gives
// the leases back.
func (s *stores) redisLedger(c gavelhttp.StoreConfig) error {
	client, err := s.client(useBudgets, c.Addr)
	if err != nil {
		return err
	}
	ledger, err := gavelredis.NewLedger(client, gavelredis.WithKeyPrefix(c.Prefix))
	if err != nil {
		return err
	}
	s.closers = append(s.closers, ledger.Close)
	s.ledger, s.balances = ledger, ledger
	return nil
}

// redisPacer makes the Redis pacer, which every process pacing the same
// budgets shares. Closing it sends the spend not yet sent.
func (s *stores) redisPacer(c gavelhttp.StoreConfig) error {
	client, err := s.client(useBudgets, c.Addr)
	if err != nil {
		return err
	}
	pacer, err := gavelredis.NewPacer(client, gavelredis.WithKeyPrefix(c.Prefix))
	if err != nil {
		return err
	}
	s.closers = append(s.closers, pacer.Close)
	s.pacer, s.rates = pacer, pacer
	return nil
}

func (s *stores) redisProfiles(c gavelhttp.StoreConfig) error {
	client, err := s.client(useProfiles, c.Addr)
	if err != nil {
		return err
	}
	profiles, err := gavelredis.NewProfileStore(client, gavelredis.WithKeyPrefix(c.Prefix))
	if err != nil {
		return err
	}
	s.profiles = profiles
	return nil
}

// Uses of a Redis client.
const (
	useBudgets  = "ledger and pacer"
	useProfiles = "profiles"
)

// client returns the client of the Redis at addr for use, connecting on
// first use. The ledger and the pacer share one; the profile store has its
// own, so that its reads, bounded by a few milliseconds (a profile lookup
// that times out is a miss), never share a connection's fate with the
// ledger's reservations: on one shared client, a profile read that timed
// out was seen to fail a reservation made at the same time with "context
// deadline exceeded" (2 auctions of 60 lost their winner). That was before
// gavelredis.ClientOption (AlwaysPipelining), which every client here has
// now: a call that times out leaves its connection open.
func (s *stores) client(use, addr string) (rueidis.Client, error) {
	key := use + "@" + addr
	if c, ok := s.clients[key]; ok {
		return c, nil
	}
	c, err := rueidis.NewClient(gavelredis.ClientOption(addr)) // calls that time out keep their connection
	if err != nil {
		return nil, fmt.Errorf("redis at %s: %w", addr, err)
	}
	s.clients[key] = c
	return c, nil
}

// close closes the Redis ledger and pacer (the ledger gives its leases
// back, the pacer sends its spend), then the clients.
func (s *stores) close(ctx context.Context) error {
	var err error
	for _, c := range s.closers {
		err = errors.Join(err, c(ctx))
	}
	s.closers = nil
	for key, c := range s.clients {
		c.Close()
		delete(s.clients, key)
	}
	return err
}
