-- end.lua: Ledger.Commit and Ledger.Release of a strict-mode hold.
-- ARGV: version, period start (ms), hold id, hold amount, amount to bill
-- ('' to release), how long at least a tombstone lives (ms), and '1' for
-- the release of an orphan (a reservation whose reply was lost), which
-- leaves a tombstone also when the hold is not there (yet): a reservation
-- that arrives after it, late in the network, is then not made.
-- Reply: {OK, balance...} (see with_balance) | {COMMITTED} | {RELEASED} |
-- {NOT_FOUND} | {EXCEEDS} | {UNKNOWN} | {STALE, ...}.
--
-- An ended hold leaves a tombstone, the key K_HOLDS:ended:<id> (in the
-- account's hash slot), 'c:<amount>:<billed>' or 'r:<amount>', that
-- expires at the hold's expiry or the minimum after the end, whichever is
-- later. While it lives, ending the hold again answers COMMITTED or
-- RELEASED and changes nothing.
local amount, reply = budget(ARGV[1])
if not amount then
  return reply
end
local now = now_ms()
expire_all(now)
local id = ARGV[3]
local tomb = K_HOLDS .. ':ended:' .. id
local ended = redis.call('GET', tomb)
if ended then
  local how, held = string.match(ended, '^(%a):(%d+)')
  if held ~= ARGV[4] then
    return {NOT_FOUND}
  end
  if how == 'c' then
    return {COMMITTED}
  end
  return {RELEASED}
end
local held = redis.call('HGET', K_HOLDS, id)
if not held then
  if ARGV[7] == '1' then
    redis.call('SET', tomb, 'r:' .. ARGV[4], 'PX', tonumber(ARGV[6]))
  end
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
local keep = tonumber(ARGV[6])
if expiry then
  keep = math.max(keep, tonumber(expiry) - now)
end
if ARGV[5] ~= '' then
  redis.call('SET', tomb, 'c:' .. held .. ':' .. ARGV[5], 'PX', math.max(keep, 1))
else
  redis.call('SET', tomb, 'r:' .. held, 'PX', math.max(keep, 1))
end
return with_balance({OK}, amount)
