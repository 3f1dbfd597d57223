/**
 * Identity links and pairing. A person's id is always the identity string of one of its members, so an unlinked
 * identity is its own person without a record (embedded.ts beside this file spells out the rules).
 */

/** KEYS: idmap, persons. ARGV: identities. Returns {person, members JSON}. */
export const LINK = `
local target = nil
for i = 1, #ARGV do
  local p = redis.call('HGET', KEYS[1], ARGV[i])
  if p then target = p break end
end
if not target then target = ARGV[1] end
local raw = redis.call('HGET', KEYS[2], target)
local members = {}
if raw then members = cjson.decode(raw) end
local has = {}
for _, m in ipairs(members) do has[m] = true end
for i = 1, #ARGV do
  local id = ARGV[i]
  local p = redis.call('HGET', KEYS[1], id)
  if p ~= target then
    if p then
      local other = redis.call('HGET', KEYS[2], p)
      if other then
        for _, m in ipairs(cjson.decode(other)) do
          redis.call('HSET', KEYS[1], m, target)
          if not has[m] then has[m] = true members[#members + 1] = m end
        end
      end
      redis.call('HDEL', KEYS[2], p)
    else
      redis.call('HSET', KEYS[1], id, target)
      if not has[id] then has[id] = true members[#members + 1] = id end
    end
  end
end
local encoded = cjson.encode(members)
redis.call('HSET', KEYS[2], target, encoded)
return {target, encoded}
`;

/** KEYS: idmap, persons. ARGV: identity. Returns {} (unlinked) or {person, members JSON}. */
export const PERSON = `
local p = redis.call('HGET', KEYS[1], ARGV[1])
if not p then return {} end
return {p, redis.call('HGET', KEYS[2], p) or '[]'}
`;

/** KEYS: idmap, persons. ARGV: identity. */
export const UNLINK = `
local id = ARGV[1]
local p = redis.call('HGET', KEYS[1], id)
if not p then return 0 end
local rest = {}
local raw = redis.call('HGET', KEYS[2], p)
if raw then
  for _, m in ipairs(cjson.decode(raw)) do
    if m ~= id then rest[#rest + 1] = m end
  end
end
redis.call('HDEL', KEYS[1], id)
redis.call('HDEL', KEYS[2], p)
if #rest == 1 then
  redis.call('HDEL', KEYS[1], rest[1])
elseif #rest > 1 then
  local nextPerson = p
  if p == id then nextPerson = rest[1] end
  for _, m in ipairs(rest) do redis.call('HSET', KEYS[1], m, nextPerson) end
  redis.call('HSET', KEYS[2], nextPerson, cjson.encode(rest))
end
return 1
`;

/** Drops expired pairing records (KEYS[1] by code, KEYS[2] code by identity); returns how many are pending. */
const PURGE = `
local function purge(now)
  local all = redis.call('HGETALL', KEYS[1])
  local pending = 0
  for i = 1, #all, 2 do
    local record = cjson.decode(all[i + 1])
    if record.expiresAt <= now then
      redis.call('HDEL', KEYS[1], all[i])
      local identity = record.channel .. ':' .. record.sender
      if redis.call('HGET', KEYS[2], identity) == all[i] then redis.call('HDEL', KEYS[2], identity) end
    elseif record.status == 'pending' then
      pending = pending + 1
    end
  end
  return pending
end
`;

/**
 * KEYS: pairing, pairing by sender, approved. ARGV: now, identity, code, record JSON, max pending.
 * Returns {'approved'}, {'pending', record JSON, created 0|1}, {'full'} or {'collision'}.
 */
export const REQUEST_PAIRING = `${PURGE}
local pending = purge(tonumber(ARGV[1]))
if redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 1 then return {'approved'} end
local code = redis.call('HGET', KEYS[2], ARGV[2])
if code then
  local record = redis.call('HGET', KEYS[1], code)
  if record then return {'pending', record, 0} end
end
if pending >= tonumber(ARGV[5]) then return {'full'} end
if redis.call('HEXISTS', KEYS[1], ARGV[3]) == 1 then return {'collision'} end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return {'pending', ARGV[4], 1}
`;

/** KEYS: pairing, pairing by sender. ARGV: now. Returns every live record (JSON). */
export const LIST_PAIRING = `${PURGE}
purge(tonumber(ARGV[1]))
return redis.call('HVALS', KEYS[1])
`;

/**
 * KEYS: pairing, pairing by sender, approved. ARGV: now, code, decision, decidedBy.
 * Returns {'missing'}, {'ok', record JSON} or {'conflict', record JSON}.
 */
export const DECIDE_PAIRING = `${PURGE}
local now = tonumber(ARGV[1])
purge(now)
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then return {'missing'} end
local record = cjson.decode(raw)
if record.status ~= 'pending' then
  if record.status == ARGV[3] then return {'ok', raw} end
  return {'conflict', raw}
end
record.status = ARGV[3]
record.decidedBy = ARGV[4]
record.decidedAt = now
local encoded = cjson.encode(record)
redis.call('HSET', KEYS[1], ARGV[2], encoded)
local identity = record.channel .. ':' .. record.sender
redis.call('HDEL', KEYS[2], identity)
if ARGV[3] == 'approved' then redis.call('SADD', KEYS[3], identity) end
return {'ok', encoded}
`;
