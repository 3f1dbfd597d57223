/**
 * Blob scripts. KEYS: the run's blob hash (sha256 -> content), the run hash (runs/lua.ts). The blob hash follows the
 * run hash's lifetime: no expiry while the run is active, the run's expiry once it finished, and the run retention
 * while no run exists yet; runs/lua.ts keeps it in step when the run is created, updated and purged.
 */

/** ARGV: sha256, content, now, retention ms, backstop ms (what Redis adds to a finished run's expiry). */
export const PUT_BLOB = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local run = redis.call('HMGET', KEYS[2], 'v', 'x')
if not run[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
elseif run[2] == '' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(run[2]) - tonumber(ARGV[3]) + tonumber(ARGV[5])))
end
return 1
`;

/** ARGV: sha256, now. The content, or nil when the run finished and is past its expiry. */
export const GET_BLOB = `
local run = redis.call('HMGET', KEYS[2], 'v', 'x')
if run[1] and run[2] ~= '' and tonumber(run[2]) <= tonumber(ARGV[2]) then return false end
return redis.call('HGET', KEYS[1], ARGV[1])
`;
