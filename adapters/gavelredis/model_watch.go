package gavelredis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelrtb/gavel/predict"
)

// A ModelTarget is what a ModelWatcher swaps the models it loads into;
// *predict.Predictor is one.
type ModelTarget interface {
	Models() (ctr, cvr *predict.Model)
	SetModels(ctr, cvr *predict.Model) error
}

var _ ModelTarget = (*predict.Predictor)(nil)

// A ModelWatcher keeps a ModelTarget serving the newest snapshots of a
// click model and, optionally, a conversion model that another process
// publishes (ModelStore.Publish, or a ModelPublisher). Every interval, in a
// goroutine of its own, it reads both models' versions (one small round
// trip each) and fetches only a snapshot newer than the one it applied;
// then it swaps the new model in with SetModels, keeping the other model
// the target has. Auctions never wait for it: the swap is an atomic store.
// A failed poll is counted (ModelWatchStats) and tried again at the next
// interval; the target keeps serving what it had. A snapshot the target
// refuses (SetModels: its Bits differ from the Extractor's) is counted
// too, and not fetched again: a newer version is. A poll is given one
// interval; make the store's client with ClientOption, so that a poll
// that times out does not close the connection other calls share. Create
// one with ModelStore.Watch; it stops when its context is done or at
// Close.
type ModelWatcher struct {
	store    *ModelStore
	target   ModelTarget
	ctr, cvr string
	every    time.Duration

	loaded func(ctrVersion, cvrVersion int64)

	mu         sync.Mutex // one poll at a time
	ctrV, cvrV int64

	polls, loads, errs   atomic.Int64
	ctrVersion, cvrVersn atomic.Int64
	lastErr              atomic.Pointer[error]

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// ModelWatchStats count what a ModelWatcher did.
type ModelWatchStats struct {
	// Polls counts the polls, Loads the snapshots applied, Errors the
	// polls that failed (Redis, a snapshot predict.Load refused, a model
	// SetModels refused).
	Polls, Loads, Errors int64
	// CTRVersion and CVRVersion are the versions applied, 0 for none.
	CTRVersion, CVRVersion int64
	// LastError is the last poll's error, nil if it succeeded.
	LastError error
}

// A ModelWatchOption configures a ModelWatcher.
type ModelWatchOption func(*ModelWatcher)

// OnModelsLoaded sets a func the watcher calls, from its goroutine (or
// Poll's caller), after it applied new models, with their versions: say
// to set the predict.Monitor's baseline, against which entropy drift is
// measured, to its window as the new models start serving. It must not
// block for long: the next poll waits for it.
func OnModelsLoaded(f func(ctrVersion, cvrVersion int64)) ModelWatchOption {
	return func(w *ModelWatcher) { w.loaded = f }
}

// Watch starts a ModelWatcher that polls the store every interval for the
// models named ctr and cvr (cvr "" for none) and applies them to target.
// It polls once before it returns, under ctx, so that a process starts
// with the newest models when there are some; that poll's failure is
// counted, not returned. The watcher stops when ctx is done or at Close.
// It returns an error wrapping gavel.ErrInvalidOption for a nil target, an
// interval that is not positive, or a model name the store refuses.
func (s *ModelStore) Watch(ctx context.Context, target ModelTarget, ctr, cvr string, every time.Duration, opts ...ModelWatchOption) (*ModelWatcher, error) {
	var errs []error
	if target == nil {
		errs = append(errs, invalidOption(modelWhat, "watch: nil target"))
	}
	if every <= 0 {
		errs = append(errs, invalidOption(modelWhat, "watch: interval %v is not positive", every))
	}
	if _, err := s.key(ctr); err != nil {
		errs = append(errs, invalidOption(modelWhat, "watch: click model name %q", ctr))
	}
	if _, err := s.key(cvr); err != nil && cvr != "" {
		errs = append(errs, invalidOption(modelWhat, "watch: conversion model name %q", cvr))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	w := &ModelWatcher{
		store: s, target: target, ctr: ctr, cvr: cvr, every: every,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	for _, o := range opts {
		o(w)
	}
	_ = w.Poll(ctx) // counted
	go w.loop(ctx)
	return w, nil
}

func (w *ModelWatcher) loop(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, w.every)
			_ = w.Poll(pctx) // counted
			cancel()
		}
	}
}

// Close stops the watcher and waits for a poll it is running. It may be
// called more than once, and after the watcher's context ended.
func (w *ModelWatcher) Close() {
	w.closeOnce.Do(func() { close(w.stop) })
	<-w.done
}

// Poll fetches the snapshots newer than those applied, now, and applies
// them; the watcher's goroutine calls it every interval. It returns the
// error it counted, nil if none.
func (w *ModelWatcher) Poll(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.polls.Add(1)
	err := w.poll(ctx)
	if err != nil {
		w.errs.Add(1)
		w.lastErr.Store(&err)
	} else {
		w.lastErr.Store(nil)
	}
	return err
}

func (w *ModelWatcher) poll(ctx context.Context) error {
	ctr, ctrV, err := w.store.Fetch(ctx, w.ctr, w.ctrV)
	if err != nil {
		return err
	}
	var cvr *predict.Model
	cvrV := w.cvrV
	if w.cvr != "" {
		if cvr, cvrV, err = w.store.Fetch(ctx, w.cvr, w.cvrV); err != nil {
			return err
		}
	}
	if ctr == nil && cvr == nil {
		return nil
	}
	curCTR, curCVR := w.target.Models()
	if ctr == nil {
		ctr, ctrV = curCTR, w.ctrV
	}
	if cvr == nil {
		cvr, cvrV = curCVR, w.cvrV
	}
	// The versions advance even if the target refuses the models, so a
	// refused snapshot is not fetched again at every interval.
	w.ctrV, w.cvrV = ctrV, cvrV
	if err := w.target.SetModels(ctr, cvr); err != nil {
		return fmt.Errorf("gavel: %s: apply %s v%d, %s v%d: %w", modelWhat, w.ctr, ctrV, w.cvr, cvrV, err)
	}
	w.loads.Add(1)
	w.ctrVersion.Store(ctrV)
	w.cvrVersn.Store(cvrV)
	if w.loaded != nil {
		w.loaded(ctrV, cvrV)
	}
	return nil
}

// Stats returns what the watcher did so far.
func (w *ModelWatcher) Stats() ModelWatchStats {
	s := ModelWatchStats{
		Polls: w.polls.Load(), Loads: w.loads.Load(), Errors: w.errs.Load(),
		CTRVersion: w.ctrVersion.Load(), CVRVersion: w.cvrVersn.Load(),
	}
	if e := w.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}

// A ModelPublisher publishes snapshots of a model that learns, every
// interval, in a goroutine of its own (ModelStore.Publish): the other side
// of a ModelWatcher. Learning waits on the model while it is saved, not
// while it is sent. A failed publish is counted and tried again at the
// next interval. Create one with ModelStore.PublishEvery; it stops when
// its context is done or at Close.
type ModelPublisher struct {
	store *ModelStore
	name  string
	model *predict.Model

	mu              sync.Mutex // one publish at a time
	published, errs atomic.Int64
	version         atomic.Int64
	lastErr         atomic.Pointer[error]
	stop, done      chan struct{}
	closeOnce       sync.Once
}

// ModelPublishStats count what a ModelPublisher did.
type ModelPublishStats struct {
	Published, Errors int64
	Version           int64 // the last version published, 0 for none
	LastError         error // the last publish's error, nil if it succeeded
}

// PublishEvery starts a ModelPublisher of m as the model name, every
// interval. It returns an error wrapping gavel.ErrInvalidOption for a nil
// model, an interval that is not positive, or a name the store refuses.
func (s *ModelStore) PublishEvery(ctx context.Context, name string, m *predict.Model, every time.Duration) (*ModelPublisher, error) {
	var errs []error
	if m == nil {
		errs = append(errs, invalidOption(modelWhat, "publish: nil model"))
	}
	if every <= 0 {
		errs = append(errs, invalidOption(modelWhat, "publish: interval %v is not positive", every))
	}
	if _, err := s.key(name); err != nil {
		errs = append(errs, invalidOption(modelWhat, "publish: model name %q", name))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p := &ModelPublisher{store: s, name: name, model: m, stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop(ctx, every)
	return p, nil
}

func (p *ModelPublisher) loop(ctx context.Context, every time.Duration) {
	defer close(p.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.stop:
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, every)
			_ = p.Publish(pctx) // counted
			cancel()
		}
	}
}

// Publish publishes a snapshot now; the publisher's goroutine calls it
// every interval. It returns the error it counted, nil if none.
func (p *ModelPublisher) Publish(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.store.Publish(ctx, p.name, p.model)
	if err != nil {
		p.errs.Add(1)
		p.lastErr.Store(&err)
		return err
	}
	p.published.Add(1)
	p.version.Store(v)
	p.lastErr.Store(nil)
	return nil
}

// Close stops the publisher and waits for a publish it is running. It
// does not publish a last snapshot: call Publish before Close for that.
func (p *ModelPublisher) Close() {
	p.closeOnce.Do(func() { close(p.stop) })
	<-p.done
}

// Stats returns what the publisher did so far.
func (p *ModelPublisher) Stats() ModelPublishStats {
	s := ModelPublishStats{Published: p.published.Load(), Errors: p.errs.Load(), Version: p.version.Load()}
	if e := p.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}
