-- lease.lua: takes, renews, tops up and returns one process's lease on an
-- account's budget, and reports what the process committed from it.
-- ARGV: version, period start (ms), owner, report sequence number, spend
-- to report, amount to give back, target (the lease is topped up to it),
-- ttl (ms), '1' to end the lease.
-- A report (spend and give-back) is applied once: a report whose sequence
-- number is not above the owner's last is skipped, so that a report sent
-- again after a lost reply does not count twice.
-- Reply: {OK, 1 if the lease existed before this call else 0, the lease's
-- amount now, its expiry ms, what is left to reserve or lease, balance...
-- (see with_balance)} | {UNKNOWN} | {STALE, ...}.
local amount, reply = budget(ARGV[1])
if not amount then
  return reply
end
local now = now_ms()
expire_all(now)
roll(ARGV[2])
local owner, seqf = ARGV[3], ARGV[3] .. ':seq'
local last = tonumber(redis.call('HGET', K_LEASES, seqf) or '0')
if last < 0 then
  -- The owner ended its lease (a tombstone, see below): a call that
  -- arrives after that, such as a refresh canceled by Close whose script
  -- still reached Redis, changes nothing. The final report covered it.
  return with_balance({OK, 0, 0, 0, available(amount)}, amount)
end
local had = redis.call('HGET', K_LEASES, owner)
local lease = tonumber(had or '0')
if tonumber(ARGV[4]) > last then
  local spend = tonumber(ARGV[5])
  if spend > 0 then
    redis.call('HINCRBY', K_STATE, 'committed', spend)
  end
  -- The spend came out of the lease. Spend the lease no longer covers (it
  -- expired in between) is committed all the same: the money was billed.
  local left = math.max(lease - spend - tonumber(ARGV[6]), 0)
  if left ~= lease then
    redis.call('HINCRBY', K_STATE, 'leased', left - lease)
  end
  lease = left
end
local existed = 0
if had then
  existed = 1
end
if ARGV[9] == '1' then
  if lease ~= 0 then
    redis.call('HINCRBY', K_STATE, 'leased', -lease)
  end
  -- Leave a tombstone for a while instead of forgetting the owner, so that
  -- its calls still in flight are refused rather than applied again; the
  -- expiry of leases removes it like a lease.
  redis.call('HDEL', K_LEASES, owner)
  redis.call('HSET', K_LEASES, seqf, -math.max(tonumber(ARGV[4]), 1))
  redis.call('ZADD', K_LEASE_EXP, now + math.max(tonumber(ARGV[8]), 60000), owner)
  return with_balance({OK, existed, 0, 0, available(amount)}, amount)
end
local give = math.min(tonumber(ARGV[7]) - lease, available(amount))
if give > 0 then
  redis.call('HINCRBY', K_STATE, 'leased', give)
  lease = lease + give
end
local expiry = now + tonumber(ARGV[8])
redis.call('HSET', K_LEASES, owner, lease, seqf, ARGV[4])
redis.call('ZADD', K_LEASE_EXP, expiry, owner)
return with_balance({OK, existed, lease, expiry, available(amount)}, amount)
