package gavelredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/rueidis"
)

// The epoch marker: a key that a Ledger (and, under its own key, a Pacer)
// writes when it first sets a budget on a Redis that has none, and that
// says "this Redis holds the money's state". A Redis that restarted empty
// (no persistence, a lost AOF) or was flushed has lost it, with every
// budget, committed spend, hold and lease: a process that knew the marker
// finds it gone, or replaced by one it did not see written, and from then
// on refuses to spend (ErrLedgerLost) rather than take the empty Redis for
// empty accounts.
//
// Its value is "<generation>:<how>:<random id>": how is "new" for a marker
// written on a Redis that had none, "rearm" for one written by Rearm after
// a restore. A process adopts a marker of a later generation written by
// Rearm (an operator restored the money through another process) and
// treats any other change as a loss.

// ErrLedgerLost is returned by a Ledger's (and a Pacer's) calls once it
// found that Redis lost the money's state (see Ledger, Epoch): every
// reservation fails with it (a gavel.Auction loses the bid with
// LossLedgerUnavailable), until the account is restored (Restore) or the
// ledger rearmed (Rearm). Counted in LedgerStats.Lost and told to the
// LedgerErrorHooks with LedgerEpoch.
var ErrLedgerLost = errors.New("gavel: redis lost the ledger's state (epoch marker gone or replaced): spending stopped until restored")

// epochMark is a parsed epoch marker.
type epochMark struct {
	raw   string
	gen   int64
	rearm bool // written by Rearm
}

func newEpochMark(gen int64, rearm bool) *epochMark {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	how := "new"
	if rearm {
		how = "rearm"
	}
	raw := strconv.FormatInt(gen, 10) + ":" + how + ":" + hex.EncodeToString(b[:])
	return &epochMark{raw: raw, gen: gen, rearm: rearm}
}

// parseEpochMark reads a marker; one it cannot read is a marker of
// generation 0 written by nobody it trusts.
func parseEpochMark(raw string) *epochMark {
	m := &epochMark{raw: raw}
	parts := strings.SplitN(raw, ":", 3)
	if len(parts) == 3 {
		m.gen, _ = strconv.ParseInt(parts[0], 10, 64)
		m.rearm = parts[1] == "rearm"
	}
	return m
}

// epochVerdict is what a marker read in Redis means to a process that
// knows the marker known.
type epochVerdict int

const (
	epochSame  epochVerdict = iota // the marker the process knows
	epochAdopt                     // a later marker written by Rearm: take it
	epochLost                      // gone, or replaced by a marker not written by Rearm
)

// judgeEpoch compares the marker read in Redis (nil: none) with the one
// known (not nil).
func judgeEpoch(known, read *epochMark) epochVerdict {
	switch {
	case read == nil:
		return epochLost
	case read.raw == known.raw:
		return epochSame
	case read.rearm && read.gen > known.gen:
		return epochAdopt
	}
	return epochLost
}

// readEpoch returns the marker at key, nil if there is none.
func readEpoch(ctx context.Context, c rueidis.Client, key string) (*epochMark, error) {
	s, err := c.Do(ctx, c.B().Get().Key(key).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseEpochMark(s), nil
}

// createEpoch writes a new marker at key unless one is there, and returns
// the one there after.
func createEpoch(ctx context.Context, c rueidis.Client, key string) (*epochMark, error) {
	m := newEpochMark(1, false)
	err := c.Do(ctx, c.B().Set().Key(key).Value(m.raw).Nx().Build()).Error()
	if err != nil && !rueidis.IsRedisNil(err) {
		return nil, err
	}
	read, err := readEpoch(ctx, c, key)
	if err == nil && read == nil {
		err = fmt.Errorf("%w: epoch marker %s vanished as it was written", errBadReply, key)
	}
	return read, err
}

// rearmEpoch writes a marker of a generation after known's and after the
// one in Redis, and returns it.
func rearmEpoch(ctx context.Context, c rueidis.Client, key string, known *epochMark) (*epochMark, error) {
	read, err := readEpoch(ctx, c, key)
	if err != nil {
		return nil, err
	}
	gen := int64(0)
	if known != nil {
		gen = known.gen
	}
	if read != nil {
		gen = max(gen, read.gen)
	}
	m := newEpochMark(gen+1, true)
	if err := c.Do(ctx, c.B().Set().Key(key).Value(m.raw).Build()).Error(); err != nil {
		return nil, err
	}
	return m, nil
}
