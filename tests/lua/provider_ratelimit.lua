-- Pacing on the virtual clock (tests/CMakeLists.txt runs it with --virtual-time), where a
-- request arrives when it leaves and timers fire on time: the rate recwatch achieves
-- against the sim's strict limit is arithmetic, so it is asserted with tight bounds.
--  1. agora.rate = 20 against a server limited to 20/s: 200 queries from 200 tasks use at
--     least 97% of the limit (98% by design: RL_GUARD) and never more, with no 429.
--  2. agora.rate = 40 against the same server (twice as strict as configured):
--     every query still succeeds with retries = 0 (a 429 is resent inside C, never shown
--     to the script), the pacing widens until it fits, and the 429s stay few.
-- Scenario: tests/scenarios/provider_ratelimit.lua.

local function rate_limited_total()
  local page = rec.metrics.text()
  local n = page:match('recwatch_provider_requests_total{provider="agora",outcome="rate_limited"} (%d+)')
  return tonumber(n) or 0
end

-- n queries from n concurrent tasks; returns the rate (queries per second between the first
-- and the last completion), the failures, and the 429s the server sent meanwhile
local function burst(n)
  local tasks, done, bad = {}, {}, {}
  local before = rate_limited_total()
  for i = 1, n do
    tasks[i] = rec.spawn(function()
      local res, err = rec.query_agora{ appid = "rl-app", resourceid = "rl-rid", sid = "rl-sid" }
      done[#done + 1] = rec.now()
      if not res then bad[#bad + 1] = tostring(err) end
    end)
  end
  for i = 1, n do assert(tasks[i]:wait()) end
  table.sort(done)
  return (n - 1) / (done[n] - done[1]), bad, rate_limited_total() - before
end

rec.configure{ agora = { rate = 20, retries = 0 } }
local r, bad, n429 = burst(200)
print(("limit 20/s, rate 20: %.3f/s (%.1f%% of the limit), %d x 429"):format(r, 5 * r, n429))
assert(#bad == 0, "failed queries: " .. table.concat(bad, "; "))
assert(n429 == 0, n429 .. " x 429 on a strict server at the configured rate")
assert(r >= 0.97 * 20, ("pacing too slow: %.3f/s < 97%% of 20/s"):format(r))
assert(r <= 20, ("pacing faster than the limit: %.3f/s"):format(r))

-- a pause longer than the window: no burst credit is carried over, still no 429
rec.sleep(5)
r, bad, n429 = burst(40)
assert(#bad == 0 and n429 == 0, ("after a pause: %d failed, %d x 429"):format(#bad, n429))
assert(r >= 0.97 * 20 and r <= 20, ("after a pause: %.3f/s"):format(r))

rec.sleep(5)
rec.configure{ agora = { rate = 40 } }
r, bad, n429 = burst(400)
print(("limit 20/s, rate 40: %.3f/s, %d x 429"):format(r, n429))
assert(#bad == 0, "a 429 reached the script: " .. table.concat(bad, "; "))
assert(n429 >= 1 and n429 <= 40, n429 .. " x 429: the pacing did not widen")
assert(r <= 20 and r >= 10, ("a server twice as strict: %.3f/s"):format(r))
print("provider_ratelimit ok")
