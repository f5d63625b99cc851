-- Agora query URLs are parsed once and kept by the HTTP layer (at most 512, the least recently
-- used dropped first, never one that a request in flight uses). 1,400 queries over 700
-- distinct URLs, 64 in flight, go through the cache and past its limit; every reply must be the
-- one for the URL asked, and URLs dropped earlier must work again when they come back (a parsed
-- URL handed to the wrong request, or freed while in use, shows here or under ASan).
rec.configure{ agora = { rate = 0, retries = 0 }, http = { max_connections = 64 } }
local N = 700
local ok, missing = 0, 0

local function ask(i)
  if i % 7 == 0 then  -- a known recording: the reply must be its own
    local k = (i // 7) % 16
    local res, err = rec.query_agora{ appid = "url-app", resourceid = "res-" .. k,
                                      sid = "sid-" .. k, mode = "mix" }
    assert(res, "query " .. i .. ": " .. tostring(err))
    assert(res.sid == "sid-" .. k and res.resourceId == "res-" .. k,
           "query " .. i .. " got the reply of " .. tostring(res.sid))
    assert(res.serverResponse.fileList[1].fileName:find("sid-" .. k .. "_", 1, true),
           "query " .. i .. ": " .. tostring(res.serverResponse.fileList[1].fileName))
    ok = ok + 1
  else  -- a recording that does not exist: the server's 404 for that very sid
    local res, err = rec.query_agora{ appid = "url-app", resourceid = "res-x",
                                      sid = "gone-" .. i, mode = "mix" }
    assert(res == nil and err.kind == "not_found", "query " .. i .. ": " .. tostring(err and err.kind))
    missing = missing + 1
  end
end

local function pass(from, to)
  local next_i = from - 1
  local workers = {}
  for w = 1, 64 do
    workers[w] = rec.spawn(function()
      while next_i < to do
        next_i = next_i + 1
        ask(next_i)
      end
    end)
  end
  for w = 1, 64 do assert(workers[w]:wait()) end
end

pass(1, N)      -- 700 distinct URLs: the first ones are dropped from the cache
pass(1, N)      -- and come back
assert(ok + missing == 2 * N, "all answered: " .. (ok + missing))
assert(ok == 2 * (N // 7), "known recordings: " .. ok)
print(string.format("provider_url_cache ok: %d replies, %d not found", ok, missing))
