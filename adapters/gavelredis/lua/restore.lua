-- restore.lua: Ledger.Restore. Sets what the account committed in its
-- current period, if that period starts at the given start.
-- ARGV: version, period start (ms), the start of the period to restore
-- (ms, 0 for a total budget), committed.
-- Reply: {OK, 1 if restored else 0, balance... (see with_balance)} |
-- {UNKNOWN} | {STALE, ...}.
local amount, reply = budget(ARGV[1])
if not amount then
  return reply
end
expire_all(now_ms())
roll(ARGV[2])
if tonumber(redis.call('HGET', K_STATE, 'start') or '0') ~= tonumber(ARGV[3]) then
  return with_balance({OK, 0}, amount)
end
redis.call('HSET', K_STATE, 'committed', ARGV[4])
return with_balance({OK, 1}, amount)
