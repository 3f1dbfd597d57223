/**
 * KEYS: stream, remembered batch. ARGV: batchKey ('' = none), max length (approximate), then one entry JSON each.
 * Returns the stream ids separated by spaces.
 */
export const APPEND_AUDIT = `
if ARGV[1] ~= '' then
  local previous = redis.call('GET', KEYS[2])
  if previous then return previous end
end
local ids = {}
for i = 3, #ARGV do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[i])
end
local joined = table.concat(ids, ' ')
if ARGV[1] ~= '' then redis.call('SET', KEYS[2], joined, 'PX', 86400000) end
return joined
`;
