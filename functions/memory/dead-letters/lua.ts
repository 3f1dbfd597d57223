/**
 * Dead-letter scripts. KEYS always start with: entry hash, index (lex ZSET of `<receivedAt, 15 digits>:<id>`), expiry
 * ZSET (member -> expiresAt), filter hash (id -> `[instance, type, destination]` JSON). The entry hash holds
 * a (attributes JSON), d (data base64, absent when the event has none), b (data length or ''), er (error JSON),
 * r (receivedAt), l (lastReceivedAt), n (arrivals), p (replayedAt or ''), c (replays), x (expiresAt), m (its index
 * member), u (requestId of the last store), ru (requestId of the last recorded replay).
 */
const COMMON = `
local function summary(key) return redis.call('HMGET', key, 'a', 'b', 'er', 'r', 'l', 'n', 'p', 'c', 'x') end
local function unindex(key, m, id)
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZREM', KEYS[3], m)
  redis.call('HDEL', KEYS[4], id)
  redis.call('DEL', key)
end
`;

/**
 * ARGV: id, now, attributes JSON, has data (0|1), data base64, data length ('' = none), error JSON, filter JSON,
 * max age ms, backstop ms, requestId ('' = none).
 * Returns {1, summary, entries in the queue} (created) or {0, summary, entries} (existed: one more arrival).
 */
export const STORE_DEAD_LETTER = `${COMMON}
local key, id, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local expires = now + tonumber(ARGV[9])
local ttl = tonumber(ARGV[9]) + tonumber(ARGV[10])
local current = redis.call('HMGET', key, 'x', 'm', 'u')
if current[1] then
  if tonumber(current[1]) <= now then
    unindex(key, current[2], id)
  else
    if ARGV[11] == '' or current[3] ~= ARGV[11] then
      redis.call('HINCRBY', key, 'n', 1)
      redis.call('HSET', key, 'l', now, 'er', ARGV[7], 'x', expires, 'u', ARGV[11])
      redis.call('ZADD', KEYS[3], expires, current[2])
      redis.call('PEXPIRE', key, ttl)
    end
    return {0, summary(key), redis.call('ZCARD', KEYS[2])}
  end
end
local m = string.rep('0', 15 - #ARGV[2]) .. ARGV[2] .. ':' .. id
redis.call('HSET', key, 'a', ARGV[3], 'b', ARGV[6], 'er', ARGV[7], 'r', now, 'l', now, 'n', 1, 'p', '', 'c', 0,
  'x', expires, 'm', m, 'u', ARGV[11], 'ru', '')
if ARGV[4] == '1' then redis.call('HSET', key, 'd', ARGV[5]) end
redis.call('PEXPIRE', key, ttl)
redis.call('ZADD', KEYS[2], 0, m)
redis.call('ZADD', KEYS[3], expires, m)
redis.call('HSET', KEYS[4], id, ARGV[8])
return {1, summary(key), redis.call('ZCARD', KEYS[2])}
`;

/** KEYS: entry. ARGV: now, requestId. Returns the summary, or nil when there is no live entry. */
export const RECORD_REPLAY = `${COMMON}
local key, now = KEYS[1], tonumber(ARGV[1])
local current = redis.call('HMGET', key, 'x', 'ru')
if not current[1] or tonumber(current[1]) <= now then return false end
if ARGV[2] == '' or current[2] ~= ARGV[2] then
  redis.call('HINCRBY', key, 'c', 1)
  redis.call('HSET', key, 'p', now, 'ru', ARGV[2])
end
return summary(key)
`;

/** ARGV: id, now. Returns 1 when a live entry was deleted, 0 when there was none (or only an expired one). */
export const DELETE_DEAD_LETTER = `${COMMON}
local key, id, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local current = redis.call('HMGET', key, 'x', 'm')
if not current[1] then return 0 end
unindex(key, current[2], id)
if tonumber(current[1]) <= now then return 0 end
return 1
`;

/**
 * Drops entries the caller read as candidates, re-checking each: in mode `expired` those whose expiry passed, in
 * mode `over` the oldest while the queue holds more than the cap. KEYS: index (again, in the entry's place), index,
 * expiry, filters, then one entry hash per member. ARGV: mode, now or cap, then the members (oldest first).
 */
export const DROP_DEAD_LETTERS = `${COMMON}
local mode, bound = ARGV[1], tonumber(ARGV[2])
local dropped = 0
for i = 3, #ARGV do
  local m = ARGV[i]
  local drop
  if mode == 'expired' then
    local at = tonumber(redis.call('ZSCORE', KEYS[3], m))
    drop = at ~= nil and at <= bound
  else
    if redis.call('ZCARD', KEYS[2]) <= bound then break end
    drop = redis.call('ZSCORE', KEYS[2], m) ~= false
  end
  if drop then
    unindex(KEYS[i + 2], m, string.sub(m, 17))
    dropped = dropped + 1
  end
end
return dropped
`;
