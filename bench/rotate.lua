-- wrk script of `cargo xtask bench scale`: sends `GET /heroes` with a bearer
-- token taken in turn from a file (one token per line), so that many distinct
-- tokens can be rotated through by one wrk thread.
--
--   wrk -t1 -c32 -d10s --latency -s bench/rotate.lua URL -- tokens.txt [COPIES]
--
-- Every request is built once, in `init`, and `request` only hands out the
-- next one. With COPIES, the file's tokens are repeated until there are
-- COPIES requests: `tokens.txt` holding one token and COPIES = 100000 gives
-- the single-token baseline the same client work as a 100,000-token
-- rotation (100,000 distinct request strings, told apart by `?r=N`, which
-- the server ignores).

local requests = {}
local count = 0
local index = 0

function init(args)
  local tokens = {}
  for line in io.lines(args[1]) do
    if #line > 0 then
      tokens[#tokens + 1] = line
    end
  end
  local copies = tonumber(args[2] or "0") or 0
  count = copies > 0 and copies or #tokens
  for i = 1, count do
    local token = tokens[((i - 1) % #tokens) + 1]
    requests[i] = wrk.format("GET", "/heroes?r=" .. i, { ["Authorization"] = "Bearer " .. token })
  end
end

function request()
  index = index % count + 1
  return requests[index]
end
