-- wrk script of `cargo xtask bench api`: POSTs one JSON body, given as the
-- script's argument, to demo-api's `/heroes` (the bearer token comes with
-- wrk's `-H`), and counts every answer that is not a 201 carrying the new
-- hero's id (a run where errors are fast is invalid).
--
--   wrk -t1 -c32 -d10s --latency -s bench/hero-post.lua \
--     -H 'Authorization: Bearer ...' URL/heroes -- '{"name":"...","secret_name":"..."}'
--
-- Prints `bad responses: N` when done.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  wrk.method = "POST"
  wrk.body = args[1]
  wrk.headers["Content-Type"] = "application/json"
end

function response(status, headers, body)
  if status ~= 201 or not string.find(body, '"id":', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
  end
  io.write(string.format("bad responses: %d\n", total))
end
