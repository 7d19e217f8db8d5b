-- reserve.lua: Ledger.Reserve in strict mode.
-- ARGV: version, period start (ms), amount, ttl (ms), hold id (chosen by
-- the ledger, so that it can release a hold whose reply it lost).
-- Reply: {OK, expiry ms} | {EXHAUSTED} | {UNKNOWN} | {STALE, ...} |
-- {TAKEN} when a live hold has that id.
local amount, reply = budget(ARGV[1])
if not amount then
  return reply
end
local now = now_ms()
expire_all(now)
roll(ARGV[2])
if tonumber(ARGV[3]) > available(amount) then
  return {EXHAUSTED}
end
local id = ARGV[5]
if redis.call('HSETNX', K_HOLDS, id, ARGV[3]) == 0 then
  return {TAKEN}
end
local expiry = now + tonumber(ARGV[4])
redis.call('ZADD', K_HOLD_EXP, expiry, id)
redis.call('HINCRBY', K_STATE, 'reserved', ARGV[3])
return {OK, expiry}
