-- KEYS[1]: the entry; KEYS[2]: its group's index (absent: no group).
-- ARGV[1]: the index prefix; ARGV[2]: the value; ARGV[3]: its time to live
-- in milliseconds ('' : none); ARGV[4]: the group (with KEYS[2]).
remove(KEYS[1], ARGV[1])
if KEYS[2] then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'g', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'v', ARGV[2])
end
if ARGV[3] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
if KEYS[2] then
  redis.call('SADD', KEYS[2], KEYS[1])
  retime(KEYS[2], ARGV[4])
end
