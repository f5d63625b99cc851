-- Proves what agora_ended_summary.lua's header claims, on a virtual clock:
-- recwatch test examples/agora_ended_summary_test.lua
local T = require "rec.test"

local function by_event(hooks)
  local out = {}
  for _, h in ipairs(hooks) do out[#out + 1] = h.sid .. ":" .. h.event end
  table.sort(out)
  return out
end

T.case("an abnormal exit alerts at once, and each ended recording gets one summary", function(t)
  local p = t:start("agora_ended_summary.lua", {})
  t:advance(150)
  t:eq(p:exited(), 0, "the script ends once every recording has ended")
  local hooks = t:webhooks()
  t:eq(by_event(hooks), { "sid-abnormal:ended", "sid-abnormal:failed", "sid-vanish:ended" })
  for _, h in ipairs(hooks) do
    if h.event == "failed" then
      t:eq(h.status, 20)
      t:ok(h.text:find("exited abnormally (status 20", 1, true), h.text)
    elseif h.sid == "sid-abnormal" then
      t:ok(h.text:find("last status 20 exited_abnormally; 1 file(s): sid-abnormal_demo-channel.m3u8", 1, true), h.text)
    end
  end
end)

T.case("a 404 is an end only once it has lasted Agora's failover window (90 s)", function(t)
  t:start("agora_ended_summary.lua", { "--recordings", "sim-resource-vanish:sid-vanish:individual" })
  t:advance(95)
  t:eq(#t:webhooks(), 0, "404 since t=8 s: still inside the window at t=95 s")
  t:advance(60)
  local hooks = t:webhooks()
  t:eq(#hooks, 1, "one summary")
  t:eq(hooks[1].event, "ended")
  -- the worker vanishes at 8 s; re-queried every 10 s until 90 s after the first 404
  local first, n404 = nil, 0
  for _, r in ipairs(t:requests()) do
    if r.provider == "agora" and r.status == 404 then
      first = first or r.t
      n404 = n404 + 1
    end
  end
  t:eq(n404, 10, "the first 404 and nine re-queries")
  t:ok(first >= 8 and first < 10, "first 404 at " .. tostring(first))
end)

T.case("a live recording that answers 404 for 45 s (a failover) is not ended", function(t)
  -- issue 20's repro: 404 from t=8 s to t=53 s while the recording goes on
  t:scenario{
    agora_recordings = { { appid = "sim-agora-app", resourceid = "r-ha", sid = "sid-ha", status = 5 } },
    faults = { { provider = "agora", kind = "agora_404", match = "/sid/sid-ha/", after = 8, seconds = 45 } },
  }
  local p = t:start("agora_ended_summary.lua", { "--recordings", "r-ha:sid-ha:mix", "--every", "5",
                                                 "--first-after", "5", "--for", "400" })
  t:advance(300)
  t:eq(#t:webhooks(), 0, "no summary: the recording lives on")
  t:eq(#t:logs("kind=agora_404_cleared"), 1, "the 200 after the 404s is logged")
  t:eq(p:exited(), nil, "still watching")
end)

T.case("after a restart the summary still has the last status the state file knows", function(t)
  local db = t:tmpfile()
  local args = { "--recordings", "sim-resource-vanish:sid-vanish:individual" }
  local p = t:start("agora_ended_summary.lua", args, { state = db })
  t:advance(5)     -- seen recording (5)
  p:kill()
  t:eq(#t:webhooks(), 0)
  t:advance(5)     -- down while the worker disappears (t=8 s): the new process sees only 404s
  p = t:start("agora_ended_summary.lua", args, { state = db })
  t:advance(150)   -- gone since t=8 s: ended after the window
  local hooks = t:webhooks()
  t:eq(#hooks, 1, "one summary")
  t:ok(hooks[1].text:find("last status 5 in_progress", 1, true), hooks[1].text)
  t:eq(hooks[1].status, 5)
end)

T.case("a healthy recording raises nothing and the script gives up after --for", function(t)
  local p = t:start("agora_ended_summary.lua", { "--recordings", "sim-resource-healthy:sid-healthy:mix", "--for", "600" })
  t:advance(599)
  t:eq(p:exited(), nil, "still watching")
  t:advance(20)
  t:eq(p:exited(), 0)
  t:eq(#t:webhooks(), 0)
end)
