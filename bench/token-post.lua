-- wrk script of `cargo xtask bench emulator`: POSTs one form body, given as
-- the script's argument, to a token endpoint, and counts every answer that is
-- not a 200 carrying an access token (a run where errors are fast is invalid).
--
--   wrk -t1 -c32 -d10s --latency -s bench/token-post.lua URL -- 'grant_type=client_credentials&...'
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
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"access_token":"', 1, true) then
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
