-- KEYS[1]: the entry. ARGV[1]: the index prefix.
remove(KEYS[1], ARGV[1])
