-- end.lua: Ledger.Commit and Ledger.Release of a strict-mode hold.
-- ARGV: version, period start (ms), hold id, hold amount, amount to bill
-- ('' to release).
-- Reply: {OK, balance...} (see with_balance) | {NOT_FOUND} | {EXCEEDS} |
-- {STALE, ...}.
local amount, reply = budget(ARGV[1])
if not amount then
  if reply[1] == UNKNOWN then
    return {NOT_FOUND}
  end
  return reply
end
local now = now_ms()
expire_all(now)
local id = ARGV[3]
local held = redis.call('HGET', K_HOLDS, id)
if not held then
  return {NOT_FOUND}
end
local expiry = redis.call('ZSCORE', K_HOLD_EXP, id)
if expiry and tonumber(expiry) <= now then -- expired, left over by expire_all's limit: return it now
  redis.call('HDEL', K_HOLDS, id)
  redis.call('ZREM', K_HOLD_EXP, id)
  redis.call('HINCRBY', K_STATE, 'reserved', -tonumber(held))
  return {NOT_FOUND}
end
if held ~= ARGV[4] then
  return {NOT_FOUND}
end
local actual = 0
if ARGV[5] ~= '' then
  actual = tonumber(ARGV[5])
  if actual < 0 or actual > tonumber(held) then
    return {EXCEEDS}
  end
end
roll(ARGV[2])
redis.call('HDEL', K_HOLDS, id)
redis.call('ZREM', K_HOLD_EXP, id)
redis.call('HINCRBY', K_STATE, 'reserved', -tonumber(held))
if actual > 0 then
  redis.call('HINCRBY', K_STATE, 'committed', actual)
end
return with_balance({OK}, amount)
