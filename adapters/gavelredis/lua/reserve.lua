-- reserve.lua: strict-mode reservations on one account, in order, each on
-- its own: one that the account cannot cover is refused, and the next
-- ones still get what is left.
-- ARGV: version, period start (ms), then for each hold: amount, ttl (ms),
-- hold id (chosen by the ledger, so that it can release a hold whose reply
-- it lost).
-- Reply: {OK, now ms, the code of each hold: OK, EXHAUSTED, or TAKEN when
-- a live hold, or the tombstone of an ended one, has its id..., balance...
-- (see with_balance)} | {UNKNOWN} | {STALE, ...}. A hold reserved expires
-- at now + its ttl. The tombstone check refuses a reservation that arrives
-- after its orphan's release (see end.lua).
local amount, reply = budget(ARGV[1])
if not amount then
  return reply
end
local now = now_ms()
expire_all(now)
roll(ARGV[2])
local left = available(amount)
local out, held = {OK, now}, 0
for i = 3, #ARGV, 3 do
  local a = tonumber(ARGV[i])
  local code = EXHAUSTED
  if a <= left then
    code = TAKEN
    if redis.call('EXISTS', K_HOLDS .. ':ended:' .. ARGV[i + 2]) == 0 and redis.call('HSETNX', K_HOLDS, ARGV[i + 2], ARGV[i]) == 1 then
      redis.call('ZADD', K_HOLD_EXP, now + tonumber(ARGV[i + 1]), ARGV[i + 2])
      left, held, code = left - a, held + a, OK
    end
  end
  out[#out + 1] = code
end
if held > 0 then
  redis.call('HINCRBY', K_STATE, 'reserved', held)
end
return with_balance(out, amount)
