"""The Lua scripts that change a shared job. Each runs atomically inside Redis, so two processes
never see half a change; times come from Redis's own clock (``TIME``), so machines whose clocks
disagree still agree on when a lease or a host's delay is over. Keys are declared in ``KEYS``
(host keys carry the host as a hash tag: see ``docs/cluster.md``)."""

from __future__ import annotations

NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# A host's queue is a list for priority 0 (the common case: no sorted-set cost) and a sorted set
# for the others, scored -priority * 2^32 + admission sequence: scores below 0 (priority above 0)
# are leased before the list, scores above 0 after it. A retry is scored -priority * 2^32: the head
# of its priority. PRIORITY_RANGE keeps every score an exact integer of a double (written with
# '%.0f': Lua's own number format keeps only 14 digits).
RANK = 4294967296

# KEYS: seen, meta, host_admitted, hosts, then the queue of request 1..n (list or ranked set)
# ARGV: total cap (-1: none), per-host cap (-1: none), known (1: a re-crawl queues URLs the job has
# seen: no dedup, no caps), then fingerprint, host, encoded, priority per request
ADD = (
    f"local RANK = {RANK}"
    + """
local total, per, known = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1'
local admitted = tonumber(redis.call('HGET', KEYS[2], 'admitted') or '0')
local out = {}
for i = 1, #KEYS - 4 do
  if not known and total >= 0 and admitted >= total then break end
  local fp, host, enc = ARGV[4 * i], ARGV[4 * i + 1], ARGV[4 * i + 2]
  local priority = tonumber(ARGV[4 * i + 3])
  if known or (redis.call('SISMEMBER', KEYS[1], fp) == 0
      and (per < 0 or tonumber(redis.call('HGET', KEYS[3], host) or '0') < per)) then
    redis.call('SADD', KEYS[1], fp)
    redis.call('HINCRBY', KEYS[3], host, 1)
    if priority == 0 then redis.call('RPUSH', KEYS[4 + i], enc)
    else
      local seq = redis.call('HINCRBY', KEYS[2], 'rank_seq', 1) % RANK
      redis.call('ZADD', KEYS[4 + i], string.format('%.0f', -priority * RANK + seq), enc)
    end
    redis.call('SADD', KEYS[4], host)
    admitted = admitted + 1
    out[#out + 1] = i
  end
end
if #out > 0 then
  redis.call('HINCRBY', KEYS[2], 'admitted', #out)
  redis.call('HINCRBY', KEYS[2], 'queued', #out)
end
return out
"""
)

# KEYS: meta, leases, expiry, hosts, then queue and ranked set of host 1..n
# ARGV: worker, ttl ms, then host, count per host.  Returns {expiry ms, id1, enc1, id2, enc2, ...}
LEASE = (
    NOW
    + """
local expires = now + tonumber(ARGV[2])
local out = {expires}
local function take(items)
  for _, enc in ipairs(items) do
    local id = redis.call('HINCRBY', KEYS[1], 'lease_seq', 1)
    redis.call('HSET', KEYS[2], id, ARGV[1] .. '\\n' .. enc)
    redis.call('ZADD', KEYS[3], expires, id)
    out[#out + 1] = id
    out[#out + 1] = enc
  end
  return #items
end
local function ranked(key, low, high, want)
  local items = redis.call('ZRANGEBYSCORE', key, low, high, 'LIMIT', 0, want)
  if #items > 0 then redis.call('ZREM', key, unpack(items)) end
  return take(items)
end
for i = 1, (#KEYS - 4) / 2 do
  local queue, rset, want = KEYS[3 + 2 * i], KEYS[4 + 2 * i], tonumber(ARGV[2 + 2 * i])
  want = want - ranked(rset, '-inf', '(0', want)
  if want > 0 then want = want - take(redis.call('LPOP', queue, want) or {}) end
  if want > 0 then ranked(rset, '0', '+inf', want) end
  if redis.call('LLEN', queue) == 0 and redis.call('ZCARD', rset) == 0 then
    redis.call('SREM', KEYS[4], ARGV[1 + 2 * i])
  end
end
local n = (#out - 1) / 2
if n > 0 then
  redis.call('HINCRBY', KEYS[1], 'queued', -n)
  redis.call('HINCRBY', KEYS[1], 'leased', n)
end
return out
"""
)

# A lease goes back to the head of its host's queue (failed attempt, expired, or given up by a
# restarted worker). Idempotent: only a lease that still exists is requeued.
# KEYS: meta, leases, expiry, hosts, queue, ranked set   ARGV: lease id, host, encoded request, priority
REQUEUE = (
    f"local RANK = {RANK}"
    + """
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
local priority = tonumber(ARGV[4])
if priority == 0 then redis.call('LPUSH', KEYS[5], ARGV[3])
else redis.call('ZADD', KEYS[6], string.format('%.0f', -priority * RANK), ARGV[3]) end
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'leased', -1)
redis.call('HINCRBY', KEYS[1], 'queued', 1)
return 1
"""
)

# KEYS: meta, leases, expiry, worker_done, host_done   ARGV: worker, then lease id, host per lease
DONE = """
local n = 0
for i = 2, #ARGV, 2 do
  if redis.call('HDEL', KEYS[2], ARGV[i]) == 1 then
    redis.call('ZREM', KEYS[3], ARGV[i])
    redis.call('HINCRBY', KEYS[5], ARGV[i + 1], 1)
    n = n + 1
  end
end
if n > 0 then
  redis.call('HINCRBY', KEYS[1], 'leased', -n)
  redis.call('HINCRBY', KEYS[1], 'done', n)
  redis.call('HINCRBY', KEYS[4], ARGV[1], n)
end
return n
"""

# Start the next generation of a finished job (a re-crawl), unless another worker already did or
# the job is not finished: the per-generation counts start over. The seen set stays: a known URL
# comes back only with the shard that holds its last visit, so it is never queued without it.
# KEYS: meta, host_admitted, host_done, worker_done   ARGV: the generation the caller saw.
# Returns the job's generation after the call.
NEXT_GENERATION = """
local current = tonumber(redis.call('HGET', KEYS[1], 'generation') or '1')
local counts = redis.call('HMGET', KEYS[1], 'queued', 'leased')
local busy = tonumber(counts[1] or '0') + tonumber(counts[2] or '0')
if current ~= tonumber(ARGV[1]) or busy > 0 then return current end
redis.call('UNLINK', KEYS[2], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[1], 'generation', current + 1, 'admitted', 0, 'done', 0)
return current + 1
"""

# Remember the job stored under this name, or say it is another one: the stored summary when the
# fingerprint differs, else nil. KEYS: job   ARGV: fingerprint, summary
CLAIM = """
local stored = redis.call('HGET', KEYS[1], 'fingerprint')
if not stored then redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'summary', ARGV[2]) return nil end
if stored ~= ARGV[1] then return redis.call('HGET', KEYS[1], 'summary') end
return nil
"""

# The first URL of a page's near-duplicates (crawler.content.simhash.NearIndex, shared): hashes
# are filed under each of their blocks (crawler.redis.near_duplicates.BLOCKS), so one within NEAR
# bits is in a field the look-up reads: one HMGET of a few dozen fields, of about one hash each.
# Lua's bit library is 32-bit: a hash is two halves, stored packed in 8 bytes (struct).
# KEYS: near_firsts (8-byte hash → first URL), near_blocks (block and its value → 8-byte hashes)
# ARGV: url, hash (8 bytes), NEAR, number of blocks, then the fields to read: the hash's own (one per
# block, where a new first is filed), then their neighbours.
# Returns the first URL within NEAR bits, never ARGV[1]
# itself; nil when there is none (then the URL is recorded, unless its own earlier hash matched).
NEAR_FIRST = """
local url, packed, near, own = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local hi, lo = struct.unpack('>I4I4', packed)
local function bits(x)
  local n = 0
  while x ~= 0 and n <= near do x = bit.band(x, x - 1); n = n + 1 end
  return n
end
local buckets = redis.call('HMGET', KEYS[2], unpack(ARGV, 5))
local found = false
for b = 1, #buckets do
  local bucket = buckets[b]
  if bucket then
    for i = 1, #bucket, 8 do
      local h, l = struct.unpack('>I4I4', bucket, i)
      local d = bits(bit.bxor(h, hi))
      if d <= near and d + bits(bit.bxor(l, lo)) <= near then
        local other = redis.call('HGET', KEYS[1], string.sub(bucket, i, i + 7))
        if other == url then return nil end
        found = found or other
      end
    end
  end
end
if found then return found end
if redis.call('HSETNX', KEYS[1], packed, url) == 1 then
  local fields = {}
  for b = 1, own do
    fields[2 * b - 1] = ARGV[4 + b]
    fields[2 * b] = (buckets[b] or '') .. packed
  end
  redis.call('HSET', KEYS[2], unpack(fields))
end
return nil
"""

# Leases whose expiry has passed (their worker died or stalled): {id1, value1, ...}, at most ARGV[1].
# KEYS: expiry, leases
EXPIRED = (
    NOW
    + """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(ids) do
  local value = redis.call('HGET', KEYS[2], id)
  if value then out[#out + 1] = id; out[#out + 1] = value else redis.call('ZREM', KEYS[1], id) end
end
return out
"""
)

# Keep this worker's leases and host slots alive, and say it is alive.
# KEYS: expiry, workers, slot set of host 1..n   ARGV: ttl ms, worker, info, lease count, lease ids...,
# then one token per slot key.
HEARTBEAT = (
    NOW
    + """
local expires = now + tonumber(ARGV[1])
local leases = tonumber(ARGV[4])
for i = 5, 4 + leases do redis.call('ZADD', KEYS[1], 'XX', expires, ARGV[i]) end
for i = 3, #KEYS do redis.call('ZADD', KEYS[i], 'XX', expires, ARGV[4 + leases + i - 2]) end
redis.call('HSET', KEYS[2], ARGV[2], now .. ' ' .. ARGV[3])
return now
"""
)

# The host limiter. State hash fields: slots, delay, base (Crawl-delay floor), ready (ms), and
# AIMD's latency, samples, good, cut, throttles, min. Slot holders: a sorted set token → expiry.

# Give back the slots in ARGV[1] (tokens separated by spaces), with the answers their host gave
# (AIMD: the same rules as LocalHostLimiter.observe, on state every process shares): ms since sent,
# overloaded (0/1) pairs from ARGV[FIRST]. KEYS[1] state, KEYS[2] slots; ARGV[2] per_host, ARGV[3] delay ms.
# Sets `change` (1 cut, 2 restored, 0 none) and `report` {slots, delay ms, throttles, min slots}.
GIVE_BACK = """
local change, report = 0, {}
for token in string.gmatch(ARGV[1], '%S+') do redis.call('ZREM', KEYS[2], token) end
if #ARGV >= FIRST then
  local f = redis.call('HMGET', KEYS[1], 'slots', 'delay', 'base', 'latency', 'samples', 'good', 'cut',
                       'throttles', 'min')
  local limit, base_default = tonumber(ARGV[2]), tonumber(ARGV[3])
  local slots, delay = tonumber(f[1]) or limit, tonumber(f[2]) or base_default
  local base = math.max(tonumber(f[3]) or 0, base_default)
  local latency, samples, good = tonumber(f[4]) or 0, tonumber(f[5]) or 0, tonumber(f[6]) or 0
  local cut, throttles, min = tonumber(f[7]) or -1, tonumber(f[8]) or 0, tonumber(f[9]) or limit
  for i = FIRST, #ARGV, 2 do
    local took = tonumber(ARGV[i]); local sent = now - took
    local overloaded = ARGV[i + 1] == '1'
    local spike = samples >= 5 and took > math.max(3 * latency, 500)
    if samples == 0 then latency = took else latency = 0.8 * latency + 0.2 * took end
    samples = samples + 1
    if (overloaded or spike) and sent <= cut then
      -- sent before the last cut: it cannot cause another
    elseif overloaded or spike then
      cut = now; change = 1
      if slots > 1 then slots = math.floor(slots / 2)
      else delay = math.min(math.max(delay * 2, 50, base), math.max(30000, base)) end
      good = 0; throttles = throttles + 1; min = math.min(min, slots)
    elseif slots < limit or delay > base then
      good = good + 1
      if good >= 5 then
        good = 0; change = math.max(change, 2)
        slots = math.min(limit, slots + 1)
        if delay / 2 < base + 10 then delay = base else delay = delay / 2 end
      end
    end
  end
  redis.call('HSET', KEYS[1], 'slots', slots, 'delay', delay, 'latency', latency, 'samples', samples,
             'good', good, 'cut', cut, 'throttles', throttles, 'min', min)
  redis.call('PEXPIRE', KEYS[1], 86400000)
  report = {slots, tostring(delay), throttles, min}
end
"""

# KEYS: state, slots   ARGV: tokens given back, per_host, delay ms, then answers (see GIVE_BACK)
RELEASE = (
    NOW
    + "local FIRST = 4\n"
    + GIVE_BACK
    + """
return {change, unpack(report)}
"""
)

# Take up to ARGV[7] slots, giving this worker's parked ones back first in the same round trip (a worker's next request
# to a host whose request just finished). ARGV: tokens given back, per_host, delay ms, token
# prefix (slot i is prefix:i), jitter ms (drawn by the caller), slot ttl ms, want, then answers.
# Returns {slots taken, 0 | ms to wait | -1 (every slot is held), change, report...}
ACQUIRE = (
    NOW
    + "local FIRST = 8\n"
    + GIVE_BACK
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local st = redis.call('HMGET', KEYS[1], 'slots', 'delay', 'ready')
local slots = tonumber(st[1]) or tonumber(ARGV[2])
local delay = tonumber(st[2]) or tonumber(ARGV[3])
local ready = tonumber(st[3]) or 0
local held = redis.call('ZCARD', KEYS[2])
local taken, answer = 0, 0
for i = 1, tonumber(ARGV[7]) do
  if held >= slots then answer = -1; break end
  if ready > now then answer = ready - now; break end
  taken = taken + 1; held = held + 1
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), ARGV[4] .. ':' .. i)
  ready = now + delay + tonumber(ARGV[5])
end
if taken > 0 then
  redis.call('HSET', KEYS[1], 'ready', ready)
  redis.call('PEXPIRE', KEYS[1], 86400000)
  redis.call('PEXPIRE', KEYS[2], 86400000)
end
return {taken, answer, change, unpack(report)}
"""
)

# KEYS: state   ARGV: ms to wait from now, new delay floor ms (-1: unchanged)
HOLD = (
    NOW
    + """
local floor = tonumber(ARGV[2])
local st = redis.call('HMGET', KEYS[1], 'delay', 'base', 'ready')
local delay, base, ready = tonumber(st[1]) or 0, tonumber(st[2]) or 0, tonumber(st[3]) or 0
local wait = tonumber(ARGV[1])
if floor >= 0 then
  base = math.max(base, floor); delay = math.max(delay, floor); wait = math.max(wait, delay)
  redis.call('HSET', KEYS[1], 'base', base, 'delay', delay)
end
redis.call('HSET', KEYS[1], 'ready', math.max(ready, now + wait))
redis.call('PEXPIRE', KEYS[1], 86400000)
return 1
"""
)

# Identities (crawler.redis.identity_pool). KEYS: identities (field "slot route" → the identity's
# JSON, which starts {"id":N,), identity_uses (id → requests). Every write names the identity it is
# for, so one another worker retired meanwhile is never written back.
HELD = """
local function held(field, id)
  local v = redis.call('HGET', KEYS[1], field)
  return v and string.match(v, '^{"id":(%d+),') == id
end
"""

# ARGV: field, id, max uses (0: no limit). The uses now (0: gone); the use that reaches the limit retires it.
IDENTITY_USE = (
    HELD
    + """
if not held(ARGV[1], ARGV[2]) then return 0 end
local n = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
local most = tonumber(ARGV[3])
if most > 0 and n >= most then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[2])
end
return n
"""
)

# ARGV: field, id. 1 when this retired it (0: it was gone already).
IDENTITY_RETIRE = (
    HELD
    + """
if not held(ARGV[1], ARGV[2]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
"""
)

# ARGV: field, id, the identity's JSON
IDENTITY_SAVE = (
    HELD
    + """
if held(ARGV[1], ARGV[2]) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 0
"""
)
