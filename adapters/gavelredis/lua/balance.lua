-- balance.lua: Ledger.Balance, and the refresh of the balances the Ledger
-- caches.
-- ARGV: version, period start (ms).
-- Reply: {OK, budget, committed, reserved + leased, period start ms,
-- server time us} | {UNKNOWN} | {STALE, ...}.
local amount, reply = budget(ARGV[1])
if not amount then
  return reply
end
expire_all(now_ms())
roll(ARGV[2])
return with_balance({OK}, amount)
