/**
 * Note scripts. The caller reads a note's meta and terms first and passes every posting key the write touches, so
 * each script declares all of its keys (Redis Cluster's rule); a note changed in between is detected by its version
 * in the meta string `<version>|<length>|<member>|<owner>` and the caller retries.
 */

/**
 * KEYS: notes, meta, terms, owner index, stats, postings... ARGV: id, note JSON, meta, terms, member, max per owner,
 * length, then one term frequency per posting key. Returns {1}, {0, stored JSON} (id exists) or {-1} (cap).
 */
export const ADD_NOTE = `
local id = ARGV[1]
local existing = redis.call('HGET', KEYS[1], id)
if existing then return {0, existing} end
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[6]) then return {-1} end
redis.call('HSET', KEYS[1], id, ARGV[2])
redis.call('HSET', KEYS[2], id, ARGV[3])
redis.call('HSET', KEYS[3], id, ARGV[4])
redis.call('ZADD', KEYS[4], 0, ARGV[5])
for i = 6, #KEYS do redis.call('ZADD', KEYS[i], ARGV[2 + i], id) end
redis.call('HINCRBY', KEYS[5], 'docs', 1)
redis.call('HINCRBY', KEYS[5], 'len', ARGV[7])
return {1}
`;

/**
 * KEYS: notes, meta, terms, stats, postings (old and new terms)... ARGV: id, version read, note JSON, meta, terms,
 * length delta, then one new frequency per posting key (0: the term is gone). Returns {1}, {0} (raced) or {-1}.
 */
export const UPDATE_NOTE = `
local id = ARGV[1]
local meta = redis.call('HGET', KEYS[2], id)
if not meta then return {-1} end
if tonumber(string.match(meta, '^(%d+)|')) ~= tonumber(ARGV[2]) then return {0} end
redis.call('HSET', KEYS[1], id, ARGV[3])
redis.call('HSET', KEYS[2], id, ARGV[4])
redis.call('HSET', KEYS[3], id, ARGV[5])
for i = 5, #KEYS do
  local tf = tonumber(ARGV[2 + i])
  if tf > 0 then redis.call('ZADD', KEYS[i], tf, id) else redis.call('ZREM', KEYS[i], id) end
end
redis.call('HINCRBY', KEYS[4], 'len', ARGV[6])
return {1}
`;

/**
 * KEYS: notes, meta, terms, stats, owner index, postings... ARGV: id, version read, member, length.
 * Returns {1}, {0} (raced) or {-1} (gone).
 */
export const DELETE_NOTE = `
local id = ARGV[1]
local meta = redis.call('HGET', KEYS[2], id)
if not meta then return {-1} end
if tonumber(string.match(meta, '^(%d+)|')) ~= tonumber(ARGV[2]) then return {0} end
redis.call('HDEL', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
redis.call('HDEL', KEYS[3], id)
redis.call('ZREM', KEYS[5], ARGV[3])
for i = 6, #KEYS do redis.call('ZREM', KEYS[i], id) end
redis.call('HINCRBY', KEYS[4], 'docs', -1)
redis.call('HINCRBY', KEYS[4], 'len', -tonumber(ARGV[4]))
return {1}
`;
