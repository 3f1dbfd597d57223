/**
 * Session scripts. Keys: meta hash (gen, at, seq, head, sum, st), message list of `<tokens>|<json>` records, id -> seq
 * hash, and the instance's session activity index. Sequence numbers increase by one per stored message, so the list
 * index of a message is its seq minus `head`; ids of trimmed or compacted messages stay in the id hash until the next
 * reset, which keeps appends idempotent across compaction.
 */

/**
 * The newest records within `last` and `maxTokens` (< 0: no budget); the summary's tokens are counted first.
 * Answers whether the summary is included, how many messages, and their JSON joined by commas: one string travels
 * back instead of one per message, which the service decodes far faster.
 */
const WINDOW = `
local function joined(records)
  local parts = {}
  for i = 1, #records do
    local r = records[i]
    parts[i] = string.sub(r, string.find(r, '|', 1, true) + 1)
  end
  return table.concat(parts, ',')
end
local function window(list, total, last, maxTokens, hasSummary, summaryTokens)
  local count = math.min(last, total)
  local include = hasSummary
  if maxTokens < 0 then
    if count == 0 then return include, 0, '' end
    return include, count, joined(redis.call('LRANGE', list, -count, -1))
  end
  local budget = maxTokens
  if hasSummary then
    if summaryTokens <= budget then budget = budget - summaryTokens else include = false end
  end
  local newest = {}
  local fitting = 0
  local chunk = 32
  local full = false
  while fitting < count and not full do
    local size = math.min(chunk, count - fitting)
    local batch = redis.call('LRANGE', list, -(fitting + size), -(fitting + 1))
    for j = #batch, 1, -1 do
      local tokens = tonumber(string.match(batch[j], '^(%d+)|'))
      if tokens > budget then full = true break end
      budget = budget - tokens
      fitting = fitting + 1
      newest[fitting] = batch[j]
    end
    chunk = math.min(chunk * 2, 1024)
  end
  local items = {}
  for j = fitting, 1, -1 do items[#items + 1] = newest[j] end
  return include, fitting, joined(items)
end
`;

/**
 * The oldest records (the next a compaction folds into the summary) within \`last\` and \`maxTokens\` (< 0: no budget).
 * The summary is not counted (the reader continues it), and the oldest record is answered even when it alone is over
 * the budget, so a reader paging from the oldest end always gets on.
 */
const OLDEST = `
local function oldest(list, total, last, maxTokens)
  local count = math.min(last, total)
  if count == 0 then return 0, '' end
  if maxTokens < 0 then return count, joined(redis.call('LRANGE', list, 0, count - 1)) end
  local budget = maxTokens
  local items = {}
  local chunk = 32
  local full = false
  while #items < count and not full do
    local start = #items
    local batch = redis.call('LRANGE', list, start, start + math.min(chunk, count - start) - 1)
    for j = 1, #batch do
      local tokens = tonumber(string.match(batch[j], '^(%d+)|'))
      if tokens > budget and #items > 0 then full = true break end
      budget = budget - tokens
      items[#items + 1] = batch[j]
    end
    chunk = math.min(chunk * 2, 1024)
  end
  return #items, joined(items)
end
`;

/**
 * KEYS: meta, list, ids, sessions. ARGV: session key, now, resetBefore, want window (0|1), last, maxTokens (-1: none),
 * n, then n pairs (id, record).
 * Returns {gen, reset, appended, total, duplicates, [hasSummary, summaryJson, count, messages]}.
 */
export const APPEND = `${WINDOW}
local meta, list, ids = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[2])
local m = redis.call('HMGET', meta, 'gen', 'at', 'seq', 'head')
local gen = tonumber(m[1]) or 0
local at = tonumber(m[2])
local seq = tonumber(m[3]) or 0
local head = tonumber(m[4]) or 1
local reset = 0
if at and at < tonumber(ARGV[3]) then
  gen = gen + 1
  head = seq + 1
  reset = 1
  redis.call('DEL', list, ids)
  redis.call('HDEL', meta, 'sum', 'st')
end
local n = tonumber(ARGV[7])
local appended = 0
local duplicates = {}
local records = {}
for k = 0, n - 1 do
  local id = ARGV[8 + 2 * k]
  if redis.call('HSETNX', ids, id, seq + 1) == 1 then
    seq = seq + 1
    appended = appended + 1
    records[#records + 1] = ARGV[9 + 2 * k]
  else
    duplicates[#duplicates + 1] = id
  end
end
if #records > 0 then redis.call('RPUSH', list, unpack(records)) end
redis.call('HSET', meta, 'gen', gen, 'at', now, 'seq', seq, 'head', head)
redis.call('ZADD', KEYS[4], now, ARGV[1])
local total = redis.call('LLEN', list)
if ARGV[4] ~= '1' then return {gen, reset, appended, total, duplicates} end
local s = redis.call('HMGET', meta, 'sum', 'st')
local include, count, messages = window(list, total, tonumber(ARGV[5]), tonumber(ARGV[6]), s[1] ~= false, tonumber(s[2]) or 0)
return {gen, reset, appended, total, duplicates, include and 1 or 0, include and s[1] or '', count, messages}
`;

/**
 * KEYS: meta, list. ARGV: resetBefore, last, maxTokens (-1: none), from the oldest end (0|1).
 * Returns {gen, expired, total, hasSummary, summaryJson, count, messages}.
 */
export const READ = `${WINDOW}${OLDEST}
local m = redis.call('HMGET', KEYS[1], 'gen', 'at', 'sum', 'st')
local gen = tonumber(m[1]) or 0
if not m[2] then return {gen, 0, 0, 0, '', 0, ''} end
if tonumber(m[2]) < tonumber(ARGV[1]) then return {gen, 1, 0, 0, '', 0, ''} end
local total = redis.call('LLEN', KEYS[2])
if ARGV[4] == '1' then
  local count, messages = oldest(KEYS[2], total, tonumber(ARGV[2]), tonumber(ARGV[3]))
  return {gen, 0, total, m[3] and 1 or 0, m[3] or '', count, messages}
end
local include, count, messages = window(KEYS[2], total, tonumber(ARGV[2]), tonumber(ARGV[3]), m[3] ~= false, tonumber(m[4]) or 0)
return {gen, 0, total, include and 1 or 0, include and m[3] or '', count, messages}
`;

/** KEYS: meta, list. ARGV: keepLast, expectedGeneration (-1: any). Returns {0, gen} or {1, gen, removed, total}. */
export const TRIM = `
local gen = tonumber(redis.call('HGET', KEYS[1], 'gen')) or 0
local expected = tonumber(ARGV[2])
if expected >= 0 and expected ~= gen then return {0, gen} end
local total = redis.call('LLEN', KEYS[2])
local removed = math.max(0, total - tonumber(ARGV[1]))
if removed > 0 then
  redis.call('LTRIM', KEYS[2], removed, -1)
  redis.call('HINCRBY', KEYS[1], 'head', removed)
end
return {1, gen, removed, total - removed}
`;

/**
 * KEYS: meta, list, ids. ARGV: throughId, summary JSON, summary tokens, expectedGeneration (-1: any).
 * Returns {0, gen} (generation mismatch), {-1} (unknown id) or {1, gen, removed, total, alreadyCompacted, summary}.
 */
export const COMPACT = `
local m = redis.call('HMGET', KEYS[1], 'gen', 'head')
local gen = tonumber(m[1]) or 0
local head = tonumber(m[2]) or 1
local expected = tonumber(ARGV[4])
if expected >= 0 and expected ~= gen then return {0, gen} end
local seq = tonumber(redis.call('HGET', KEYS[3], ARGV[1]))
if not seq then return {-1} end
if seq < head then
  return {1, gen, 0, redis.call('LLEN', KEYS[2]), 1, redis.call('HGET', KEYS[1], 'sum') or ''}
end
local removed = seq - head + 1
redis.call('LTRIM', KEYS[2], removed, -1)
redis.call('HSET', KEYS[1], 'head', seq + 1, 'sum', ARGV[2], 'st', ARGV[3])
return {1, gen, removed, redis.call('LLEN', KEYS[2]), 0, ARGV[2]}
`;

/** KEYS: meta, list, ids, sessions. ARGV: session key, now, expectedGeneration (-1: any). Returns {ok, gen}. */
export const RESET = `
local m = redis.call('HMGET', KEYS[1], 'gen', 'seq')
local gen = tonumber(m[1]) or 0
local seq = tonumber(m[2]) or 0
local expected = tonumber(ARGV[3])
if expected >= 0 and expected ~= gen then return {0, gen} end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HDEL', KEYS[1], 'sum', 'st')
gen = gen + 1
redis.call('HSET', KEYS[1], 'gen', gen, 'at', ARGV[2], 'seq', seq, 'head', seq + 1)
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
return {1, gen}
`;
