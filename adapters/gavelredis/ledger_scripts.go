package gavelredis

import (
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/redis/rueidis"
)

// The Lua scripts of the Ledger, in lua/. Each runs atomically in Redis on
// the keys of one account; prelude.lua, joined to the start of each, holds
// what they share (key order, reply codes, expiry, period roll-over).
var (
	//go:embed lua/prelude.lua
	preludeLua string
	//go:embed lua/reserve.lua
	reserveLua string
	//go:embed lua/end.lua
	endLua string
	//go:embed lua/balance.lua
	balanceLua string
	//go:embed lua/budget.lua
	budgetLua string
	//go:embed lua/lease.lua
	leaseLua string
	//go:embed lua/restore.lua
	restoreLua string
)

// Reply codes: the first element of every script's reply (prelude.lua).
const (
	replyOK int64 = iota
	replyExhausted
	replyUnknown
	replyStale
	replyNotFound
	replyExceeds
	replyTaken
	replyCommitted // end.lua: the hold's tombstone says it was committed
	replyReleased  // end.lua: the hold's tombstone says it was released
)

// scripts are a Ledger's scripts. rueidis sends each by its SHA-1
// (EVALSHA) and falls back to its text (EVAL) when Redis does not know it;
// so does execMulti, which sends many calls in one round trip.
type scripts struct {
	reserve, end, balance, budget, lease, restore *script
}

// script is one of the scripts, with its text and SHA-1 for execMulti.
type script struct {
	*rueidis.Lua
	text, sha1 string
}

func newScripts() scripts {
	s := func(body string) *script {
		text := preludeLua + body
		sum := sha1.Sum([]byte(text))
		return &script{Lua: rueidis.NewLuaScript(text), text: text, sha1: hex.EncodeToString(sum[:])}
	}
	return scripts{
		reserve: s(reserveLua),
		end:     s(endLua),
		balance: s(balanceLua),
		budget:  s(budgetLua),
		lease:   s(leaseLua),
		restore: s(restoreLua),
	}
}

// errBadReply is wrapped by the error of a call whose reply the Ledger does
// not understand: keys written by something else, or scripts of another
// version.
var errBadReply = errors.New("unexpected reply from redis")

// reply is a script's reply: a code and the integers or strings after it.
type reply []rueidis.RedisMessage

func parseReply(res rueidis.RedisResult) (reply, int64, error) {
	msgs, err := res.ToArray()
	if err != nil {
		return nil, 0, err
	}
	if len(msgs) == 0 {
		return nil, 0, fmt.Errorf("%w: empty array", errBadReply)
	}
	code, err := msgs[0].AsInt64()
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errBadReply, err)
	}
	return reply(msgs), code, nil
}

// int returns element i of the reply as an integer.
func (r reply) int(i int) (int64, error) {
	if i >= len(r) {
		return 0, fmt.Errorf("%w: %d elements, want more than %d", errBadReply, len(r), i)
	}
	v, err := r[i].AsInt64()
	if err != nil {
		return 0, fmt.Errorf("%w: element %d: %w", errBadReply, i, err)
	}
	return v, nil
}

// ints returns elements 1 to len(dst) of the reply as integers.
func (r reply) ints(dst ...*int64) error {
	for i, p := range dst {
		v, err := r.int(i + 1)
		if err != nil {
			return err
		}
		*p = v
	}
	return nil
}

// str returns element i of the reply as a string; a nil element is "".
func (r reply) str(i int) string {
	if i >= len(r) || r[i].IsNil() {
		return ""
	}
	s, _ := r[i].ToString()
	return s
}
