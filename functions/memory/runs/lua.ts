import { RUN_STATUSES, TERMINAL_RUN_STATUSES } from "../../../clients/memory/contract/runs.ts";

/** Redis deletes a finished run (and its blobs) by itself this long after its expiry, should no purge have by then. */
export const RUN_BACKSTOP_MS = 3_600_000;

/** KEYS position of the run's blob hash in CREATE_RUN and UPDATE_RUN: right after the status indexes. */
const BLOBS = RUN_STATUSES.length + 4;

/**
 * Run scripts. KEYS always start with: run hash, all-runs index, expiry index, then one index per status in
 * RUN_STATUSES order (CREATE_RUN and UPDATE_RUN then take the run's blob hash, which follows the run's expiry). The hash holds v (version), s (status), c (createdAt), t (updatedAt), x (expiresAt or ''),
 * st (state JSON), u (last updateId). Index members are `<createdAt, 15 digits>:<id>`.
 */
const COMMON = `
local STATUS = {${RUN_STATUSES.map((status, i) => `${status} = ${i + 4}`).join(", ")}}
local TERMINAL = {${TERMINAL_RUN_STATUSES.map((status) => `${status} = true`).join(", ")}}
local function member(created, id) return string.rep('0', 15 - #created) .. created .. ':' .. id end
local function fields(key) return redis.call('HMGET', key, 'v', 's', 'c', 't', 'x', 'st') end
local function unindex(key, m)
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZREM', KEYS[3], m)
  for _, index in pairs(STATUS) do redis.call('ZREM', KEYS[index], m) end
  redis.call('DEL', key)
end
`;

/**
 * ARGV: id, now, status, state JSON, expiresAt ('' = none), backstop ttl ms.
 * Returns {1, fields} (created) or {0, fields} (exists).
 */
export const CREATE_RUN = `${COMMON}
local key, id, now = KEYS[1], ARGV[1], ARGV[2]
local current = fields(key)
if current[1] then
  local x = tonumber(current[5])
  if x and x <= tonumber(now) then unindex(key, member(current[3], id)) else return {0, current} end
end
redis.call('HSET', key, 'v', 1, 's', ARGV[3], 'c', now, 't', now, 'x', ARGV[5], 'st', ARGV[4], 'u', '')
local m = member(now, id)
redis.call('ZADD', KEYS[2], 0, m)
redis.call('ZADD', KEYS[STATUS[ARGV[3]]], 0, m)
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[5], m)
  redis.call('PEXPIRE', key, ARGV[6])
  redis.call('PEXPIRE', KEYS[${BLOBS}], ARGV[6])
else
  redis.call('PERSIST', KEYS[${BLOBS}])
end
return {1, fields(key)}
`;

/**
 * ARGV: id, now, expected version, status ('' = keep), has state (0|1), state JSON, updateId ('' = none),
 * retention ms, backstop ttl ms. Returns {'ok', fields}, {'missing'} or {'conflict', version}.
 */
export const UPDATE_RUN = `${COMMON}
local key, id, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local current = redis.call('HMGET', key, 'v', 's', 'c', 't', 'x', 'st', 'u')
if not current[1] then return {'missing'} end
local m = member(current[3], id)
local x = tonumber(current[5])
if x and x <= now then
  unindex(key, m)
  redis.call('DEL', KEYS[${BLOBS}])
  return {'missing'}
end
local version = tonumber(current[1])
local expected = tonumber(ARGV[3])
if version ~= expected then
  if ARGV[7] ~= '' and current[7] == ARGV[7] and version == expected + 1 then return {'ok', fields(key)} end
  return {'conflict', version}
end
local status = current[2]
if ARGV[4] ~= '' then status = ARGV[4] end
local state = current[6]
if ARGV[5] == '1' then state = ARGV[6] end
local expires = ''
if TERMINAL[status] then expires = now + tonumber(ARGV[8]) end
redis.call('HSET', key, 'v', version + 1, 's', status, 't', now, 'x', expires, 'st', state, 'u', ARGV[7])
if status ~= current[2] then
  redis.call('ZREM', KEYS[STATUS[current[2]]], m)
  redis.call('ZADD', KEYS[STATUS[status]], 0, m)
end
if expires ~= '' then
  redis.call('ZADD', KEYS[3], expires, m)
  redis.call('PEXPIRE', key, tonumber(ARGV[8]) + tonumber(ARGV[9]))
  redis.call('PEXPIRE', KEYS[${BLOBS}], tonumber(ARGV[8]) + tonumber(ARGV[9]))
else
  redis.call('ZREM', KEYS[3], m)
  redis.call('PERSIST', key)
  redis.call('PERSIST', KEYS[${BLOBS}])
end
return {'ok', fields(key)}
`;

/**
 * Deletes expired runs with their blobs. KEYS: all (again, in the run hash's place), all, expiry, statuses..., then
 * one run hash per member, then one blob hash per member. ARGV: now, members (same order as the run keys). Returns how
 * many were deleted.
 */
export const PURGE_RUNS = `${COMMON}
local now = tonumber(ARGV[1])
local deleted = 0
local members = #ARGV - 1
for i = 2, #ARGV do
  local score = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[i]))
  if score and score <= now then
    unindex(KEYS[${RUN_STATUSES.length + 2} + i], ARGV[i])
    redis.call('DEL', KEYS[${RUN_STATUSES.length + 2} + members + i])
    deleted = deleted + 1
  end
end
return deleted
`;
