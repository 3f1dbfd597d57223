/** Dedup claims, budgets and locks. */

/** KEYS: entry. ARGV: stored entry, ttl ms. Returns {1} (stored) or {0, existing entry}. */
export const CLAIM = `
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1}
`;

/** KEYS: entry. Returns {entry, pttl} or {}. */
export const GET_VALUE = `
local value = redis.call('GET', KEYS[1])
if not value then return {} end
return {value, redis.call('PTTL', KEYS[1])}
`;

/**
 * All-or-nothing consumption. KEYS: window log, window sum, total, remembered decision. ARGV: now, amount, limit,
 * windowMs (0: a total), ttlMs (0: none), requestId ('' = none), nonce, keep decision ms.
 * The window log holds `<nonce>:<amount>` scored by time; the window is (now - windowMs, now].
 * Returns "allowed|used|resetAt" (resetAt -1: none).
 */
export const CONSUME_BUDGET = `
local now = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local windowMs = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
if ARGV[6] ~= '' then
  local previous = redis.call('GET', KEYS[4])
  if previous then return previous end
end
local allowed, used, resetAt
if windowMs > 0 then
  local cutoff = now - windowMs
  local sum = tonumber(redis.call('GET', KEYS[2]) or '0')
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)
  if #expired > 0 then
    for _, m in ipairs(expired) do sum = sum - tonumber(string.match(m, ':(%d+)$')) end
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
  end
  allowed = sum + amount <= limit
  if allowed and amount > 0 then
    redis.call('ZADD', KEYS[1], now, ARGV[7] .. ':' .. ARGV[2])
    sum = sum + amount
  end
  used = sum
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if first[2] then
    resetAt = tonumber(first[2]) + windowMs
    redis.call('SET', KEYS[2], string.format('%d', sum), 'PX', windowMs)
    redis.call('PEXPIRE', KEYS[1], windowMs)
  else
    resetAt = -1
    redis.call('DEL', KEYS[1], KEYS[2])
  end
else
  local current = tonumber(redis.call('GET', KEYS[3]) or '0')
  allowed = current + amount <= limit
  used = current
  if allowed and amount > 0 then
    local existed = redis.call('EXISTS', KEYS[3]) == 1
    used = redis.call('INCRBY', KEYS[3], ARGV[2])
    if not existed and ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
  end
  local pttl = redis.call('PTTL', KEYS[3])
  resetAt = -1
  if pttl > 0 then resetAt = now + pttl end
end
local decision = string.format('%d|%d|%d', allowed and 1 or 0, used, resetAt)
if ARGV[6] ~= '' then redis.call('SET', KEYS[4], decision, 'PX', ARGV[8]) end
return decision
`;

/**
 * KEYS: lock, fence. ARGV: owner, ttl ms. The holder asking again keeps its token and extends the lease.
 * Returns {1, token, ttl} or {0, 0, remaining ttl}.
 */
export const ACQUIRE_LOCK = `
local current = redis.call('HMGET', KEYS[1], 't', 'o')
if current[1] then
  if current[2] == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, tonumber(current[1]), tonumber(ARGV[2])}
  end
  return {0, 0, redis.call('PTTL', KEYS[1])}
end
local token = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 't', token, 'o', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, token, tonumber(ARGV[2])}
`;

/** KEYS: lock. ARGV: owner, token, ttl ms. Returns 1 when renewed. */
export const RENEW_LOCK = `
local current = redis.call('HMGET', KEYS[1], 't', 'o')
if current[1] ~= ARGV[2] or current[2] ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/** KEYS: lock. ARGV: owner, token. Returns 1 when released. */
export const RELEASE_LOCK = `
local current = redis.call('HMGET', KEYS[1], 't', 'o')
if current[1] ~= ARGV[2] or current[2] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

/** KEYS: lock. Returns {} or {owner, token, pttl}. */
export const GET_LOCK = `
local current = redis.call('HMGET', KEYS[1], 't', 'o')
if not current[1] then return {} end
return {current[2], tonumber(current[1]), redis.call('PTTL', KEYS[1])}
`;
