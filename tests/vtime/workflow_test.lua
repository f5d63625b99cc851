-- The workflow stories that used to wait real seconds in tests/sh (kill -9 mid-delivery and
-- restart; the webhook down, then back), on a virtual clock: the same claims, in
-- milliseconds, with no timing left to chance. The examples are the scripts under test.
local T = require "rec.test"
local EX = "../../examples/qingcloud_failed_alert.lua"

local function staggered(faults)  -- tests/scenarios/qc_staggered.lua, plus webhook faults
  return {
    qingcloud_tasks = {
      { app_id = "demo-app", channel = "demo-channel", id = 39, timeline = { {0, 1}, {1, 2}, {2, 52} } },
      { app_id = "demo-app", channel = "demo-channel", id = 41, timeline = { {0, 1}, {1, 2}, {7, 30} } },
      { app_id = "demo-app", channel = "demo-channel", id = 42, timeline = { {0, 1}, {1, 2}, {11, 53} } },
      { app_id = "demo-app", channel = "healthy-channel", id = 40, timeline = { {0, 2} } },
    },
    faults = faults,
  }
end

local function by_key(hooks)  -- "task/status" -> { ids = set, n = count }
  local out = {}
  for _, h in ipairs(hooks) do
    local k = h.task_id .. "/" .. h.status
    out[k] = out[k] or { ids = {}, n = 0, nids = 0 }
    if not out[k].ids[h.alert_id] then out[k].nids = out[k].nids + 1 end
    out[k].ids[h.alert_id] = true
    out[k].n = out[k].n + 1
  end
  return out
end

T.case("kill -9 mid-delivery, restart on the same state: none lost, none re-raised", function(t)
  -- every delivery is held 1.5 s, so the kill lands while 39's alert is in flight
  t:scenario(staggered{ { provider = "webhook", kind = "delay", ms = 1500 } })
  local db = t:tmpfile("state.db")
  local args = { "--every", "0.3", "--for", "0" }
  local p = t:start(EX, args, { state = db })
  t:advance(2.5)
  t:eq(#t:logs("ALERT delivered"), 0, "killed before the delivery was acknowledged")
  p:kill()
  t:advance(6)                                   -- down while 41 fails (7 s)
  p = t:start(EX, args, { state = db })
  t:advance(10)                                  -- 42 fails at 11 s, after the restart
  local got = by_key(t:webhooks())
  t:eq(got["39/52"] and got["39/52"].n, 2, "39 sent, killed before the reply, resent (at least once)")
  t:eq(got["41/30"] and got["41/30"].n, 1)
  t:eq(got["42/53"] and got["42/53"].n, 1)
  local keys = 0
  for k, v in pairs(got) do
    keys = keys + 1
    t:eq(v.nids, 1, k .. " keeps one alert id")
  end
  t:eq(keys, 3, "no other alert")
  for _, h in ipairs(t:webhooks()) do
    if h.task_id == 41 then t:ok(h.text:find("was Recording", 1, true), "41's old status came from the state file") end
  end
  t:eq(#t:logs("ALERT delivered"), 3)
end)

T.case("the webhook is down, then back: every alert arrives once, after retries with backoff", function(t)
  -- the first four deliveries fail with a 500
  t:scenario(staggered{ { provider = "webhook", kind = "500_html", nth = { 1, 2, 3, 4 } } })
  local p = t:start(EX, { "--every", "0.3", "--for", "30", "--retry-base", "0.5" })
  t:advance(40)
  t:eq(p:exited(), 0)
  t:ok(#t:logs("delivery of .* failed") >= 4, "failed attempts are logged")
  local ok = {}
  for _, r in ipairs(t:requests()) do
    if r.provider == "webhook" then ok[#ok + 1] = r.status end
  end
  t:eq(ok, { 500, 500, 500, 500, 200, 200, 200 }, "four failures, then one delivery per alert")
  local got = by_key(t:webhooks())
  t:eq(got["39/52"].n + got["41/30"].n + got["42/53"].n, 3)
  t:eq(#t:logs("ALERT delivered"), 3)
end)
