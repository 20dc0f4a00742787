-- Shared by every script of RedisStore (src/redis.rs).
--
-- An entry is a hash: field v holds the value, field g the group (absent in
-- no group). A group's index is a set of its entries' names, named
-- index_prefix .. group, where index_prefix is the store's prefix and a NUL
-- character (no key contains one, so no entry has an index's name).

-- The group of the entry named `entry`, or false (absent, in no group, or
-- not a hash: not written by this store).
local function group_of(entry)
  if redis.call('TYPE', entry).ok ~= 'hash' then
    return false
  end
  return redis.call('HGET', entry, 'g')
end

-- Drops from the index of `group` the entries that are gone or now in
-- another group, and makes the index expire with its longest-lived entry
-- (never, if one never expires). An index left empty is deleted by Redis.
local function retime(index, group)
  local longest = 0
  for _, entry in ipairs(redis.call('SMEMBERS', index)) do
    local ttl = redis.call('PTTL', entry)
    if ttl == -2 or group_of(entry) ~= group then
      redis.call('SREM', index, entry)
    elseif ttl == -1 then
      longest = -1
    elseif longest ~= -1 and ttl > longest then
      longest = ttl
    end
  end
  if longest == -1 then
    redis.call('PERSIST', index)
  elseif longest > 0 then
    redis.call('PEXPIRE', index, longest)
  end
end

-- Deletes the entry named `entry`, and it from its group's index.
local function remove(entry, index_prefix)
  local group = group_of(entry)
  redis.call('DEL', entry)
  if group then
    local index = index_prefix .. group
    redis.call('SREM', index, entry)
    retime(index, group)
  end
end
