-- budget.lua: Ledger.SetBudget. A change keeps what is committed,
-- reserved and leased; what the old period ended is not carried over.
-- ARGV: current version ('' if unknown), current period start (ms),
-- amount, period ('total' or 'daily'), time zone, reset (ns), new version,
-- new period start (ms), the ledger's epoch marker.
-- Reply: {OK, version in force, balance... (see with_balance)} |
-- {STALE, ...}.
local c = redis.call('HMGET', K_BUDGET, 'version', 'period', 'tz', 'reset', 'epoch')
if redis.call('EXISTS', K_BUDGET) == 1 then
  if (c[1] or '') ~= ARGV[1] then
    return {STALE, c[1], c[2], c[3], c[4], c[5]}
  end
  redis.call('HSET', K_BUDGET, 'epoch', ARGV[9])
  expire_all(now_ms())
  roll(ARGV[2])
  if c[2] == ARGV[4] and c[3] == ARGV[5] and c[4] == ARGV[6] then
    redis.call('HSET', K_BUDGET, 'amount', ARGV[3])
    return with_balance({OK, c[1]}, tonumber(ARGV[3]))
  end
end
redis.call('HSET', K_BUDGET, 'amount', ARGV[3], 'period', ARGV[4], 'tz', ARGV[5], 'reset', ARGV[6], 'version', ARGV[7], 'epoch', ARGV[9])
redis.call('HSET', K_STATE, 'start', ARGV[8])
return with_balance({OK, ARGV[7]}, tonumber(ARGV[3]))
