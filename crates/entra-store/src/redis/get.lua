-- KEYS[1]: the entry. Returns its value, or nil (absent, expired, or not
-- written by this store).
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then
  return false
end
return redis.call('HGET', KEYS[1], 'v')
