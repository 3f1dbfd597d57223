/**
 * Timers. KEYS are always: due (ZSET member -> when next due: the due time, or the end of a claim's lease), entries
 * (HASH member -> timer JSON with its `armId`), counts (HASH instance -> timers armed). All three share the `{tm}`
 * hash tag: one slot, so a poll claims the due timers of every instance in one script.
 */

/**
 * ARGV: member, entry JSON, due time, version ('' = none), instance, max per instance.
 * Returns {1} armed, {0, stored entry} stale (a higher version is stored), {2} capped.
 */
export const ARM_TIMER = `
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then
  if ARGV[4] ~= '' then
    local stored = cjson.decode(existing).version
    if type(stored) == 'number' and tonumber(ARGV[4]) < stored then return {0, existing} end
  end
else
  if tonumber(redis.call('HGET', KEYS[3], ARGV[5]) or '0') >= tonumber(ARGV[6]) then return {2} end
  redis.call('HINCRBY', KEYS[3], ARGV[5], 1)
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return {1}
`;

const REMOVE = `
local function remove(member, instance)
  if redis.call('HDEL', KEYS[2], member) == 0 then return 0 end
  redis.call('ZREM', KEYS[1], member)
  if redis.call('HINCRBY', KEYS[3], instance, -1) <= 0 then redis.call('HDEL', KEYS[3], instance) end
  return 1
end
`;

/** ARGV: member, instance. Returns 1 when a timer was removed. */
export const DISARM_TIMER = `${REMOVE}
return remove(ARGV[1], ARGV[2])
`;

/** ARGV: member, armId, instance. Removes the timer only if it is still the arming that fired. */
export const TIMER_FIRED = `${REMOVE}
local value = redis.call('HGET', KEYS[2], ARGV[1])
if not value or cjson.decode(value).armId ~= ARGV[2] then return 0 end
return remove(ARGV[1], ARGV[3])
`;

/** ARGV: now, lease end, limit. Returns the entries of up to `limit` due timers, each now leased. */
export const CLAIM_DUE_TIMERS = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, member in ipairs(due) do
  local value = redis.call('HGET', KEYS[2], member)
  if value then
    redis.call('ZADD', KEYS[1], ARGV[2], member)
    out[#out + 1] = value
  else
    redis.call('ZREM', KEYS[1], member)
  end
end
return out
`;
