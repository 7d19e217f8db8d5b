-- prelude.lua: the start of every ledger script (ledger_scripts.go joins
-- it to each of them). The keys are one account's, in this order; the
-- key schema is documented on redis.Ledger.
local K_BUDGET, K_STATE, K_HOLDS, K_HOLD_EXP, K_LEASES, K_LEASE_EXP =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]

-- Reply codes, the first element of every reply (see ledger_scripts.go).
local OK, EXHAUSTED, UNKNOWN, STALE, NOT_FOUND, EXCEEDS, TAKEN, COMMITTED, RELEASED = 0, 1, 2, 3, 4, 5, 6, 7, 8

-- Numbers are Lua doubles: amounts are exact below 2^53 (budgets are
-- capped there by SetBudget).

-- now_ms returns the server's time in Unix milliseconds: every process
-- expires holds and leases by this one clock. It keeps the time in
-- microseconds in now_us, for with_balance.
local now_us = 0
local function now_ms()
  local t = redis.call('TIME')
  now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- budget returns the account's budget per period, or nil and the reply to
-- send: UNKNOWN for an account without a budget, STALE with the budget's
-- version, period and epoch marker when the caller computed its period
-- start from another version.
local function budget(version)
  local c = redis.call('HMGET', K_BUDGET, 'amount', 'version', 'period', 'tz', 'reset', 'epoch')
  if not c[1] then
    return nil, {UNKNOWN}
  end
  if (c[2] or '') ~= version then
    return nil, {STALE, c[2], c[3], c[4], c[5], c[6]}
  end
  return tonumber(c[1])
end

local EXPIRE_BATCH, EXPIRE_MAX = 500, 10000

-- expire returns to the account what expired by now in the sorted set zkey
-- (member -> expiry) of the hash hkey (member -> amount), subtracting it
-- from the state field `field`. It deletes the member's field named
-- member..suffix too, when suffix is given. It returns at most EXPIRE_MAX
-- members per call, the earliest first, so that no script runs long; the
-- rest stays reserved (never the reverse) until the next calls.
local function expire(zkey, hkey, field, now, suffix)
  local total, n = 0, 0
  while n < EXPIRE_MAX do
    local ids = redis.call('ZRANGEBYSCORE', zkey, '-inf', now, 'LIMIT', 0, EXPIRE_BATCH)
    if #ids == 0 then
      break
    end
    for _, a in ipairs(redis.call('HMGET', hkey, unpack(ids))) do
      if a then
        total = total + tonumber(a)
      end
    end
    redis.call('ZREM', zkey, unpack(ids))
    redis.call('HDEL', hkey, unpack(ids))
    if suffix then
      for i, id in ipairs(ids) do
        ids[i] = id .. suffix
      end
      redis.call('HDEL', hkey, unpack(ids))
    end
    n = n + #ids
  end
  if total ~= 0 then
    redis.call('HINCRBY', K_STATE, field, -total)
  end
end

-- expire_all returns the expired holds and leases.
local function expire_all(now)
  expire(K_HOLD_EXP, K_HOLDS, 'reserved', now)
  expire(K_LEASE_EXP, K_LEASES, 'leased', now, ':seq')
end

-- roll moves the account into the period that starts at start (Unix ms,
-- computed by the caller), if it starts later than the current one:
-- committed starts again from 0. A total budget passes 0 and never rolls;
-- a caller whose clock lags passes an earlier start, which changes nothing.
local function roll(start)
  start = tonumber(start)
  if start > tonumber(redis.call('HGET', K_STATE, 'start') or '0') then
    redis.call('HSET', K_STATE, 'start', start, 'committed', 0)
  end
end

-- available returns what can still be reserved or leased: the budget less
-- what is committed in this period, reserved and leased. It is negative
-- after a budget was lowered below them.
local function available(amount)
  local s = redis.call('HMGET', K_STATE, 'committed', 'reserved', 'leased')
  return amount - tonumber(s[1] or '0') - tonumber(s[2] or '0') - tonumber(s[3] or '0')
end

-- with_balance appends the account's balance to reply and returns it:
-- budget (amount), committed, reserved + leased, period start (ms), and
-- the server's time in microseconds when the script read it (now_us, read
-- now if the script did not), by which the ledger orders the balances it
-- caches.
local function with_balance(reply, amount)
  if now_us == 0 then
    now_ms()
  end
  local s = redis.call('HMGET', K_STATE, 'committed', 'reserved', 'leased', 'start')
  local n = #reply
  reply[n + 1] = amount
  reply[n + 2] = tonumber(s[1] or '0')
  reply[n + 3] = tonumber(s[2] or '0') + tonumber(s[3] or '0')
  reply[n + 4] = tonumber(s[4] or '0')
  reply[n + 5] = now_us
  return reply
end
