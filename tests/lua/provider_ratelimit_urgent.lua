-- The pacer's priority lane on the virtual clock (the name makes tests/CMakeLists.txt run it
-- with --virtual-time): 40 routine queries queue 4 s of work at 10/s; an urgent query
-- (rec.query_agora{urgent = true}) and a control call's query (rec.agora.query) asked at
-- 0.5 s each come back within about one interval, ahead of the routine ones queued before
-- them, and the account's limit still holds: no 429 and every query answered.
-- Scenario: tests/scenarios/provider_ratelimit_urgent.lua.
assert(rec.features and rec.features.urgent == true, "rec.features.urgent")

local function rate_limited_total()
  local page = rec.metrics.text()
  local n = page:match('recwatch_provider_requests_total{provider="agora",outcome="rate_limited"} (%d+)')
  return tonumber(n) or 0
end

local Q = { appid = "rl-app", resourceid = "rl-rid", sid = "rl-sid" }
local r, e = rec.query_agora{ appid = "rl-app", resourceid = "rl-rid", sid = "rl-sid", urgent = "yes" }
assert(not r and e.kind == "invalid_argument" and e.message:find("urgent"), "urgent must be a boolean")

rec.configure{ agora = { rate = 10, retries = 0 } }
local before = rate_limited_total()
local tasks, done, bad = {}, 0, {}
for i = 1, 40 do
  tasks[i] = rec.spawn(function()
    local res, err = rec.query_agora(Q)
    done = done + 1
    if not res then bad[#bad + 1] = tostring(err and err.message) end
  end)
end
rec.sleep(0.5)
local function timed(fn)
  local t0, ahead = rec.now(), done
  local res, err = fn()
  assert(res and res.status == 5, "urgent query failed: " .. tostring(err and err.message))
  return rec.now() - t0, done - ahead
end
local dt1, passed1 = timed(function()
  return rec.query_agora{ appid = Q.appid, resourceid = Q.resourceid, sid = Q.sid, urgent = true }
end)
local dt2, passed2 = timed(function()
  return rec.agora.query{ appid = Q.appid, resourceid = Q.resourceid, sid = Q.sid, mode = "mix" }
end)
print(("urgent query %.3f s (%d routine passed meanwhile), rec.agora.query %.3f s (%d)")
  :format(dt1, passed1, dt2, passed2))
assert(dt1 < 0.35 and passed1 <= 3, "the urgent query waited behind the queue")
assert(dt2 < 0.35 and passed2 <= 3, "the control query waited behind the queue")
assert(done < 20, "the routine queue was not behind: " .. done)
for i = 1, 40 do assert(tasks[i]:wait()) end
assert(#bad == 0, "failed queries: " .. table.concat(bad, "; "))
local n429 = rate_limited_total() - before
assert(n429 == 0, n429 .. " x 429: the lane broke the account's limit")
print("ok")
