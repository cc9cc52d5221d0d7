"""The rate-limit engine's Lua scripts (apps.core.limiter), each one Redis round trip."""

# KEYS: one per limit, then the guard key if there is one, then the keys to read along. ARGV: the
# number of limits n, whether there is a guard (0/1), how many keys to read, whether this is a dry
# run (1: answer as if counting, store nothing; a peek); per limit, its emission
# interval and its burst tolerance (interval x (burst - 1)), both in microseconds; with a guard, the
# version the caller holds and a fresh one to store if the key is missing. Returns, per limit:
# {admitted 0/1, remaining, retry_after_us, reset_us}, then (when asked) the values read along; or
# {"stale", version}, counting nothing, when the guard's version is not the caller's; then "new-minute"
# when this call made the first counted refusal of a minute. Redis's own clock, so every process
# agrees on "now".
LIMITS_HIT = """
local n = tonumber(ARGV[1])
local guarded = tonumber(ARGV[2])
local reads = tonumber(ARGV[3])
local dry = tonumber(ARGV[4])
if guarded == 1 then
  local version = redis.call('GET', KEYS[n + 1])
  if not version then
    version = ARGV[2 * n + 6]
    redis.call('SET', KEYS[n + 1], version)
  end
  if version ~= ARGV[2 * n + 5] then
    return {'stale', version}
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
local tats = {}
local refused = false
local new_minute = false
for i = 1, n do
  local interval = tonumber(ARGV[2 * i + 3])
  local tolerance = tonumber(ARGV[2 * i + 4])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local allow_at = tat - tolerance
  if now < allow_at then
    refused = true
    out[i] = {0, 0, allow_at - now, tat - now}
  else
    local new_tat = tat + interval
    tats[i] = new_tat
    out[i] = {1, math.floor((now - (new_tat - tolerance - interval)) / interval), 0, new_tat - now}
  end
end
if not refused and dry == 0 then
  for i = 1, n do
    redis.call('SET', KEYS[i], string.format('%d', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1)
  end
elseif refused then
  for i = 1, n do
    if out[i][1] == 1 then
      -- Not counted after all: what remains is one more than if it had been.
      out[i][2] = out[i][2] + 1
      out[i][4] = out[i][4] - tonumber(ARGV[2 * i + 3])
    end
  end
end
if refused and dry == 0 then
  -- Count each refusal per limit key and minute, for one audit event each (apps.core.limit_refusals);
  -- "once per window" aggregation keys refuse by design and are not counted.
  local minute = math.floor(now / 60000000)
  local counts = 'gw-quota:refused:' .. minute
  local counted = false
  for i = 1, n do
    if out[i][1] == 0 and string.sub(KEYS[i], 1, 14) ~= 'gw-quota:once:' then
      redis.call('HINCRBY', counts, KEYS[i], 1)
      counted = true
    end
  end
  if counted and redis.call('SADD', 'gw-quota:refused:minutes', minute) == 1 then
    redis.call('EXPIRE', counts, 86400)
    new_minute = true
  end
end
if reads > 0 then
  local values = {}
  for j = 1, reads do
    values[j] = redis.call('GET', KEYS[n + guarded + j])
  end
  out[n + 1] = values
end
if new_minute then
  -- The first refusal of a new minute: the caller hands the closed minutes on (REFUSALS_TAKE).
  out[#out + 1] = 'new-minute'
end
return out
"""

# Hands over the refusal counts of every minute before ARGV[1] (0: before the current minute, by
# Redis's clock) and deletes them, atomically: two processes flushing at once never both get a
# minute. Returns {{minute, {key, count, key, count, ...}}, ...}.
REFUSALS_TAKE = """
local upto = tonumber(ARGV[1])
if upto == 0 then
  local t = redis.call('TIME')
  upto = math.floor(tonumber(t[1]) / 60)
end
local out = {}
for _, m in ipairs(redis.call('SMEMBERS', 'gw-quota:refused:minutes')) do
  if tonumber(m) < upto then
    local key = 'gw-quota:refused:' .. m
    out[#out + 1] = {m, redis.call('HGETALL', key)}
    redis.call('DEL', key)
    redis.call('SREM', 'gw-quota:refused:minutes', m)
  end
end
return out
"""
