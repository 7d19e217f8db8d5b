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

	clients map[string]rueidis.Client // by address
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
// Redis. It connects to each Redis address once. On error, it closes what
// it opened and names each store that failed.
func openStores(c gavelhttp.StoresConfig) (*stores, error) {
	s := &stores{clients: map[string]rueidis.Client{}}
	var errs []error
	for _, part := range []struct {
		name string
		conf gavelhttp.StoreConfig
		open map[string]func(gavelhttp.StoreConfig) error
	}{
		{"ledger", c.Ledger, map[string]func(gavelhttp.StoreConfig) error{storeMemory: s.memoryLedger, storeRedis: s.redisLedger}},
		{"pacer", c.Pacer, map[string]func(gavelhttp.StoreConfig) error{storeMemory: s.memoryPacer, storeRedis: s.redisPacer, storeNone: none}},
		{"profiles", c.Profiles, map[string]func(gavelhttp.StoreConfig) error{storeMemory: s.memoryProfiles, storeRedis: s.redisProfiles, storeNone: none}},
	} {
		open, ok := part.open[part.conf.Kind]
		if !ok {
			errs = append(errs, fmt.Errorf("stores.%s: unknown kind %q", part.name, part.conf.Kind))
			continue
		}
		if err := open(part.conf); err != nil {
			errs = append(errs, fmt.Errorf("stores.%s: %w", part.name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(err, s.close(context.Background()))
	}
	return s, nil
}

func none(gavelhttp.StoreConfig) error { return nil }

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
	client, err := s.client(c.Addr)
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
	client, err := s.client(c.Addr)
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
	client, err := s.client(c.Addr)
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

// client returns the client of the Redis at addr, connecting on first use.
func (s *stores) client(addr string) (rueidis.Client, error) {
	if c, ok := s.clients[addr]; ok {
		return c, nil
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
	if err != nil {
		return nil, fmt.Errorf("redis at %s: %w", addr, err)
	}
	s.clients[addr] = c
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
	for addr, c := range s.clients {
		c.Close()
		delete(s.clients, addr)
	}
	return err
}
