package gavelredis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gavelrtb/gavel/predict"
	"github.com/redis/rueidis"
)

// A ModelStore shares predict.Models between processes through Redis: the
// process that learns publishes snapshots (Publish), the others fetch the
// newest on an interval (Fetch) and swap it in (predict.Predictor's
// SetModels). It is safe for concurrent use. Create one with
// NewModelStore; the zero ModelStore is not usable.
//
// Each model name has one key, "<prefix>:model:{<name>}", a hash whose
// field "snapshot" holds the newest snapshot (predict's format,
// checksummed) and "version" counts the snapshots published, both written
// at once by a script, so a reader never gets a version with another
// version's snapshot. A snapshot is as large as the model's nonzero
// coordinates (20 bytes each); publish once a minute, not per event.
type ModelStore struct {
	client rueidis.Client
	prefix string
}

// A ModelOption configures a ModelStore. WithKeyPrefix is a ModelOption
// too.
type ModelOption interface {
	applyModel(*modelConfig)
}

type modelConfig struct {
	prefix string
	errs   []error
}

const modelWhat = "redis model store"

func (p keyPrefix) applyModel(c *modelConfig) {
	c.prefix = string(p)
	if msg := checkPrefix(c.prefix); msg != "" {
		c.errs = append(c.errs, invalidOption(modelWhat, "%s", msg))
	}
}

// NewModelStore returns a ModelStore on client. It reports every invalid
// option at once, wrapping gavel.ErrInvalidOption.
func NewModelStore(client rueidis.Client, opts ...ModelOption) (*ModelStore, error) {
	c := modelConfig{prefix: DefaultKeyPrefix}
	if client == nil {
		c.errs = append(c.errs, invalidOption(modelWhat, "nil client"))
	}
	for _, o := range opts {
		o.applyModel(&c)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	return &ModelStore{client: client, prefix: c.prefix}, nil
}

// publishScript stores a snapshot and counts it, at once.
var publishScript = rueidis.NewLuaScript(`
redis.call('HSET', KEYS[1], 'snapshot', ARGV[1])
return redis.call('HINCRBY', KEYS[1], 'version', 1)
`)

func (s *ModelStore) key(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "{}") {
		return "", fmt.Errorf("gavel: %s: model name %q must not be empty nor contain braces", modelWhat, name)
	}
	return s.prefix + ":model:{" + name + "}", nil
}

// Publish saves m as the newest snapshot of the model name and returns its
// version: 1 for the first, then one more each time. Learning waits on m
// while it is saved (predict.Model.Save), not while it is sent. It returns
// an error matching ctx.Err() if ctx ends first, and Redis's error;
// a Publish whose answer was lost may have published.
func (s *ModelStore) Publish(ctx context.Context, name string, m *predict.Model) (int64, error) {
	key, err := s.key(name)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		return 0, fmt.Errorf("gavel: %s: publish %s: %w", modelWhat, name, err)
	}
	v, err := publishScript.Exec(ctx, s.client, []string{key}, []string{buf.String()}).AsInt64()
	if err != nil {
		return 0, fmt.Errorf("gavel: %s: publish %s: %w", modelWhat, name, err)
	}
	return v, nil
}

// Version returns the version of the newest snapshot of the model name,
// 0 if none was published, in one round trip that carries no snapshot.
func (s *ModelStore) Version(ctx context.Context, name string) (int64, error) {
	key, err := s.key(name)
	if err != nil {
		return 0, err
	}
	v, err := s.client.Do(ctx, s.client.B().Hget().Key(key).Field("version").Build()).AsInt64()
	switch {
	case rueidis.IsRedisNil(err):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("gavel: %s: version of %s: %w", modelWhat, name, err)
	}
	return v, nil
}

// Fetch returns the newest snapshot of the model name, loaded, and its
// version, if that version is above after; otherwise a nil model and the
// version (0 if none), having read only the version. Poll it with the
// version of the model in use:
//
//	m, v, err := store.Fetch(ctx, "ctr", current)
//	if err == nil && m != nil {
//		current = v
//		_ = predictor.SetModels(m, nil)
//	}
//
// A snapshot that predict.Load refuses is an error wrapping
// predict.ErrSnapshot.
func (s *ModelStore) Fetch(ctx context.Context, name string, after int64) (*predict.Model, int64, error) {
	v, err := s.Version(ctx, name)
	if err != nil || v <= after {
		return nil, v, err
	}
	key, _ := s.key(name)
	vals, err := s.client.Do(ctx, s.client.B().Hmget().Key(key).Field("version", "snapshot").Build()).ToArray()
	if err != nil {
		return nil, 0, fmt.Errorf("gavel: %s: fetch %s: %w", modelWhat, name, err)
	}
	vs, err1 := vals[0].ToString()
	snap, err2 := vals[1].ToString()
	v, err3 := strconv.ParseInt(vs, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, 0, fmt.Errorf("gavel: %s: fetch %s: no version and snapshot in %s", modelWhat, name, key)
	}
	m, err := predict.Load(strings.NewReader(snap))
	if err != nil {
		return nil, 0, fmt.Errorf("gavel: %s: fetch %s version %d: %w", modelWhat, name, v, err)
	}
	return m, v, nil
}
