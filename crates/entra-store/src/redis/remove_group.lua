-- KEYS[1]: the group's index. ARGV[1]: the group.
-- Deletes the entries the index names that are still in the group, then
-- the index.
for _, entry in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if group_of(entry) == ARGV[1] then
    redis.call('DEL', entry)
  end
end
redis.call('DEL', KEYS[1])
