-- balance.lua: Ledger.Balance.
-- ARGV: version, period start (ms).
-- Reply: {OK, budget, committed, reserved + leased, period start ms} |
-- {UNKNOWN} | {STALE, ...}.
local amount, reply = budget(ARGV[1])
if not amount then
  return reply
end
expire_all(now_ms())
roll(ARGV[2])
local s = redis.call('HMGET', K_STATE, 'committed', 'reserved', 'leased', 'start')
return {OK, amount, tonumber(s[1] or '0'), tonumber(s[2] or '0') + tonumber(s[3] or '0'), tonumber(s[4] or '0')}
